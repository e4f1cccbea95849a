"""Watchlists on the Discord side: submitting watch runs, the polling loop, daily digests.

`WatchDesk` joins the watch poller (pipelines.watch) to the run service: a new entry becomes
a run in the watch's guild namespace, queued like any /autointel run, whose briefing goes to
the watch's channel through the channel webhook (or a channel message without Manage
Webhooks) — without a progress message. A `digest:daily` watch registers no destination per
run; instead, once a day, one message lists the briefings finished since the last digest
with their top verdicts (`send_digests`; each window is claimed, so it is posted once).

Who polls: the bot's own loop (`run_loop`) in the embedded single-process mode, the arq cron
job in `autointel worker` processes (bot.worker), or `autointel watch poll` once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import discord

from bot.errors import DeliveryError
from bot.render import COLOURS, DESCRIPTION_LIMIT, MessagePart, safe
from bot.service import Destination, RunService
from pipelines.brief import link_label, link_url, verdict_label
from pipelines.models import Briefing, Depth, Source
from pipelines.tables import utcnow
from pipelines.watch import DigestWindow, PollSummary, WatchPoller, claim_digests
from pipelines.watch_store import DigestItem, WatchRecord, WatchStore

log = logging.getLogger(__name__)

TOP_VERDICTS = 3  # claims shown per briefing in a digest
MAX_TICK_SECONDS = 60.0


class WatchDesk:
    """Watch runs through the run service; the embedded polling loop; daily digests."""

    def __init__(self, service: RunService) -> None:
        self.service = service
        self.settings = service.settings
        self.watches = WatchStore(service.store.engine)
        self._wake = asyncio.Event()

    def poller(self) -> WatchPoller:
        """A poller that submits through this desk (close it, or use `async with`)."""
        return WatchPoller(self.settings, self.watches, self.submit)

    async def submit(self, watch: WatchRecord, source: Source) -> str:
        """Record and queue the run of a watch's new entry; its id."""
        destination = None
        if watch.digest != "daily":
            destination = Destination(
                channel_id=int(watch.channel_id), guild_id=int(watch.guild_id), watch_id=watch.id
            )
        run, _record = await self.service.submit(
            source, Depth(watch.depth), destination, requester=f"watch:{watch.id}", namespace=watch.guild_id
        )
        await self.service.enqueue(run.id)
        return run.id

    async def tick(self, poller: WatchPoller) -> PollSummary:
        """Poll every due watch once, then send the digests that are due."""
        summary = await poller.poll_due()
        await self.send_digests()
        return summary

    def wake(self) -> None:
        """Poll now (a watch was added) instead of at the next tick."""
        self._wake.set()

    async def run_loop(self) -> None:
        """Tick until cancelled (the bot's embedded mode)."""
        every = tick_interval(self.settings.watch.interval_minutes).total_seconds()
        async with self.poller() as poller:
            while True:
                try:
                    await self.tick(poller)
                except Exception:  # the loop's boundary: log, and try again next tick
                    log.exception("watch polling failed; trying again at the next tick")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), every)

    # --- digests ------------------------------------------------------------------------

    async def send_digests(self) -> int:
        """Post every daily digest that is due (nothing without Discord); how many were posted."""
        deliverer = self.service.deliverer
        if deliverer is None:
            return 0
        posted = 0
        for window in await claim_digests(self.watches, utcnow()):
            items = await self.watches.digest_items(window.watch.id, window.start, window.end)
            if not items:
                continue
            part = await self.digest_part(window, items)
            try:
                await deliverer.post_to_channel(int(window.watch.channel_id), part, "digest")
            except DeliveryError as exc:
                log.warning("watch %s: digest not posted (%s); trying again later", window.watch.id, exc)
                await self.watches.release_digest(window.watch, window.end)
                continue
            posted += 1
        return posted

    async def digest_part(self, window: DigestWindow, items: list[DigestItem]) -> MessagePart:
        """One embed: each finished run's title (linked), run id and its top verdicts."""
        lines: list[str] = []
        for item in items:
            name = safe(link_label(item.title or item.url or item.run_id)) or item.run_id
            target = link_url(item.url)
            head = f"[{name}]({target})" if target else name
            if item.status != "succeeded":
                lines.append(f"✗ **{head}** · {item.status} · run `{item.run_id[:12]}`")
                continue
            briefing = await self._briefing(item.run_id)
            lines.append(f"📺 **{head}** · run `{item.run_id[:12]}`")
            checked = sorted(briefing.claims if briefing else [], key=lambda c: -c.claim.checkworthiness)
            lines += [f"└ {verdict_label(c)} — {safe(c.claim.text)[:200]}" for c in checked[:TOP_VERDICTS]]
        text = "\n".join(lines)
        if len(text) > DESCRIPTION_LIMIT:
            text = text[: DESCRIPTION_LIMIT - 2].rsplit("\n", 1)[0] + "\n…"
        since = int(window.start.timestamp())
        embed = discord.Embed(
            title=f"📰 Daily digest · {len(items)} new", description=text, colour=COLOURS["ok"]
        )
        embed.add_field(name="Watching", value=safe(window.watch.url)[:1024], inline=False)
        embed.add_field(name="Since", value=f"<t:{since}:f>", inline=True)
        embed.set_footer(text=f"AutoIntel · watch {window.watch.id}")
        return MessagePart(embeds=[embed])

    async def _briefing(self, run_id: str) -> Briefing | None:
        for record in await self.service.store.stages(run_id):
            if record.stage == "brief" and record.output_json:
                return Briefing.model_validate_json(record.output_json)
        return None


def tick_interval(minutes: float) -> timedelta:
    """How often pollers tick: the watch interval, at most a minute (each watch keeps its own time)."""
    return timedelta(seconds=min(minutes * 60, MAX_TICK_SECONDS))
