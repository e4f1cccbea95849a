"""Rendering: Discord's limits hold for any briefing, nothing is cut, untrusted text cannot ping or spoof."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord

from bot.render import (
    CHARS_PER_MESSAGE,
    DESCRIPTION_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_VALUE_LIMIT,
    render_briefing,
    render_failure,
    report_files,
    safe,
    split_text,
)
from bot.status import recall_part, run_status_part
from crews.schemas import Fallacy, KeyPoint
from memory.vector import Hit, MemoryItem
from pipelines.brief import render_markdown, verdict_label
from pipelines.models import Briefing, CheckedClaim, Claim, Depth, Evidence, Source
from pipelines.records import RunRecord

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


# A transcript line written to abuse the channel: pings, layout spoofing, hidden reordering.
HOSTILE_TRANSCRIPT = (
    "@everyone @here <@123456789012345678> <@!42> <@&1234567890123> <#987654321> <t:0:R> </cmd:1>\n"
    "# Official notice\n## From the admins\n-# fine print\n> quoted\n>>> block quote\n"
    "1. first\n- item\n"
    "[free nitro](https://evil.example) and [again](https://evil.example/2) \\[sneaky](https://x.example)\n"
    "```py\nprint('code fence')\n``` `inline` ||spoiler|| ~~strike~~ __under__ *it* **bold**\n"
    "pay\u200bpal \u200c\u200d\u200e\u200f\u2060\ufeff zero width; "
    "invoice\u202egnp.exe \u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069 bidi\n"
    "\\*pre-escaped\\* \\\\**double**"
)
_INVISIBLE = re.compile("[\u200c-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_MARKDOWN = "*_~|`["
_URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")


def _inert(text: str) -> None:
    """Assert Discord would render `text` literally: no mention, markup or hidden character."""
    assert _INVISIBLE.search(text) is None
    for match in re.finditer("\u200b", text):  # the only zero-width spaces break mentions
        assert text[match.start() - 1] in "@<", text[match.start() - 5 : match.start() + 5]
    assert re.search(r"@(everyone|here)", text) is None
    assert re.search(r"<[@#&!/t:]", text) is None
    literal = _URL.sub("", text)  # Discord shows a bare link as it is, markdown characters and all
    for index, char in enumerate(literal):
        if char in _MARKDOWN:  # escaped: an odd run of backslashes before it
            before = literal[max(0, index - 50) : index]
            run = len(before) - len(before.rstrip("\\"))
            assert run % 2 == 1, f"live markdown at {literal[max(0, index - 10) : index + 10]!r}"
    for line in text.split("\n"):
        stripped = line.lstrip()
        assert not stripped.startswith(("#", ">", "-", "* ")), line
        assert re.match(r"\d+\.\s", stripped) is None, line


def test_safe_makes_a_hostile_transcript_inert() -> None:
    text = safe(HOSTILE_TRANSCRIPT)
    _inert(text)
    assert "paypal" in text and "invoicegnp.exe" in text  # hidden characters removed, words kept
    for word in ("Official notice", "free nitro", "spoiler", "code fence", "fine print", "first"):
        assert word in text


def test_hostile_transcript_everywhere_in_a_briefing() -> None:
    briefing = _briefing(claims=30, text=HOSTILE_TRANSCRIPT).model_copy(
        update={
            "title": HOSTILE_TRANSCRIPT,
            "tldr": HOSTILE_TRANSCRIPT * 40,
            "key_points": [KeyPoint.model_construct(timestamp=3, point=HOSTILE_TRANSCRIPT)],
            "fallacies": [
                Fallacy.model_construct(
                    name=HOSTILE_TRANSCRIPT,
                    quote=HOSTILE_TRANSCRIPT,
                    explanation=HOSTILE_TRANSCRIPT,
                    timestamp=5,
                )
            ],
            "caveats": [HOSTILE_TRANSCRIPT],
        }
    )
    parts = render_briefing(briefing, "run1")
    for part in parts:
        assert (
            len(part.embeds) <= EMBEDS_PER_MESSAGE and sum(len(e) for e in part.embeds) <= CHARS_PER_MESSAGE
        )
        for embed in part.embeds:
            assert len(embed.title or "") <= 256 and len(embed.description or "") <= DESCRIPTION_LIMIT
            assert all(
                len(f.value or "") <= FIELD_VALUE_LIMIT and len(f.name or "") <= 256 for f in embed.fields
            )
            for text in (embed.title or "", embed.description or "", *(f.value or "" for f in embed.fields)):
                _inert(_without_own_markup(text))


def _without_own_markup(text: str) -> str:
    """The text minus the bot's own markup (bold labels, moment links, citation links, bullets)."""
    text = re.sub(r"\[\d\d:\d\d\]\(https://www\.youtube\.com/watch\?v=\w+(&t=\d+s?)?\)", "", text)
    text = text.replace("**Key points**", "").replace("**Bias:**", "")
    return re.sub(r"(?m)^(• |> |\[\d+\] )", "", text)


