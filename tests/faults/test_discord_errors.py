"""Discord REST answering 500s and 429s (with Retry-After) on followups, channel webhooks, channel
messages and the progress edits: each request is retried as Discord documents (a 429 after the
time it names, a 5xx after a pause) and the briefing is still posted exactly once."""

from __future__ import annotations

import asyncio
import re

import pytest

from e2e.discord_emulator import DiscordEmulator, RecordedRequest
from e2e.harness import BotWorld, embed_titles, run_id_of
from fakes.media_server import MediaServer
from fakes.openai_server import ScriptedOpenAI

pytestmark = pytest.mark.slow

RETRY_AFTER = 0.5
# (route, briefing's `via`, POST pattern, PATCH pattern) below /api/v10
ROUTES = {
    "followup": (r"^/webhooks/\d+/[^/]+$", r"^/webhooks/\d+/[^/]+/messages/@original$"),
    "channel_webhook": (r"^/webhooks/\d+/[^/]+$", r"^/webhooks/\d+/[^/]+/messages/\d+$"),
    "channel": (r"^/channels/\d+/messages$", r"^/channels/\d+/messages/\d+$"),
}


@pytest.mark.parametrize("via", list(ROUTES))
async def test_500s_and_429s_are_retried_and_the_briefing_is_posted_once(
    world: BotWorld, media: MediaServer, scripted_llm: ScriptedOpenAI, via: str
) -> None:
    emu = world.emulator
    # The analysis waits until the progress message is shown (through the faults on its first
    # request: an edit of the original response, or a new message on the channel routes), so
    # that it is edited while the run goes on rather than replaced when it ends.
    scripted_llm.hold = True
    post, patch = ROUTES[via]
    first = ("PATCH", patch) if via == "followup" else ("POST", post)
    if via == "channel":
        emu.set_bot_permissions(world.channel_id, manage_webhooks=False)
    for method, pattern in (("POST", post), ("PATCH", patch)):
        emu.inject_error(pattern, status=500, method=method, times=1)
        emu.inject_error(pattern, status=502, method=method, times=1)
        emu.inject_rate_limit(pattern, method=method, retry_after=RETRY_AFTER, times=2)
    # Leave the interaction token at once (margin 0.1 s) for the channel routes.
    await world.start(DISCORD_TOKEN_MARGIN_SECONDS="900" if via == "followup" else "0.1")
    interaction = await world.command("autointel", url=media.url("claims.ogg?discord=1"), depth="quick")
    run_id = await run_id_of(world, interaction)
    await emu.wait_for(lambda: _got_through(emu, *first), timeout=60)
    scripted_llm.hold = False
    briefing = await world.briefing(run_id)
    await emu.wait_for(lambda: _progress_done(emu, world.channel_id), timeout=60)
    await asyncio.sleep(1.0)
    assert briefing.via == via and len(world.briefings(run_id)) == 1
    assert not _faults_left(emu, "POST") and not _faults_left(emu, "PATCH")  # every fault was met
    for answer, retry in _answers_and_retries(emu.requests):
        assert retry is not None, f"{answer} was not retried"
        if answer.status == 429:
            assert retry.at - answer.at >= RETRY_AFTER * 0.95, "retried before Retry-After"


def _faults_left(emu: DiscordEmulator, method: str) -> int:
    return sum(fault.remaining for fault in emu.state.faults if fault.method == method)


def _got_through(emu: DiscordEmulator, method: str, pattern: str) -> bool:
    """Every fault on `method` was met and a request matching `pattern` then succeeded."""
    if _faults_left(emu, method):
        return False
    last = max(n for n, r in enumerate(emu.requests) if r.status in (429, 500, 502) and r.method == method)
    return any(
        r.method == method and r.status < 300 and re.match(pattern, r.path) for r in emu.requests[last:]
    )


def _progress_done(emu: DiscordEmulator, channel_id: int) -> bool:
    """The progress message shows the finished run (its last edit went through)."""
    return any(embed_titles(m)[:1] == ["✓ Analysis done"] for m in emu.messages if m.channel_id == channel_id)


def _answers_and_retries(
    requests: list[RecordedRequest],
) -> list[tuple[RecordedRequest, RecordedRequest | None]]:
    """Each 5xx/429 answer and the next request of the same method to the same path."""
    pairs = []
    for n, answer in enumerate(requests):
        if answer.status in (429, 500, 502):
            retry = next(
                (r for r in requests[n + 1 :] if (r.method, r.path) == (answer.method, answer.path)), None
            )
            pairs.append((answer, retry))
    return pairs
