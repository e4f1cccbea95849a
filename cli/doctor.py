"""`autointel doctor [--json]`: check every dependency and print a table (or JSON); changes nothing.

Exit code 0 when everything is ok, 1 with warnings, 2 with a failure (invalid settings included).
"""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from observability.doctor import DoctorReport, Status, run_checks
from settings import Settings

STYLES = {Status.OK: ("✓", "green"), Status.WARN: ("!", "yellow"), Status.FAIL: ("✗", "red")}


def _print_table(report: DoctorReport) -> None:
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
    table = Table("", "check", "details", "fix", show_lines=False)
    for result in report.results:
        symbol, style = STYLES[result.status]
        # Text, not markup: details hold server messages such as "[Errno 111]"
        table.add_row(Text(symbol, style=style), Text(result.label), Text(result.details), Text(result.fix))
    console.print(table)
    summary = report.summary()
    console.print(
        f"{summary['ok']} ok, {summary['warn']} warning(s), {summary['fail']} failure(s) "
        f"in {summary['seconds']:.1f} s"
    )


async def run_doctor(settings: Settings | None, settings_error: str | None, as_json: bool) -> int:
    """Run the doctor and print its report; return the exit code (0 ok, 1 warnings, 2 failures).

    `settings` is None when `load_settings()` failed; `settings_error` is then its message and
    the report starts with a failed "settings" check.
    """
    report = await run_checks(settings, settings_error)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_table(report)
    return report.exit_code
