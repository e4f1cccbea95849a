"""Embeds for run management: a queued run, one run's status, the guild's recent runs, recall matches."""

from __future__ import annotations

import discord

from bot.progress import MARKS
from bot.render import COLOURS, MessagePart, safe, split_text, stamp_link
from memory.vector import Hit
from pipelines.brief import link_label, link_url
from pipelines.deliveries import DeliveryRecord
from pipelines.store import RunRecord, StageRecord

STATUS_MARKS = {
    "queued": "🕒",
    "running": "⏳",
    "interrupted": "⏸️",
    "succeeded": "✓",
    "failed": "✗",
    "cancelled": "✗",
}


def _when(run: RunRecord) -> str:
    return f"<t:{int(run.created_at.timestamp())}:R>"


def _footer(embed: discord.Embed, run_id: str | None = None) -> discord.Embed:
    embed.set_footer(text="AutoIntel" + (f" · run {run_id}" if run_id else ""))
    return embed


def queued_part(run: RunRecord, position: int) -> MessagePart:
    """The first progress message: run id and queue position."""
    where = f"Queue position: {position}" if position else "Starting now"
    embed = discord.Embed(
        title="🕒 Queued",
        description=f"Run `{run.id}` · depth {run.depth.value}\n{where}",
        colour=COLOURS["running"],
    )
    embed.add_field(name="Source", value=safe(run.source.shown)[:1024] or "—", inline=False)
    return MessagePart(embeds=[_footer(embed, run.id)])


def run_status_part(
    run: RunRecord, stages: list[StageRecord], deliveries: list[DeliveryRecord]
) -> MessagePart:
    """One run: status, stages with timings, the failure reason, delivery state."""
    lines = [f"{STATUS_MARKS.get(run.status, '?')} **{run.status}** · depth {run.depth.value} · {_when(run)}"]
    for stage in stages:
        mark = MARKS.get(stage.status, "⏳" if stage.status == "running" else "·")
        timing = f" — {stage.duration_seconds:.1f} s" if stage.duration_seconds else ""
        reused = " — reused" if stage.reused_from else ""
        lines.append(f"{mark} {stage.stage}{reused or timing}")
    if run.error_code and run.error_code != "internal_error":
        lines += ["", f"Reason: {safe(run.error_message or run.error_code)}"]
    elif run.error_code:
        lines += ["", "Reason: internal error (details are in the bot's logs)"]
    for record in deliveries:
        route = f" via {record.route}" if record.route else ""
        lines.append(f"Delivery to <#{record.channel_id}>: {record.state}{route}")
    embed = discord.Embed(
        title=f"Run {run.id}", description="\n".join(lines)[:4096], colour=COLOURS["running"]
    )
    embed.add_field(name="Source", value=safe(run.source.shown)[:1024] or "—", inline=False)
    return MessagePart(embeds=[_footer(embed, run.id)])


def run_list_part(runs: list[RunRecord]) -> MessagePart:
    """The guild's recent runs, newest first."""
    if not runs:
        return MessagePart(embeds=[_footer(discord.Embed(title="Recent analyses", description="None yet."))])
    lines = [
        f"{STATUS_MARKS.get(run.status, '?')} `{run.id[:12]}` {run.depth.value} · "
        f"{safe(run.source.shown)[:80]} · {_when(run)}"
        for run in runs
    ]
    embed = discord.Embed(title="Recent analyses", description="\n".join(lines)[:4096], colour=COLOURS["ok"])
    return MessagePart(embeds=[_footer(embed)])


def recall_part(query: str, hits: list[Hit]) -> MessagePart:
    """Memory matches with links to the source moment (or the cited page) and the run they came from."""
    embed = discord.Embed(title=f"🧠 Recall: {safe(query)[:200]}", colour=COLOURS["ok"])
    if not hits:
        embed.description = "Nothing in this server's memory matches."
    for hit in hits[:5]:
        item = hit.item
        source = item.source or ""
        link = source if source.startswith(("http://", "https://")) else None
        where = stamp_link(link, item.start) if item.start is not None else (link or safe(source) or "—")
        if item.kind == "evidence" and link_url(link):  # a cited page: its title links to it
            title = safe(link_label(str(item.extra.get("title") or item.extra.get("site") or "source")))
            where = f"[{title}]({link_url(link)})"
        run = f" · run `{item.run_id[:12]}`" if item.run_id else ""
        name = f"{item.kind} · score {hit.score:.2f}"
        value = f"{split_text(safe(item.text), 900)[0]}\n{where}{run}"
        embed.add_field(name=name, value=value[:1024], inline=False)
    return MessagePart(embeds=[_footer(embed)])
