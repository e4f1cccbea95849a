"""Briefings and progress as Discord embeds, within Discord's limits, with untrusted text made inert.

Limits: ≤ 4,096 characters per embed description, ≤ 25 fields (name ≤ 256, value ≤ 1,024),
≤ 6,000 characters and ≤ 10 embeds per message, ≤ 2,000 characters of content. Long text is
split across fields, embeds and messages — never cut. The full report travels as a Markdown
file (split into numbered files if it exceeds the attachment limit). Everything that came
from the media, the model or a member passes through `safe()`, the one sanitiser of the bot:
no mention can ping or even render (@everyone, @here, <@id>, <@&id>, <#id>), no markdown can
format-bomb or break the layout (headings, quotes, lists, masked links, code fences,
spoilers), and no invisible character can hide or reorder text (zero-width characters,
bidirectional overrides and isolates, byte-order marks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import discord

from crews.text import shorten
from pipelines.analyze import clock
from pipelines.brief import link_label, link_url, moment_link, verdict_label
from pipelines.models import Briefing, Evidence

DESCRIPTION_LIMIT = 4096
FIELD_VALUE_LIMIT = 1024
FIELD_NAME_LIMIT = 256
TITLE_LIMIT = 256
FIELDS_PER_EMBED = 25
EMBEDS_PER_MESSAGE = 10
CHARS_PER_MESSAGE = 6000
EMBED_BUDGET = 5500  # an embed's own share of the 6,000: leaves room for the footer and title
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024
QUOTE_CHARS = 300  # an evidence quote in an embed (the report file has it whole)

COLOURS = {"ok": 0x2ECC71, "degraded": 0xF1C40F, "failed": 0xE74C3C, "running": 0x3498DB}
_MENTION = re.compile(r"@(everyone|here)")
_LINE_START = re.compile(r"(?m)^(\s*)([#>]|-#)")
_NUMBERED_ITEM = re.compile(r"(?m)^(\s*\d+)\.(?=\s)")
_LIVE_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)\[")  # a "[" after an even run of backslashes
_BLANK_RUNS = re.compile(r"\n{3,}")
# C0 controls but tab and newline, DEL, zero-width characters and marks (U+200B–U+200F),
# bidi embeddings/overrides (U+202A–U+202E) and isolates (U+2066–U+2069), word joiner and
# invisible operators (U+2060–U+2064), Arabic letter mark, Mongolian vowel separator, BOM.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


@dataclass
class MessagePart:
    """One message to post: embeds plus attached files (name, bytes)."""

    embeds: list[discord.Embed] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)

    def discord_files(self) -> list[discord.File]:
        """Fresh `discord.File` objects (a File can be sent only once)."""
        import io

        return [discord.File(io.BytesIO(data), filename=name) for name, data in self.files]


def safe(text: str) -> str:
    """Untrusted text made inert: escaped markdown, broken mentions, no invisible characters.

    The only zero-width spaces in the result are the ones it inserts after "@" and "<" to
    break mentions; every markdown character is preceded by an odd run of backslashes.
    """
    text = _CONTROL.sub("", text)  # first: a hidden character must not split what is escaped next
    text = discord.utils.escape_markdown(text)  # also escapes backslashes already in the text
    text = _LIVE_BRACKET.sub(lambda m: m.group(1) + "\\[", text)  # every masked link, not the first
    text = _MENTION.sub("@\u200b\\1", text)
    text = text.replace("<", "<\u200b")  # user/role/channel mentions, timestamps, custom emoji
    text = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    text = _NUMBERED_ITEM.sub(lambda m: m.group(1) + "\\.", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def split_text(text: str, limit: int) -> list[str]:
    """Split at line (else word, else hard) boundaries into pieces of at most `limit` characters."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n ")
    if text or not pieces:
        pieces.append(text)
    return pieces


def stamp_link(url: str | None, seconds: float) -> str:
    """`mm:ss`, as a link to that moment where the site supports it."""
    link = moment_link(url, seconds)
    return f"[{clock(seconds)}]({link})" if link else clock(seconds)


class _Embeds:
    """Builds a sequence of embeds of one section, starting a new embed whenever one is full."""

    def __init__(self, title: str, colour: int, footer: str) -> None:
        self.title, self.colour, self.footer = title, colour, footer
        self.embeds: list[discord.Embed] = []

    def _new(self) -> discord.Embed:
        title = self.title if not self.embeds else f"{self.title} (continued)"
        embed = discord.Embed(title=title[:TITLE_LIMIT], colour=self.colour)
        embed.set_footer(text=self.footer)
        self.embeds.append(embed)
        return embed

    def describe(self, text: str, url: str | None = None) -> None:
        """Add text as descriptions, as many embeds as it needs."""
        for piece in split_text(text, DESCRIPTION_LIMIT):
            embed = self._new()
            embed.description = piece
            if url and len(self.embeds) == 1:
                embed.url = url

    def add_field(self, name: str, value: str, *, inline: bool = False) -> None:
        """Add a field; a long value continues in further fields, a full embed in a new one."""
        name = name[:FIELD_NAME_LIMIT] if len(name) <= FIELD_NAME_LIMIT else split_text(name, 250)[0] + " …"
        for index, piece in enumerate(split_text(value or "—", FIELD_VALUE_LIMIT)):
            label = name if index == 0 else "↳ (continued)"
            embed = self.embeds[-1] if self.embeds else self._new()
            if len(embed.fields) >= FIELDS_PER_EMBED or len(embed) + len(label) + len(piece) > EMBED_BUDGET:
                embed = self._new()
            embed.add_field(name=label, value=piece, inline=inline)


