"""/watch end to end against the Discord emulator: who may manage watches, ephemeral refusals and
limits, a watched feed's new upload analysed and delivered once through the channel webhook,
and a daily digest posted as a channel message where the bot lacks Manage Webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from e2e.discord_emulator import EmulatedInteraction, RecordedMessage
from e2e.harness import RUN_TIMEOUT, BotWorld, all_text, embed_titles, is_briefing
from fakes.feed_server import FeedServer, serve_feed
from pipelines.brief import VERDICT_MARKS
from pipelines.store import RunStore
from pipelines.tables import WatchRow, utcnow
from pipelines.watch_store import WatchStore
from settings import load_settings

NO_MENTIONS: dict[str, list[str]] = {"parse": []}


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    """The local feed server (episodes are tests/data/claims.ogg)."""
    with serve_feed() as server:
        yield server


def _answer(interaction: EmulatedInteraction) -> str:
    """The ephemeral answer's text (content and embeds); it mentions nobody."""
    assert interaction.response_type == 4 and interaction.ephemeral, "expected an ephemeral answer"
    message = interaction.original_message
    assert message is not None
    assert (message.allowed_mentions or {}).get("parse") == [], message.allowed_mentions
    return all_text(message)


def _in(channel_id: int, world: BotWorld) -> list[RecordedMessage]:
    return [m for m in world.emulator.messages if m.channel_id == channel_id and not m.deleted]


async def test_who_may_manage_watches_and_the_limits(world: BotWorld, feed: FeedServer) -> None:
    await world.start(DISCORD_ALLOWED_ROLE_IDS=str(world.analyst_role), WATCH_MAX_PER_GUILD="1")
    denied = _answer(
        await world.command("watch", user=world.bob, subcommand="add", url=feed.feed_url, depth="quick")
    )
    assert denied.startswith("🚫") and "Manage Server" in denied
    blocked = _answer(
        await world.command("watch", subcommand="add", url="http://169.254.169.254/x", depth="quick")
    )
    assert "not a public address" in blocked
    video = _answer(
        await world.command("watch", subcommand="add", url="https://youtu.be/dQw4w9WgXcQ", depth="quick")
    )
    assert "one video" in video
    added = _answer(await world.command("watch", subcommand="add", url=feed.feed_url, depth="quick"))
    assert added.startswith("👀 Watching") and "(watch `1`)" in added and f"<#{world.channel_id}>" in added
    again = await world.command("watch", user=world.admin, subcommand="add", url=feed.atom_url, depth="deep")
    assert "already has 1 watches (limit 1); remove one first" in _answer(again)
    listing = _answer(await world.command("watch", user=world.bob, subcommand="list"))  # anyone may look
    assert "`1`" in listing and "quick" in listing and "127.0.0.1" in listing
    not_bob = _answer(await world.command("watch", user=world.bob, subcommand="remove", watch=1))
    assert not_bob.startswith("🚫")
    unknown = _answer(await world.command("watch", subcommand="remove", watch=99))
    assert unknown == "⚠️ No watch 99 in this server."
    removed = _answer(await world.command("watch", user=world.admin, subcommand="remove", watch=1))
    assert removed.startswith("Stopped watching") and "(watch `1`)" in removed
    assert "None yet" in _answer(await world.command("watch", subcommand="list"))


async def test_a_new_upload_is_analysed_and_delivered_once(world: BotWorld, feed: FeedServer) -> None:
    target = world.emulator.add_channel(world.guild_id, "briefings")
    feed.add_old(2)
    await world.start(WATCH_INTERVAL_MINUTES="0.02")
    add = await world.command(
        "watch", user=world.admin, subcommand="add", url=feed.feed_url, depth="quick", channel=target
    )
    assert f"<#{target}>" in _answer(add)
    await world.emulator.wait_for(lambda: len(feed.feed_requests()) >= 1)  # the baseline listing
    new = feed.add("A new upload")
    briefing = await world.emulator.wait_for_message(
        lambda m: is_briefing(m) and m.channel_id == target, timeout=RUN_TIMEOUT
    )
    assert briefing.via == "channel_webhook" and "Ask not" in all_text(briefing)
    asked = len(feed.feed_requests())
    await world.emulator.wait_for(lambda: len(feed.feed_requests()) >= asked + 3, timeout=20)
    assert len([m for m in _in(target, world) if is_briefing(m)]) == 1
    titles = [embed_titles(m)[0] for m in _in(target, world) if m.embeds]
    assert not any(t.startswith(("🕒", "⏳", "✓ Analysis")) for t in titles)  # no progress message
    assert all(m.allowed_mentions == NO_MENTIONS or m.allowed_mentions is None for m in _in(target, world))
    assert {path for path, _ in feed.requests if path.startswith("/media/")} == {new.path}
    assert feed.not_modified >= 2  # unchanged polls are conditional requests answered 304


async def _finished_runs(url: str, count: int) -> None:
    async with await RunStore.open(url) as store:
        for _ in range(int(RUN_TIMEOUT / 0.5)):
            runs = await store.list_runs()
            if len([r for r in runs if r.status == "succeeded"]) >= count:
                return
            await asyncio.sleep(0.5)
    raise AssertionError("the watch's run did not finish")


async def test_a_daily_digest_lists_the_briefings_in_one_message(world: BotWorld, feed: FeedServer) -> None:
    target = world.emulator.add_channel(world.guild_id, "digests")
    world.emulator.set_bot_permissions(target, manage_webhooks=False)
    feed.add_old(1)
    await world.start(WATCH_INTERVAL_MINUTES="0.02")
    add = await world.command(
        "watch",
        user=world.admin,
        subcommand="add",
        url=feed.feed_url,
        depth="standard",
        channel=target,
        backfill=1,
        digest="daily",
    )
    assert "a daily digest" in _answer(add)
    url = load_settings().database_url
    await _finished_runs(url, 1)
    assert _in(target, world) == []  # nothing per upload
    async with await RunStore.open(url) as store:  # a day passes
        async with store.engine.begin() as conn:
            await conn.execute(update(WatchRow).values(created_at=utcnow() - timedelta(days=2)))
    digest = await world.emulator.wait_for_message(
        lambda m: m.channel_id == target and "Daily digest" in " ".join(embed_titles(m)), timeout=20
    )
    assert digest.via == "channel"  # no Manage Webhooks: a plain channel message
    text = all_text(digest)
    assert "Old episode 0" in text and "The Eiffel Tower was completed in 1889." in text
    assert any(mark in text for mark in VERDICT_MARKS.values())  # standard depth: claims were checked
    await asyncio.sleep(3)  # more ticks: still one digest
    assert len(_in(target, world)) == 1
    async with await RunStore.open(url) as store:
        [watch] = await WatchStore(store.engine).watches()
    assert watch.digest_through is not None and watch.digest == "daily"
