"""Hostile input through the real bot and the emulator: specific ephemeral refusals, nothing fetched.

Covers URL spellings of private addresses, look-alike host names, non-http schemes, option
values at (and past) their declared length limits, and attachments that are empty or lie
about being media. Transcript text in messages is covered by tests/bot/test_render.py and
the hostile-subtitles run in test_bot_flow.py.
"""

from __future__ import annotations

import pytest

from bot.commands import RECALL_QUERY_MAX, RUN_ID_MAX
from e2e.discord_emulator import EmulatedInteraction
from e2e.harness import BotWorld, all_text, embed_titles, run_id_of
from fakes.media_server import MediaServer
from pipelines.sources import MAX_URL_LENGTH


def _refusal(interaction: EmulatedInteraction) -> str:
    """The ephemeral text the bot answered with (and no run was started)."""
    assert interaction.response_type == 4 and interaction.ephemeral, "expected an ephemeral answer"
    assert interaction.original_message is not None
    return interaction.original_message.content


def _padded(url: str, length: int) -> str:
    """`url` with a query parameter that makes it exactly `length` characters long."""
    head = f"{url}{'&' if '?' in url else '?'}pad="
    return head + "a" * (length - len(head))


async def test_every_spelling_of_a_private_address_is_refused_without_a_connection(
    world: BotWorld, media: MediaServer
) -> None:
    await world.start(ALLOW_PRIVATE_URLS="false")
    port = media.port
    cases = {
        f"http://2130706433:{port}/jfk.flac": "2130706433 (127.0.0.1)",
        f"http://0177.0.0.1:{port}/jfk.flac": "0177.0.0.1 (127.0.0.1)",
        f"http://0x7f.1:{port}/jfk.flac": "0x7f.1 (127.0.0.1)",
        f"http://127.1:{port}/jfk.flac": "127.1 (127.0.0.1)",
        f"http://[::ffff:127.0.0.1]:{port}/jfk.flac": "::ffff:127.0.0.1 (::ffff:7f00:1)",
        f"http://[::1]:{port}/jfk.flac": "::1",
        "http://0xa9fea9fe/latest/meta-data/": "0xa9fea9fe (169.254.169.254)",
    }
    for url, named in cases.items():
        text = _refusal(await world.command("autointel", url=url, depth="quick"))
        assert text.startswith("⚠️") and f"refused to connect to {named}: not a public address" in text.lower()
    assert media.requests == []
    listing = await world.command("runs", subcommand="list")
    assert "None yet" in all_text(listing.original_message)


async def test_look_alike_hosts_and_other_schemes_are_refused(world: BotWorld) -> None:
    await world.start()
    homograph = _refusal(await world.command("autointel", url="https://youtubе.com/watch?v=dQw4w9WgXcQ"))
    assert "look-alike host name" in homograph and "xn--youtub-8of.com" in homograph
    assert "Cyrillic and Latin" in homograph
    whole = _refusal(await world.command("autointel", url="https://аррӏе.com/video.mp4"))
    assert "xn--80ak6aa92e.com" in whole and "imitate Latin" in whole
    for url, scheme in [
        ("javascript:alert(document.cookie)", "javascript"),
        ("data:audio/mpeg;base64,SUQzBAAAAAAA", "data"),
        ("file:///etc/passwd", "file"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "gopher"),
    ]:
        text = _refusal(await world.command("autointel", url=url))
        assert f"Unsupported URL scheme '{scheme}'" in text and "only http and https" in text


async def test_url_option_at_its_length_limit(world: BotWorld, media: MediaServer) -> None:
    await world.start()
    declared = world.emulator.registered_commands(world.guild_id)
    autointel = next(c for c in declared if c["name"] == "autointel")
    url_option = next(o for o in autointel["options"] if o["name"] == "url")
    assert url_option["max_length"] == MAX_URL_LENGTH  # Discord itself refuses anything longer
    with pytest.raises(ValueError, match="length out of range"):
        await world.command("autointel", url=_padded(media.url("jfk.flac"), MAX_URL_LENGTH + 1))

    unresolvable = _refusal(
        await world.command("autointel", url=_padded("https://media.invalid/clip.mp3", 2000))
    )
    assert "Could not resolve host 'media.invalid'" in unresolvable and len(unresolvable) < 300

    huge_host = "https://" + "a" * (MAX_URL_LENGTH - len("https://.com/")) + ".com/"
    invalid = _refusal(await world.command("autointel", url=huge_host))
    assert "Malformed URL: invalid host name 'aaaa" in invalid and len(invalid) <= 200

    longest = _padded(media.url("jfk.flac"), MAX_URL_LENGTH)
    interaction = await world.command("autointel", url=longest, depth="quick")
    assert interaction.response_type == 5  # accepted: deferred, then analysed
    run_id = await run_id_of(world, interaction)
    briefing = await world.briefing(run_id)
    assert "Ask not" in embed_titles(briefing)[0]
    assert briefing.embeds[0].get("url") == longest


async def test_recall_and_run_options_at_their_length_limits(world: BotWorld) -> None:
    await world.start()
    query = ("@everyone **who** said <@&1> [this](https://evil.example) \u202e? " * 20)[:RECALL_QUERY_MAX]
    recall = await world.command("recall", query=query)
    assert recall.ephemeral and recall.original_message is not None
    title = embed_titles(recall.original_message)[0]
    assert title.startswith("🧠 Recall:") and len(title) <= 256
    assert "@everyone" not in title and "\u202e" not in title
    assert "Nothing in this server's memory matches" in all_text(recall.original_message)
    with pytest.raises(ValueError, match="length out of range"):
        await world.command("recall", query=query + "x")

    unknown = _refusal(await world.command("runs", subcommand="status", run="f" * RUN_ID_MAX))
    assert "no run with id" in unknown and len(unknown) < 200
    with pytest.raises(ValueError, match="length out of range"):
        await world.command("runs", subcommand="cancel", run="f" * (RUN_ID_MAX + 1))


async def test_an_empty_attachment_is_refused_before_download(world: BotWorld) -> None:
    await world.start()
    empty = world.emulator.add_attachment("speech.flac", b"", content_type="audio/flac")
    refused = _refusal(await world.command("autointel", attachments={"attachment": empty}))
    assert "speech.flac is empty (0 bytes)" in refused
    assert [r for r in world.emulator.requests if "speech.flac" in r.path] == []


async def test_an_attachment_that_lies_about_being_audio_fails_at_the_probe(world: BotWorld) -> None:
    await world.start()
    fake = world.emulator.add_attachment(
        "song.mp3", b"<html><body>definitely not audio</body></html>\n" * 50, content_type="audio/mpeg"
    )
    interaction = await world.command("autointel", depth="quick", attachments={"attachment": fake})
    assert interaction.response_type == 5  # name and type say audio: only the bytes can tell
    run_id = await run_id_of(world, interaction)
    status = interaction.original_message
    assert status is not None
    await world.emulator.wait_for(lambda: embed_titles(status)[0] == "✗ Analysis failed", timeout=60)
    assert "Not a media file: no audio could be decoded from it." in all_text(status)
    assert world.briefings(run_id) == []
