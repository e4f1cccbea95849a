"""Live per-stage progress for the terminal: a redrawn table on a TTY, one line per event otherwise."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from pipelines.runner import ProgressEvent

SYMBOLS = {
    "pending": "·",
    "started": "⏳",
    "running": "⏳",
    "cancelled": "✗",
    "succeeded": "✓",
    "reused": "♻",
    "skipped": "✓",
    "failed": "✗",
}


class ProgressDisplay:
    """Receives runner events and shows stage, status and elapsed time."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: dict[str, tuple[str, float | None, float]] = {}
        self.total = 0
        self._live: Live | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            self._live = Live(
                self._table(), console=self.console, refresh_per_second=8, get_renderable=self._table
            )
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def __call__(self, event: ProgressEvent) -> None:
        """Record an event (the runner's progress callback)."""
        self.total = event.total
        started = time.perf_counter() if event.status == "started" else None
        self.rows[event.stage] = (event.status, started, event.seconds)
        if self._live is None:
            note = f" ({event.message})" if event.message and event.status == "failed" else ""
            if event.status == "reused":
                note = f" (from run {(event.message or '')[:12]})"
            seconds = f" {event.seconds:.2f}s" if event.status in ("succeeded", "failed") else ""
            self.console.print(
                f"[{event.position + 1}/{event.total}] {event.stage:<12} {SYMBOLS[event.status]} "
                f"{event.status}{seconds}{note}",
                highlight=False,
            )

    def _table(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False)
        for name, (status, started, seconds) in self.rows.items():
            elapsed = time.perf_counter() - started if status == "started" and started else seconds
            table.add_row(f" {SYMBOLS[status]}", name, status, f"{elapsed:6.2f}s")
        return table
