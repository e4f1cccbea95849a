"""Commands end to end: refusals are specific and ephemeral, cancel and attachments work."""

from __future__ import annotations

from pathlib import Path

from e2e.discord_emulator import EmulatedInteraction
from e2e.harness import BotWorld, all_text, embed_titles, run_id_of
from fakes.media_server import JFK_FLAC, MediaServer
from fakes.openai_server import ScriptedOpenAI


def _refusal(interaction: EmulatedInteraction) -> str:
    """The ephemeral text the bot answered with (and no run was started)."""
    assert interaction.response_type == 4 and interaction.ephemeral, "expected an ephemeral answer"
    assert interaction.original_message is not None
    return interaction.original_message.content


async def test_bad_and_blocked_urls_get_specific_ephemeral_errors(world: BotWorld) -> None:
    await world.start()
    malformed = _refusal(await world.command("autointel", url="not a url at all", depth="quick"))
    assert "⚠️" in malformed and "url" in malformed.lower()
    scheme = _refusal(await world.command("autointel", url="file:///etc/passwd", depth="quick"))
    assert "file" in scheme
    blocked = _refusal(await world.command("autointel", url="http://169.254.169.254/latest/meta-data"))
    assert "not a public address" in blocked and "169.254.169.254" in blocked
    neither = _refusal(await world.command("autointel", depth="quick"))
    assert "either a url or an attachment" in neither
    listing = await world.command("runs", subcommand="list")
    assert "None yet" in all_text(listing.original_message)  # nothing was submitted


async def test_role_allow_list(world: BotWorld, media: MediaServer) -> None:
    await world.start(DISCORD_ALLOWED_ROLE_IDS=str(world.analyst_role))
    denied = _refusal(await world.command("autointel", user=world.bob, url=media.url("jfk.flac")))
    assert denied.startswith("🚫") and "role" in denied
    for user in (world.alice, world.admin):
        allowed = await world.command("autointel", user=user, url=media.url("jfk.flac"), depth="quick")
        assert allowed.response_type == 5


async def test_rate_limits_say_when_to_try_again(world: BotWorld, media: MediaServer) -> None:
    await world.start(DISCORD_USER_RUNS_PER_HOUR="1")
    first = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    await run_id_of(world, first)  # submitted
    second = _refusal(await world.command("autointel", url=media.url("jfk.flac?again=1"), depth="quick"))
    assert second.startswith("⏳") and "limit 1" in second and "<t:" in second
    other = await world.command("autointel", user=world.bob, url=media.url("jfk.flac?bob=1"), depth="quick")
    assert other.response_type == 5  # the limit is per user


async def test_active_runs_quota(world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI) -> None:
    scripted_llm.delay = 3.0
    await world.start(DISCORD_MAX_ACTIVE_RUNS_PER_GUILD="1")
    await run_id_of(world, await world.command("autointel", url=media.url("jfk.flac"), depth="quick"))
    busy = _refusal(await world.command("autointel", user=world.bob, url=media.url("jfk.flac?b=1")))
    assert "in progress" in busy and "when one finishes" in busy


async def test_cancel_by_requester_not_by_others(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI
) -> None:
    scripted_llm.delay = 5.0
    await world.start()
    interaction = await world.command("autointel", url=media.url("jfk.flac"), depth="quick")
    run_id = await run_id_of(world, interaction)
    refused = await world.command("runs", user=world.bob, subcommand="cancel", run=run_id)
    assert refused.ephemeral and "only the member who started" in _refusal(refused)
    cancelled = await world.command("runs", subcommand="cancel", run=run_id)
    assert cancelled.ephemeral and f"Cancelled run `{run_id}`" in _refusal(cancelled)
    status = interaction.original_message
    assert status is not None
    await world.emulator.wait_for(lambda: embed_titles(status)[0] == "✗ Run cancelled", timeout=10)
    notice = await world.emulator.wait_for_message(
        lambda m: "✗ Run cancelled" in embed_titles(m) and m is not status
    )
    assert run_id in all_text(notice) or run_id in str(notice.embeds)
    assert world.briefings(run_id) == []
    again = await world.command("runs", subcommand="cancel", run=run_id)
    assert "already finished (cancelled)" in _refusal(again)
    unknown = await world.command("runs", subcommand="status", run="ffffffffffff")
    assert "no run with id" in _refusal(unknown)


async def test_attachment_instead_of_url(world: BotWorld, tmp_path: Path) -> None:
    await world.start()
    upload = world.emulator.add_attachment("speech.flac", JFK_FLAC.read_bytes(), content_type="audio/flac")
    interaction = await world.command("autointel", depth="quick", attachments={"attachment": upload})
    run_id = await run_id_of(world, interaction)
    briefing = await world.briefing(run_id)
    assert "Ask not" in all_text(briefing)
    text = world.emulator.add_attachment("notes.txt", b"hello", content_type="text/plain")
    refused = _refusal(await world.command("autointel", attachments={"attachment": text}))
    assert "not an audio or video file" in refused
    both = _refusal(
        await world.command("autointel", url="https://example.com/a.mp3", attachments={"attachment": upload})
    )
    assert "either a url or an attachment" in both


async def test_an_oversized_attachment_is_refused_before_download(world: BotWorld) -> None:
    await world.start(MAX_MEDIA_FILESIZE_MB="0.1")
    upload = world.emulator.add_attachment("speech.flac", JFK_FLAC.read_bytes(), content_type="audio/flac")
    refused = _refusal(await world.command("autointel", attachments={"attachment": upload}))
    assert "speech.flac is 1.15 MB; the limit is 0.105 MB" in refused
    downloads = [r for r in world.emulator.requests if "speech.flac" in r.path]
    assert downloads == []