def test_status_and_recall_neutralise_member_and_memory_text() -> None:
    run = RunRecord(
        id="a" * 32,
        source=Source(kind="url", location="https://example.com/@everyone/**x**", key="k"),
        depth=Depth.QUICK,
        pipeline_version="1",
        fresh=False,
        requester="1",
        namespace="1",
        status="failed",
        error_code="not_media",
        error_message=HOSTILE_TRANSCRIPT,
        created_at=datetime.now(UTC),
        started_at=None,
        finished_at=None,
    )
    status = run_status_part(run, [], [])
    embed = status.embeds[0]
    reason = (embed.description or "").split("Reason: ", 1)[1]
    _inert(reason)
    _inert(embed.fields[0].value or "")
    hit = Hit(item=MemoryItem(HOSTILE_TRANSCRIPT, "transcript", source="https://example.com/v"), score=0.5)
    recall = recall_part(HOSTILE_TRANSCRIPT * 10, [hit]).embeds[0]
    assert len(recall.title or "") <= 256
    _inert((recall.title or "").removeprefix("🧠 Recall: "))
    value = recall.fields[0].value or ""
    assert len(value) <= FIELD_VALUE_LIMIT
    _inert(value.rsplit("\n", 1)[0])
    assert discord.AllowedMentions.none().everyone is False  # and nothing is ever sent to ping


def test_an_uploaded_files_status_shows_its_name_not_the_servers_path() -> None:
    upload = "/srv/autointel/data/uploads/42/1234-talk.mp3"
    run = RunRecord(
        id="b" * 32,
        source=Source(kind="file", location=upload, key="sha256:" + "0" * 64),
        depth=Depth.QUICK,
        pipeline_version="1",
        fresh=False,
        requester="1",
        namespace="42",
        status="queued",
        error_code=None,
        error_message=None,
        created_at=datetime.now(UTC),
        started_at=None,
        finished_at=None,
    )
    embed = run_status_part(run, [], []).embeds[0]
    shown = " ".join([embed.description or "", *(field.value or "" for field in embed.fields)])
    assert "1234-talk.mp3" in shown
    assert "/srv/autointel" not in shown and "uploads" not in shown


def test_verdicts_show_confidence_but_not_enough_evidence_shows_none() -> None:
    claim = Claim(id=1, text="The tower was finished in 1889.", timestamp=0.0, checkworthiness=3)
    refuted = CheckedClaim(claim=claim, verdict="refuted", confidence=0.8)
    unknown = CheckedClaim(claim=claim, verdict="not_enough_evidence", confidence=0.57)
    assert verdict_label(refuted) == "❌ refuted (80%)"
    assert verdict_label(unknown) == "❔ not enough evidence"
    assert verdict_label(CheckedClaim(claim=claim, failure="the model timed out")) == "⚠️ check failed"
    briefing = _briefing(claims=1).model_copy(update={"claims": [unknown]})
    text = _all_text(render_briefing(briefing, "run1"))
    assert "not enough evidence" in text and "57%" not in text
    report = render_markdown(briefing, YOUTUBE)
    assert "❔ not enough evidence" in report and "57%" not in report
