"""The `autointel` command line: analyze, runs [show|cancel], watch, models, memory, eval, bot, worker, db,
doctor.

Every failure ends in one line on stderr and a non-zero exit code:
1 for a failed command (bad source, failed stage, unreachable store), 2 for bad settings
or usage. `doctor` exits 0 (all ok), 1 (warnings) or 2 (failures).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from memory import KINDS as MEMORY_KINDS
from pipelines.models import Depth
from settings import SettingsError, load_settings


def _positive(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


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
    analyze.add_argument(
        "--markdown", dest="markdown_path", metavar="PATH", help="also write the briefing as Markdown"
    )

    evaluate = commands.add_parser("eval", help="measure the product on a labelled dataset")
    kinds = evaluate.add_subparsers(dest="kind", required=True, metavar="KIND")
    factcheck = kinds.add_parser("factcheck", help="fact-check accuracy on a CLIMATE-FEVER style JSONL file")
    factcheck.add_argument("dataset", metavar="DATASET.jsonl")
    factcheck.add_argument("--limit", type=int, default=None, help="only the first N claims")
    factcheck.add_argument("--json", dest="json_path", metavar="PATH", help="also write the figures as JSON")
    briefing = kinds.add_parser("briefing", help="analyse media and score its briefing against gold claims")
    briefing.add_argument("media", metavar="MEDIA", help="a URL or a local media file")
    briefing.add_argument("gold", metavar="GOLD.jsonl", help='one {"claim": ..., "label": ...} per line')
    briefing.add_argument(
        "--reference", metavar="CORPUS", help="a reference corpus to load as evidence first"
    )
    briefing.add_argument(
        "--depth", choices=[d.value for d in Depth], default=Depth.STANDARD.value, help="analysis depth tier"
    )
    briefing.add_argument("--json", dest="json_path", metavar="PATH", help="also write the figures as JSON")

    runs = commands.add_parser("runs", help="list recent runs with their stage status, or cancel one")
    runs.add_argument("--limit", type=int, default=20, help="how many runs to show (default 20)")
    run_actions = runs.add_subparsers(dest="action", required=False, metavar="ACTION")
    show = run_actions.add_parser("show", help="one run's timeline: stages, models, tokens, delivery")
    show.add_argument("run_id", metavar="ID", help="run id (or its first 6+ characters)")
    cancel = run_actions.add_parser("cancel", help="cancel a queued or running run, wherever it runs")
    cancel.add_argument("run_id", metavar="ID", help="run id (or its first 6+ characters)")

    watch = commands.add_parser("watch", help="watch channels, playlists and feeds for new uploads")
    watch_actions = watch.add_subparsers(dest="action", required=True, metavar="ACTION")
    watch_add = watch_actions.add_parser("add", help="watch a channel, playlist or RSS/Atom feed")
    watch_add.add_argument("url", metavar="URL")
    watch_add.add_argument("--guild", required=True, type=_positive, metavar="ID", help="Discord server id")
    watch_add.add_argument("--channel", required=True, type=_positive, metavar="ID", help="its channel id")
    watch_add.add_argument(
        "--depth", choices=[d.value for d in Depth], default=Depth.STANDARD.value, help="analysis depth tier"
    )
    watch_add.add_argument("--backfill", type=int, default=0, metavar="N", help="also the newest N uploads")
    watch_add.add_argument("--digest", choices=["none", "daily"], default="none", help="one daily message")
    watch_list = watch_actions.add_parser("list", help="the watches with their polling state")
    watch_list.add_argument("--guild", type=_positive, metavar="ID", help="only this server's watches")
    watch_remove = watch_actions.add_parser("remove", help="stop watching")
    watch_remove.add_argument("watch_id", type=int, metavar="ID")
    watch_actions.add_parser("poll", help="poll every due watch now (runs start like the bot's)")

    models = commands.add_parser("models", help="the model catalogue with each model's live statistics")
    models.add_argument("--json", action="store_true", help="print the catalogue and statistics as JSON")
    models.add_argument("--tasks", action="store_true", help="also one row per task the model answered")

    worker = commands.add_parser("worker", help="execute queued runs from Redis (needs REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")

    database = commands.add_parser("db", help="run store administration")
    db_actions = database.add_subparsers(dest="action", required=True, metavar="ACTION")
    db_actions.add_parser("upgrade", help="apply the database migrations and print the schema revision")

    commands.add_parser("bot", help="run the Discord bot (needs DISCORD_BOT_TOKEN)")

    doctor = commands.add_parser(
        "doctor", help="check settings, services, models and this machine; changes nothing"
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")

    memory = commands.add_parser("memory", help="search long-term memory or load a reference corpus into it")
    actions = memory.add_subparsers(dest="action", required=True, metavar="ACTION")
    search = actions.add_parser("search", help="print the memories closest to a query")
    search.add_argument("query", metavar="QUERY")
    where = search.add_mutually_exclusive_group()
    where.add_argument(
        "--guild", default="cli", metavar="NS", help="memory namespace (guild id; default cli)"
    )
    where.add_argument("--reference", action="store_true", help="search the shared reference corpus")
    search.add_argument("--limit", type=_positive, default=5, help="how many matches (default 5)")
    search.add_argument("--kind", action="append", choices=MEMORY_KINDS, help="only this kind (repeatable)")
    ingest = actions.add_parser("ingest", help="load a reference corpus (text or JSONL) into memory")
    ingest.add_argument("file", metavar="FILE", help="plain text, JSONL with 'text', or CLIMATE-FEVER JSONL")
    ingest.add_argument("--guild", default="reference", metavar="NS", help="namespace (default reference)")
    return parser


def _doctor(as_json: bool) -> int:
    """`autointel doctor`: runs even when the settings are invalid (that is its first finding)."""
    from cli.doctor import run_doctor
    from observability.logs import setup_logging

    try:
        settings, error = load_settings(), None
    except SettingsError as exc:
        settings, error = None, str(exc)
    if settings is not None:
        setup_logging(
            settings.observability.log_level, settings.observability.log_json, settings.secret_values()
        )
    return asyncio.run(run_doctor(settings, error, as_json))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        return _doctor(args.json)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"autointel: {exc}", file=sys.stderr)
        return 2

    from observability.logs import setup_logging

    setup_logging(settings.observability.log_level, settings.observability.log_json, settings.secret_values())
    if args.command == "analyze":
        from cli.analyze import analyze

        return asyncio.run(
            analyze(settings, args.source, Depth(args.depth), args.fresh, args.json_path, args.markdown_path)
        )
    if args.command == "bot":
        from cli.bot import start_bot

        return start_bot(settings)
    if args.command == "worker":
        from cli.bot import start_worker

        return start_worker(settings, burst=args.burst)
    if args.command == "db":
        from cli.runs import upgrade_database

        return asyncio.run(upgrade_database(settings))
    if args.command == "watch":
        from cli import watch as watches

        if args.action == "add":
            return asyncio.run(
                watches.add(
                    settings,
                    args.url,
                    str(args.guild),
                    str(args.channel),
                    Depth(args.depth),
                    args.backfill,
                    args.digest,
                )
            )
        if args.action == "list":
            return asyncio.run(watches.list_watches(settings, str(args.guild) if args.guild else None))
        if args.action == "remove":
            return asyncio.run(watches.remove(settings, args.watch_id))
        return asyncio.run(watches.poll(settings))
    if args.command == "models":
        from cli.models import list_models

        return asyncio.run(list_models(settings, args.json, args.tasks))
    if args.command == "eval" and args.kind == "briefing":
        from cli.evaluate_briefing import run_briefing_eval

        return asyncio.run(
            run_briefing_eval(
                settings, args.media, args.gold, args.reference, Depth(args.depth), args.json_path
            )
        )
    if args.command == "eval":
        from cli.evaluate import run_eval

        return asyncio.run(run_eval(settings, args.dataset, args.limit, args.json_path))
    if args.command == "memory":
        from cli import memory

        if args.action == "search":
            namespace = "reference" if args.reference else args.guild
            return asyncio.run(memory.search(settings, args.query, namespace, args.limit, args.kind))
        return asyncio.run(memory.ingest(settings, Path(args.file), args.guild))
    from cli.runs import cancel_run, list_runs, show_run

    if args.action == "cancel":
        return asyncio.run(cancel_run(settings, args.run_id))
    if args.action == "show":
        return asyncio.run(show_run(settings, args.run_id))
    return asyncio.run(list_runs(settings, args.limit))


if __name__ == "__main__":
    sys.exit(main())
