"""Runs for Discord: submit with a destination, execute in the queue, show progress, deliver the outcome.

`RunService` is the part of the bot that is not a slash command: it registers where a run's
results go (a delivery record per channel), executes queued runs through the pipeline runner
under the run's lease while a `ProgressBoard` edits the progress message, and delivers the
briefing (or the reason there is none) exactly once. The same service runs jobs in the bot's
own process (embedded queue) and in `autointel worker` processes (arq), where its deliverer
is a REST-only Discord client. `recover()` delivers results that finished while no process
could deliver them and re-queues runs that were interrupted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.delivery import Deliverer
from bot.errors import user_message
from bot.progress import ProgressBoard
from bot.render import DEFAULT_ATTACHMENT_LIMIT, MessagePart, render_briefing, render_failure
from pipelines.deliveries import FINISHED, DeliveryRecord, DeliveryStore
from pipelines.errors import PipelineError, RunCancelledError
from pipelines.flow import FLOWS
from pipelines.leases import RunBusyError, RunLeases
from pipelines.models import Briefing, Depth, Source
from pipelines.queue import RunQueue, cancel_run
from pipelines.runner import execute, submit
from pipelines.stage import Resources
from pipelines.store import RunRecord, RunStore
from settings import Settings

log = logging.getLogger(__name__)

WATCH_DESTINATION = "watch:"  # prefix of a watch's delivery destinations


@dataclass(frozen=True)
class Destination:
    """Where a run's progress and briefing go: a channel, and the interaction while its token lives.

    A watch's destination (`watch_id` set) gets the briefing only, without a progress message.
    """

    channel_id: int
    guild_id: int | None
    application_id: int | None = None
    interaction_token: str | None = None
    attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT
    watch_id: int | None = None

    @property
    def key(self) -> str:
        """The destination's name in delivery records."""
        if self.watch_id is not None:
            return f"{WATCH_DESTINATION}{self.watch_id}:channel:{self.channel_id}"
        return f"channel:{self.channel_id}"


