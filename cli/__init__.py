"""The `autointel` command line: `analyze` a source, list `runs`.

Every failure ends in one line on stderr and a non-zero exit code:
1 for a failed command (bad source, failed stage, unreachable store), 2 for bad settings
or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pipelines.models import Depth
from settings import SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autointel", description="AutoIntel: analyse videos and audio.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    analyze = commands.add_parser("analyze", help="run the pipeline on a URL or a local media file")
    analyze.add_argument("source", metavar="SOURCE", help="an http(s) URL or a path to an audio/video file")
    analyze.add_argument(
        "--depth", choices=[d.value for d in Depth], default=Depth.STANDARD.value, help="analysis depth tier"
    )
    analyze.add_argument("--fresh", action="store_true", help="do not reuse results of earlier runs")
    analyze.add_argument("--json", dest="json_path", metavar="PATH", help="also write the result as JSON")

    runs = commands.add_parser("runs", help="list recent runs with their stage status")
    runs.add_argument("--limit", type=int, default=20, help="how many runs to show (default 20)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"autointel: {exc}", file=sys.stderr)
        return 2

    from observability.logs import setup_logging

    setup_logging(settings.observability.log_level, settings.observability.log_json)
    if args.command == "analyze":
        from cli.analyze import analyze

        return asyncio.run(analyze(settings, args.source, Depth(args.depth), args.fresh, args.json_path))
    from cli.runs import list_runs

    return asyncio.run(list_runs(settings, args.limit))


if __name__ == "__main__":
    sys.exit(main())
