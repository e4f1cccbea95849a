"""Rendering: Discord's limits hold for any briefing, nothing is cut, untrusted text cannot ping or spoof."""

from __future__ import annotations

from bot.render import (
    CHARS_PER_MESSAGE,
    EMBEDS_PER_MESSAGE,
    render_briefing,
    render_failure,
    report_files,
    safe,
    split_text,
)
from pipelines.models import Briefing, CheckedClaim, Claim, Depth, Evidence

YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def _briefing(claims: int, text: str = "A claim about something that was said in the video.") -> Briefing:
    checked = [
        CheckedClaim(
            claim=Claim(id=n, text=f"{text} #{n}", timestamp=n * 7.5, checkworthiness=3),
            verdict="refuted" if n % 2 else "supported",
            confidence=0.8,
            rationale="Because the evidence says otherwise. " * 5,
            evidence=[Evidence(number=1, text="Evidence text. " * 10, kind="reference", score=0.9)],
        )
        for n in range(1, claims + 1)
    ]
    return Briefing(
        title="A talk",
        tldr="Summary. " * 600,  # 5,400 characters: more than one description holds
        source=YOUTUBE,
        depth=Depth.DEEP,
        duration_seconds=3600,
        claims=checked,
        caveats=["Analysed by a small model."],
        markdown="# Report\n" + "line\n" * 50,
    )


def _all_text(parts: list) -> str:
    out = []
    for part in parts:
        for embed in part.embeds:
            out.append(embed.description or "")
            out += [f.value or "" for f in embed.fields]
    return "\n".join(out)


def test_every_message_is_within_discord_limits() -> None:
    parts = render_briefing(_briefing(claims=80), "run1234567890")
    assert len(parts) > 1
    for part in parts:
        assert len(part.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(len(embed) for embed in part.embeds) <= CHARS_PER_MESSAGE
        for embed in part.embeds:
            assert len(embed.title or "") <= 256
            assert len(embed.description or "") <= 4096
            assert len(embed.fields) <= 25
            assert all(len(f.name or "") <= 256 and len(f.value or "") <= 1024 for f in embed.fields)


def test_long_content_is_split_not_cut() -> None:
    briefing = _briefing(claims=80)
    text = _all_text(render_briefing(briefing, "run1"))
    assert text.count("Summary.") == 600
    for n in (1, 40, 80):
        assert f"\\#{n}" in text or f"#{n}" in text
    assert text.count("Because the evidence says otherwise.") == 80 * 5


def test_timestamps_link_to_the_video_moment() -> None:
    text = _all_text(render_briefing(_briefing(claims=2), "run1"))
    assert f"[00:15]({YOUTUBE}&t=15s)" in text


def test_report_attached_and_split_when_over_the_limit() -> None:
    parts = render_briefing(_briefing(claims=1), "abcdef123456")
    assert parts[-1].files == [("autointel-abcdef12.md", ("# Report\n" + "line\n" * 50).encode())]
    files = report_files("x" * 10_000 + "\n" + "y" * 10_000, "run1", limit=4096)
    assert len(files) > 1 and all(len(data) <= 4096 for _, data in files)
    assert b"".join(data for _, data in files).count(b"x") == 10_000


def test_untrusted_text_cannot_mention_or_format() -> None:
    hostile = (
        "@everyone @here <@123456789012345678> <@&1234567890123> **bold** [link](http://evil.example)"
        "\n# Heading\n> quote"
    )
    text = safe(hostile)
    assert "@everyone" not in text and "@here" not in text
    assert "<@1" not in text and "<@&" not in text
    assert "**bold**" not in text and "\\*\\*bold\\*\\*" in text
    assert "\\[link](" in text  # shown literally, not as a masked link
    assert "\n# " not in text and "\n> " not in text
    parts = render_briefing(_briefing(claims=1, text=hostile), "run1")
    assert "@everyone" not in _all_text(parts)


def test_format_bombs_are_flattened() -> None:
    assert safe("a" + "\n" * 500 + "b") == "a\n\nb"
    assert safe("x\u202eevil\x00") == "xevil"


def test_split_text_prefers_line_boundaries() -> None:
    assert split_text("aaaa\nbbbb\ncccc", 9) == ["aaaa\nbbbb", "cccc"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_failure_message_names_the_run() -> None:
    part = render_failure("run42", "refused to connect to 10.0.0.1: not a public address")
    assert part.embeds[0].footer.text == "AutoIntel · run run42"
    assert "not a public address" in (part.embeds[0].description or "")
