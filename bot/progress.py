"""One progress message per run, edited as stages start and finish, throttled for Discord's limits.

`ProgressBoard` holds a run's stage states and renders them (✓ done, ⏳ running, ✗ failed,
· waiting, a bar, elapsed time). `update()` takes the runner's events; edits are coalesced so
at most one edit per DISCORD_PROGRESS_EDIT_INTERVAL_SECONDS reaches Discord, and `finish()`
flushes the final state before the briefing is posted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import discord

from bot.render import COLOURS, MessagePart, safe
from pipelines.runner import ProgressEvent

MARKS = {"waiting": "·", "started": "⏳", "succeeded": "✓", "reused": "✓", "skipped": "✓", "failed": "✗"}
BAR_WIDTH = 12

Show = Callable[[MessagePart], Awaitable[None]]


def progress_bar(done: int, total: int) -> str:
    """`▰▰▰▱▱▱ 3/6` style bar."""
    filled = round(BAR_WIDTH * done / total) if total else BAR_WIDTH
    return "▰" * filled + "▱" * (BAR_WIDTH - filled) + f" {done}/{total}"


class ProgressBoard:
    """The state of one run's progress message and its throttled updates."""

    def __init__(
        self, run_id: str, stages: list[str], source: str, depth: str, show: Show, *, interval: float
    ) -> None:
        self.run_id, self.source, self.depth = run_id, source, depth
        self.states: dict[str, str] = dict.fromkeys(stages, "waiting")
        self.seconds: dict[str, float] = {}
        self.note: str | None = None
        self.outcome: str | None = None  # None while running; "succeeded", "failed", "cancelled"
        self.queue_position: int | None = None
        self._show, self._interval = show, interval
        self._started = time.monotonic()
        self._last_edit = -float("inf")
        self._pending: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def render(self) -> MessagePart:
        """The progress embed for the current state."""
        done = sum(state in ("succeeded", "reused", "skipped") for state in self.states.values())
        lines = []
        for stage, state in self.states.items():
            extra = ""
            if state in ("succeeded", "failed") and stage in self.seconds:
                extra = f" — {self.seconds[stage]:.1f} s"
            elif state in ("reused", "skipped"):
                extra = " — reused"
            lines.append(f"{MARKS[state]} {stage}{extra}")
        elapsed = time.monotonic() - self._started
        lines += ["", progress_bar(done, len(self.states)), f"Elapsed {elapsed:.0f} s"]
        if self.queue_position:
            lines.append(f"Queue position: {self.queue_position}")
        if self.note:
            lines += ["", safe(self.note)]
        titles = {None: "⏳ Analysing", "succeeded": "✓ Analysis done", "failed": "✗ Analysis failed"}
        title = titles.get(self.outcome, "✗ Run cancelled")
        colour = COLOURS[
            "running" if self.outcome is None else "ok" if self.outcome == "succeeded" else "failed"
        ]
        embed = discord.Embed(title=title, description="\n".join(lines), colour=colour)
        embed.add_field(name="Source", value=safe(self.source)[:1024] or "—", inline=False)
        embed.set_footer(text=f"AutoIntel · run {self.run_id} · depth {self.depth}")
        return MessagePart(embeds=[embed])

    async def update(self, event: ProgressEvent) -> None:
        """Take a runner event and schedule a (throttled) edit."""
        self.queue_position = None
        self.states[event.stage] = event.status
        if event.seconds:
            self.seconds[event.stage] = event.seconds
        if event.status == "failed" and event.message:
            self.note = f"{event.stage} failed: {event.message}"
        self._schedule()

    def _schedule(self) -> None:
        if self._pending is not None and not self._pending.done():
            return  # an edit is already waiting; it will show the newest state
        wait = max(0.0, self._last_edit + self._interval - time.monotonic())
        self._pending = asyncio.get_running_loop().create_task(self._flush_after(wait))

    async def _flush_after(self, wait: float) -> None:
        if wait:
            await asyncio.sleep(wait)
        await self.flush()

    async def flush(self) -> None:
        """Edit the message now with the current state."""
        async with self._lock:
            self._last_edit = time.monotonic()
            await self._show(self.render())

    async def finish(self, outcome: str, note: str | None = None) -> None:
        """Show the final state at once (cancelling any delayed edit)."""
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        self.outcome = outcome
        if note:
            self.note = note
        await self.flush()
