"""The real bot, end to end: /autointel → progress edits → briefing with the report attached."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from e2e.harness import BotWorld, all_text, embed_titles, footer, run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI


def _counters() -> dict[str, float]:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return {
        "commands": value("autointel_commands_total", command="autointel", outcome="ok"),
        "acks": value("autointel_interaction_ack_seconds_count"),
        "briefings": value("autointel_deliveries_total", kind="briefing", route="interaction"),
        "status_edits": value("autointel_deliveries_total", kind="status", route="interaction"),
    }


async def test_autointel_progress_then_briefing_with_report(world: BotWorld, media: MediaServer) -> None:
    await world.start()
    emu = world.emulator
    commands = {c["name"]: c for c in emu.registered_commands(world.guild_id)}
    assert set(commands) == {"autointel", "runs", "recall", "watch"}
    assert commands["autointel"]["default_member_permissions"] is not None
    depth = next(o for o in commands["autointel"]["options"] if o["name"] == "depth")
    assert [c["value"] for c in depth["choices"]] == ["quick", "standard", "deep", "comprehensive"]

    before = _counters()
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    assert not interaction.deadline_missed and interaction.response_type == 5 and not interaction.ephemeral
    run_id = await run_id_of(world, interaction)
    briefing = await world.briefing(run_id)
    await world.emulator.wait_for(lambda: _counters()["briefings"] > before["briefings"])  # counted on reply
    moved = {key: value - before[key] for key, value in _counters().items()}
    assert (
        moved["commands"] == 1 and moved["acks"] == 1 and moved["briefings"] == len(world.briefings(run_id))
    )
    assert moved["status_edits"] >= 3
    assert briefing.via == "followup" and briefing.interaction_id == interaction.id
    assert "Ask not" in embed_titles(briefing)[0]
    report = [
        a for m in world.briefings(run_id) + emu.messages for a in m.attachments if a.filename.endswith(".md")
    ]
    assert report and report[0].data.decode().startswith("# Ask not")

    status = interaction.original_message
    assert status is not None and len(status.edits) >= 3  # queued, stages, done
    assert embed_titles(status)[0] == "✓ Analysis done"
    assert "✓ acquire" in all_text(status) and "✓ brief" in all_text(status)
    assert any("⏳" in str(e.previous.embeds) for e in status.edits)  # a stage was shown running
    assert len(world.briefings(run_id)) == 1
    for message in emu.messages:
        assert (
            message.allowed_mentions == {"parse": []}
            or message.allowed_mentions is None
            or (message.allowed_mentions.get("parse") == [])
        )

    status_reply = await world.command("runs", subcommand="status", run=run_id[:8])
    assert status_reply.ephemeral and "succeeded" in all_text(status_reply.original_message)
    listing = await world.command("runs", subcommand="list")
    assert listing.ephemeral and run_id[:12] in all_text(listing.original_message)


async def test_a_finished_source_is_answered_from_the_store(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI
) -> None:
    await world.start()
    first = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, first)
    await world.briefing(run_id)
    calls = len(scripted_llm.requests)
    again = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    answer = await world.emulator.wait_for(
        lambda: again.original_message if again.original_message and again.original_message.embeds else None
    )
    assert "Already analysed" in answer.content and run_id in answer.content
    assert embed_titles(answer)[0].startswith("📺") and run_id in footer(answer)
    assert len(scripted_llm.requests) == calls  # nothing recomputed


async def test_another_guild_is_never_answered_with_this_guilds_run(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI
) -> None:
    emu = world.emulator
    other = emu.add_guild("Other server")
    other_channel = emu.default_channel_id(other)
    carol = emu.add_member(other, "carol")
    world.env("DISCORD_GUILD_IDS", f"{world.guild_id},{other}")
    await world.start()
    first = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    ours = await run_id_of(world, first)
    await world.briefing(ours)
    theirs_cmd = await emu.invoke(
        other, other_channel, carol, "autointel", options={"url": media.url("jfk.flac"), "depth": "quick"}
    )
    await theirs_cmd.wait_ack(timeout=10)
    theirs = await run_id_of(world, theirs_cmd)
    assert theirs != ours  # a run of its own, not the store answer of the first guild
    briefing = await world.briefing(theirs)
    assert briefing.channel_id == other_channel and ours not in all_text(briefing)
    assert "Already analysed" not in (
        theirs_cmd.original_message.content if theirs_cmd.original_message else ""
    )
    status = await emu.invoke(
        other, other_channel, carol, "runs", options={"run": ours[:8]}, subcommand="status"
    )
    await status.wait_ack(timeout=10)
    shown = await emu.wait_for(lambda: status.original_message)
    assert ours not in all_text(shown) and "succeeded" not in all_text(shown)


async def test_recall_finds_this_guilds_memory(world: BotWorld, media: MediaServer) -> None:
    await world.start()
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, interaction)
    await world.briefing(run_id)
    recall = await world.command("recall", query="what you can do for your country")
    assert recall.ephemeral
    text = all_text(recall.original_message)
    assert "your country" in text and run_id[:12] in text


def _echo_transcript(body: dict[str, Any]) -> dict[str, Any]:
    """A summary that repeats the transcript's hostile line, as a careless model might."""
    prompt = " ".join(str(m.get("content", "")) for m in body["messages"])
    line = next(part for part in prompt.splitlines() if "@everyone" in part)[:190]
    return {"title": line[:100], "tldr": line, "key_points": [{"timestamp": 1, "point": line}]}


async def test_untrusted_text_cannot_ping_or_format(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI
) -> None:
    scripted_llm.replies["SummaryOutput"] = _echo_transcript
    await world.start()
    interaction = await world.command("autointel", url=media.url("hostile.html"), depth="quick")
    run_id = await run_id_of(world, interaction)
    await world.briefing(run_id)
    posted = [m for m in world.emulator.messages if m.author_id == world.emulator.bot_user_id or m.webhook_id]
    report = next(a for m in posted for a in m.attachments if a.filename.endswith(".md"))
    assert "@everyone" in report.data.decode() and "\u202e" in report.data.decode()  # really carried
    for message in [*posted, interaction.original_message]:
        assert message is not None
        assert not message.mention_everyone and not message.mention_roles
        text = all_text(message)
        assert "@everyone" not in text and "<@&" not in text and "\n# " not in text
        assert "<#" not in text and "\u202e" not in text and "\u200b\n" not in text


async def test_the_report_respects_the_interactions_attachment_limit(
    world: BotWorld, media: MediaServer
) -> None:
    await world.start()
    emu = world.emulator
    interaction = await emu.invoke(
        world.guild_id,
        world.channel_id,
        world.alice,
        "autointel",
        options={"url": media.url("jfk.flac"), "depth": "quick"},
        attachment_size_limit=400,
    )
    await interaction.wait_ack(timeout=10)
    run_id = await run_id_of(world, interaction)
    await world.briefing(run_id)
    files = await emu.wait_for(
        lambda: (
            [a for m in emu.messages for a in m.attachments if a.filename.startswith("autointel-")] or None
        )
    )
    assert len(files) > 1 and all(a.size <= 400 for a in files)  # split into numbered files, none refused
    assert all("-part" in a.filename for a in files)
    assert b"".join(a.data for a in files).decode().startswith("# Ask not")