def masked_citation(evidence: Evidence) -> str:
    """— [title](url) (site, date) as an escaped masked link; the memory source as plain text."""
    target = link_url(evidence.url)
    label = safe(link_label(evidence.title or evidence.site or "source"))
    meta = ", ".join(safe(x) for x in (evidence.site, evidence.published) if x)
    if target:
        return f" — [{label}]({target})" + (f" ({meta})" if meta else "")
    return f" — {safe(evidence.source)}" if evidence.source else ""


def _http_url(value: str) -> str | None:
    return value if value.startswith(("http://", "https://")) and len(value) <= 2048 else None


def briefing_embeds(briefing: Briefing, run_id: str) -> list[discord.Embed]:
    """Every embed of a briefing, in reading order, each within the per-embed limits."""
    url = _http_url(briefing.source)
    footer = f"AutoIntel · run {run_id}"
    colour = COLOURS["degraded" if briefing.degraded else "ok"]
    head = _Embeds(f"📺 {safe(briefing.title)}", colour, footer)
    summary = [safe(briefing.tldr)]
    if briefing.key_points:
        summary += ["", "**Key points**"]
        summary += [f"• {stamp_link(url, k.timestamp)} {safe(k.point)}" for k in briefing.key_points]
    head.describe("\n".join(summary), url)
    head.add_field("Depth", briefing.depth.value, inline=True)
    head.add_field("Duration", clock(briefing.duration_seconds), inline=True)
    verdicts = [c.verdict for c in briefing.claims if c.verdict]
    if briefing.claims:
        tally = ", ".join(f"{verdicts.count(v)} {v.replace('_', ' ')}" for v in dict.fromkeys(verdicts))
        head.add_field(
            "Claims", f"{len(briefing.claims)} found" + (f"; {tally}" if tally else ""), inline=True
        )
    sections = [head]
    if briefing.claims:
        claims = _Embeds("🔎 Claims", colour, footer)
        for item in briefing.claims:
            lines = [f"{stamp_link(url, item.claim.timestamp)} {safe(item.claim.text)}"]
            if item.rationale:
                lines.append(f"> {safe(item.rationale)}")
            for evidence in item.evidence[:2]:
                quote = safe(shorten(evidence.text, QUOTE_CHARS))
                lines.append(f"[{evidence.number}] {quote}{masked_citation(evidence)}")
            claims.add_field(f"{item.claim.id}. {verdict_label(item)}", "\n".join(lines))
        sections.append(claims)
    if briefing.fallacies:
        fallacies = _Embeds("🧩 Fallacies", colour, footer)
        for fallacy in briefing.fallacies:
            value = (
                f"{stamp_link(url, fallacy.timestamp)} “{safe(fallacy.quote)}”\n{safe(fallacy.explanation)}"
            )
            fallacies.add_field(safe(fallacy.name), value)
        sections.append(fallacies)
    if briefing.perspectives is not None:
        views = _Embeds("🧭 Perspectives", colour, footer)
        views.describe(f"**Bias:** {safe(briefing.perspectives.bias)}")
        for view in briefing.perspectives.perspectives:
            views.add_field(safe(view.viewpoint), safe(view.assessment))
        sections.append(views)
    if briefing.caveats:
        caveats = _Embeds("⚠️ Caveats", COLOURS["degraded"], footer)
        caveats.describe("\n".join(f"• {safe(note)}" for note in briefing.caveats))
        sections.append(caveats)
    return [embed for section in sections for embed in section.embeds]


def pack(embeds: list[discord.Embed]) -> list[MessagePart]:
    """Group embeds into messages of ≤ 10 embeds and ≤ 6,000 characters."""
    parts: list[MessagePart] = [MessagePart()]
    size = 0
    for embed in embeds:
        current = parts[-1]
        if current.embeds and (
            len(current.embeds) >= EMBEDS_PER_MESSAGE or size + len(embed) > CHARS_PER_MESSAGE
        ):
            parts.append(MessagePart())
            size = 0
        parts[-1].embeds.append(embed)
        size += len(embed)
    return parts


def report_files(markdown: str, run_id: str, limit: int) -> list[tuple[str, bytes]]:
    """The Markdown report as one file, or numbered files when it exceeds `limit` bytes."""
    data = markdown.encode()
    if len(data) <= limit:
        return [(f"autointel-{run_id[:8]}.md", data)]
    pieces = split_text(markdown, max(1, limit // 4))  # ≤ 4 bytes per character in UTF-8
    return [(f"autointel-{run_id[:8]}-part{n}.md", piece.encode()) for n, piece in enumerate(pieces, 1)]


def render_briefing(
    briefing: Briefing, run_id: str, *, attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT
) -> list[MessagePart]:
    """The messages that deliver a briefing; the report file(s) ride on the last ones (≤ 10 per message)."""
    parts = pack(briefing_embeds(briefing, run_id))
    files = report_files(briefing.markdown, run_id, attachment_limit) if briefing.markdown else []
    while files:
        batch, files = files[:10], files[10:]
        if parts[-1].files:
            parts.append(MessagePart())
        parts[-1].files = batch
    return parts


def render_failure(run_id: str, message: str, *, cancelled: bool = False) -> MessagePart:
    """The message that tells the channel a run ended without a briefing."""
    title = "✗ Run cancelled" if cancelled else "✗ Analysis failed"
    embed = discord.Embed(
        title=title, description=safe(message)[:DESCRIPTION_LIMIT], colour=COLOURS["failed"]
    )
    embed.set_footer(text=f"AutoIntel · run {run_id}")
    return MessagePart(embeds=[embed])