class RunService:
    """Submits, executes and delivers runs (in the bot, or in a worker)."""

    def __init__(
        self,
        settings: Settings,
        store: RunStore,
        resources: Resources,
        deliverer: Deliverer | None,
        *,
        lease_owner: str,
    ) -> None:
        self.settings = settings
        self.store = store
        self.resources = resources
        self.deliverer = deliverer
        self.deliveries = DeliveryStore(store.engine)
        self.leases = RunLeases(store.engine)
        self.lease_owner = lease_owner
        self.queue: RunQueue | None = None  # set by the entry point (`open_queue`)

    def _queue(self) -> RunQueue:
        if self.queue is None:
            raise RuntimeError("RunService.queue is not set")
        return self.queue

    async def submit(
        self, source: Source, depth: Depth, destination: Destination | None, *, requester: str, namespace: str
    ) -> tuple[RunRecord, DeliveryRecord | None]:
        """Record a run and where its results go (the run starts when `enqueue` is called).

        Without a destination nothing is delivered per run (a watch's daily digest reports it).
        """
        run = await submit(self.store, source, depth, requester=requester, namespace=namespace)
        if destination is None:
            return run, None
        record = await self.deliveries.add(
            run.id,
            destination.key,
            channel_id=str(destination.channel_id),
            guild_id=str(destination.guild_id) if destination.guild_id else None,
            application_id=str(destination.application_id) if destination.application_id else None,
            interaction_token=destination.interaction_token,  # stamped with the database's clock
            attachment_limit=destination.attachment_limit,
        )
        return run, record

    async def next_position(self) -> int:
        """The queue position a run submitted now would get."""
        return await self._queue().next_position()

    async def enqueue(self, run_id: str) -> int:
        """Queue a run; its position (0 = starting now)."""
        return await self._queue().enqueue(run_id)

    async def cancel(self, run: RunRecord) -> bool:
        """Cancel a queued or running run, wherever it runs (False when it had already finished)."""
        if not await cancel_run(self.store, self._queue(), run.id):
            return False
        await self.deliver_outcome(run.id)  # exactly once, whoever gets there first
        return True

    async def show(self, run_id: str, part: MessagePart) -> None:
        """Show `part` as the progress message of every destination of the run."""
        if self.deliverer is None:
            return
        for record in await self.deliveries.for_run(run_id):
            if not record.destination.startswith(WATCH_DESTINATION):
                await self.deliverer.show_status(record, part)

    async def run_job(self, run_id: str) -> None:
        """Execute (or resume) a run under its lease with live progress, then deliver its outcome."""
        try:
            async with self.leases.hold(run_id, self.lease_owner, self.settings.worker.lease_seconds):
                await self._run(run_id)
        except RunBusyError as exc:
            log.info("%s; leaving it to that process", exc.message)

    async def _run(self, run_id: str) -> None:
        run = await self.store.get_run(run_id)
        if run.status in FINISHED:  # its process died after the run ended: only the delivery is left
            await self.deliver_outcome(run.id)
            return
        stages = [stage.name for stage in FLOWS[run.depth]]
        board = ProgressBoard(
            run.id,
            stages,
            run.source.shown,
            run.depth.value,
            lambda part: self.show(run.id, part),
            interval=self.settings.discord.progress_edit_interval_seconds,
        )
        try:
            await execute(self.store, self.resources, run.id, on_progress=board.update)
        except RunCancelledError:
            await board.finish("cancelled")
        except PipelineError as exc:
            await board.finish("failed", user_message(exc, run.id))
        except asyncio.CancelledError:
            if (await self.store.get_run(run.id)).status == "cancelled":
                await board.finish("cancelled")
                await self.deliver_outcome(run.id)
            raise
        else:
            await board.finish("succeeded")
        await self.deliver_outcome(run.id)

    async def outcome_parts(
        self, run: RunRecord, attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT
    ) -> list[MessagePart] | None:
        """The messages that report a finished run (None while it has not finished)."""
        if run.status == "succeeded":
            stored = {record.stage: record for record in await self.store.stages(run.id)}
            brief = stored.get("brief")
            if brief is not None and brief.output_json:
                briefing = Briefing.model_validate_json(brief.output_json)
                return render_briefing(briefing, run.id, attachment_limit=attachment_limit)
        if run.status == "cancelled":
            return [render_failure(run.id, "The run was cancelled.", cancelled=True)]
        if run.status in ("succeeded", "failed"):
            internal = run.error_code in (None, "internal_error")
            reason = (
                "internal error; an admin can find details in the logs" if internal else run.error_message
            )
            return [render_failure(run.id, f"{reason} (run {run.id})")]
        return None

    async def deliver_outcome(self, run_id: str) -> None:
        """Deliver a finished run's briefing or failure to every destination still owed it."""
        if self.deliverer is None:  # no Discord client in this process: the bot delivers it
            return
        run = await self.store.get_run(run_id)
        for record in await self.deliveries.for_run(run.id):
            if record.state == "delivered":
                continue
            parts = await self.outcome_parts(run, record.attachment_limit or DEFAULT_ATTACHMENT_LIMIT)
            if parts is None:
                return
            await self.deliverer.deliver(record, parts)

    async def deliver_owed(self) -> int:
        """Deliver every finished run's outcome still owed to a destination; how many runs."""
        owed = await self.deliveries.undelivered()
        run_ids = list(dict.fromkeys(record.run_id for record in owed))
        for run_id in run_ids:
            await self.deliver_outcome(run_id)
        return len(run_ids)

    async def recover(self) -> tuple[int, int]:
        """Deliver results finished while no process could; re-queue runs that were interrupted.

        Returns (runs delivered, runs re-queued).
        """
        delivered = await self.deliver_owed()
        unfinished = await self.deliveries.unfinished_runs()
        for run_id in unfinished:
            await self._queue().enqueue(run_id)
        if delivered or unfinished:
            log.info("recovered %d owed deliveries and %d unfinished runs", delivered, len(unfinished))
        return delivered, len(unfinished)
