"""Two guilds on one bot: guild B never sees a run id, text, memory item, watch or webhook of guild A.

Guild A analyses a recording; guild B then asks for it, looks A's run up (whole id and prefix),
tries to cancel it, lists runs and watches, recalls what A's analysis remembers and removes A's
watch. Every answer must be B's own: A's run id and A's words never appear, A's run and watch
are untouched, B's run reuses only the tenant-free stages and posts only in B's channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from e2e.discord_emulator import RecordedMessage
from e2e.harness import BotWorld, all_text, footer, run_id_of
from fakes.feed_server import FeedServer, serve_feed
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI
from pipelines.store import RunStore
from pipelines.watch_store import WatchStore
from settings import load_settings

TENANT_FREE = {"acquire", "transcribe", "analyze"}
EPHEMERAL = 1 << 6  # the message flag


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    """A local feed for guild A's watch."""
    with serve_feed() as server:
        yield server


async def test_guild_b_never_sees_guild_a(
    world: BotWorld, media: MediaServer, feed: FeedServer, scripted_llm: ScriptedOpenAI
) -> None:
    emu = world.emulator
    other = emu.add_guild("Other server")
    other_channel = emu.default_channel_id(other)
    carol = emu.add_member(other, "carol", admin=True)  # even B's admin sees nothing of A
    world.env("DISCORD_GUILD_IDS", f"{world.guild_id},{other}")
    await world.start()

    first = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    ours = await run_id_of(world, first)
    await world.briefing(ours)
    watch = await world.command("watch", user=world.admin, subcommand="add", url=feed.feed_url, depth="quick")
    await emu.wait_for(lambda: watch.original_message)
    settings = load_settings()
    async with await RunStore.open(settings.database_url) as store:
        (our_watch,) = await WatchStore(store.engine).watches(str(world.guild_id))

    async def ask(name: str, subcommand: str | None = None, **options: Any) -> RecordedMessage:
        interaction = await emu.invoke(
            other, other_channel, carol, name, options=options, subcommand=subcommand
        )
        await interaction.wait_ack(timeout=10)
        return await emu.wait_for(lambda: interaction.original_message)

    answers = [
        await ask("runs", "status", run=ours),
        await ask("runs", "status", run=ours[:8]),
        await ask("runs", "cancel", run=ours),
        await ask("runs", "list"),
        await ask("recall", query="duty of citizens to the nation"),
        await ask("watch", "list"),
        await ask("watch", "remove", watch=our_watch.id),
    ]
    for answer in answers:  # only what B typed comes back: nothing of A's run, words, source or watch
        text = all_text(answer).replace(ours, "<typed>").replace(ours[:8], "<typed>")
        assert ours[:6] not in text and "country" not in text.lower() and "ask not" not in text.lower(), text
        assert "jfk" not in text and "succeeded" not in text and feed.feed_url not in text, text
    assert "no run" in all_text(answers[0]).lower() and "no run" in all_text(answers[2]).lower()

    theirs_cmd = await emu.invoke(
        other, other_channel, carol, "autointel", options={"url": media.url("jfk.flac"), "depth": "quick"}
    )
    await theirs_cmd.wait_ack(timeout=10)
    theirs = await run_id_of(world, theirs_cmd)
    assert theirs != ours
    briefing = await world.briefing(theirs)
    assert ours[:8] not in all_text(briefing)

    async with await RunStore.open(settings.database_url) as store:
        assert (await store.get_run(ours)).status == "succeeded"  # B's cancel did nothing
        stages = {s.stage: s for s in await store.stages(theirs)}
        assert [w.id for w in await WatchStore(store.engine).watches(str(world.guild_id))] == [our_watch.id]
    reused = {name for name, stage in stages.items() if stage.reused_from == ours}
    assert reused == TENANT_FREE  # verify/remember/brief recomputed for B, in B's namespace

    theirs_posted = [m for m in emu.messages if theirs in all_text(m) + footer(m)]
    assert theirs_posted and {m.channel_id for m in theirs_posted} == {other_channel}
    public = [m for m in emu.messages if not m.flags & EPHEMERAL]  # B's own echoes of what it typed aside
    ours_posted = [m for m in public if ours in all_text(m) + footer(m)]
    assert {m.channel_id for m in ours_posted} == {world.channel_id}
    our_hooks = {w.id for w in emu.state.channel_webhooks(world.channel_id)}
    assert not any(m.webhook_id in our_hooks for m in theirs_posted)
