"""The delivery chain: interaction token → channel webhook → channel message, exactly once.

While the interaction token is usable (younger than DISCORD_TOKEN_MARGIN_SECONDS, an age taken
on the database's clock and then the monotonic clock, never a skewed wall clock; and not yet
refused), the progress message is the interaction's original response (edited) and the
briefing goes out as followups. Past the margin, or at once on HTTP 401 / code 50027 (or an
unknown-webhook answer), the token is forgotten and the bot uses a channel webhook it created
(reused across runs; named DISCORD_WEBHOOK_NAME), posting a new progress message there and
editing it. Without Manage Webhooks, or when the channel has its 15 webhooks, it posts plain
channel messages with the bot token. Each switch is logged and counted.

Exactly once: a briefing is posted under a claim on its delivery record, and every posted
part is counted in the store before the next, so a retry or a restart continues after the
last part posted and never posts one twice. The claim is renewed every third of
`claim_seconds` while the parts go out (a rate-limit wait included); a claim left unrenewed
that long belongs to a process that died, and another process takes the delivery over.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta

import discord
from discord.http import handle_message_parameters
from discord.webhook.async_ import async_context

from bot.errors import DeliveryError
from bot.render import MessagePart
from observability.metrics import DELIVERIES, DELIVERY_FAILURES, DELIVERY_FALLBACKS
from pipelines.clock import MonotonicAge
from pipelines.deliveries import DeliveryRecord, DeliveryStore
from settings import DiscordSettings

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
CLAIM_SECONDS = 60.0  # a delivery claim not renewed this long is taken over
_DEAD_TOKEN_CODES = frozenset({50027, 10015, 10062})
_WEBHOOK_LIMIT_CODE = 30007
_WEBHOOK_CHANNELS = (discord.TextChannel, discord.VoiceChannel, discord.StageChannel, discord.ForumChannel)


def _reason(exc: discord.HTTPException) -> str:
    return f"HTTP {exc.status} code {exc.code}"


class Deliverer:
    """Posts and edits a run's messages along the delivery chain."""

    def __init__(
        self,
        client: discord.Client,
        deliveries: DeliveryStore,
        settings: DiscordSettings,
        *,
        claim_seconds: float = CLAIM_SECONDS,
    ) -> None:
        self.client = client
        self.deliveries = deliveries
        self.settings = settings
        self.claim_seconds = claim_seconds
        self._webhooks: dict[int, discord.Webhook] = {}
        self._no_webhook: set[int] = set()  # channels where webhooks are refused (avoid repeated 403s)
        self._dead_tokens: set[int] = set()  # delivery ids whose interaction token is gone
        self._token_ages = MonotonicAge()  # never a wall-clock difference: the clock may jump
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    # --- the interaction token ---------------------------------------------------------

    async def token_usable(self, record: DeliveryRecord) -> bool:
        """True while the interaction token may still be used (present, young enough, not refused)."""
        if record.id in self._dead_tokens or not record.interaction_token or not record.application_id:
            return False
        if record.interaction_at is None:
            return False
        if not self._token_ages.known(record.id):  # its age on the database's clock, then monotonic
            self._token_ages.anchor(
                record.id, (await self.deliveries.now() - record.interaction_at).total_seconds()
            )
        age = self._token_ages.age(record.id)
        if age < self.settings.token_margin_seconds:
            return True
        await self._drop_token(record, "token_age", f"token is {age:.0f} s old")
        return False

    async def _drop_token(self, record: DeliveryRecord, reason: str, detail: str) -> None:
        if record.id in self._dead_tokens:
            return
        self._dead_tokens.add(record.id)
        DELIVERY_FALLBACKS.labels(from_route="interaction", reason=reason).inc()
        log.info(
            "run %s: leaving the interaction token (%s); using the channel webhook", record.run_id, detail
        )
        await self.deliveries.forget_token(record.id)

    async def _interaction_failed(self, record: DeliveryRecord, exc: discord.HTTPException) -> None:
        if exc.status == 401 or exc.code in _DEAD_TOKEN_CODES:
            await self._drop_token(record, "token_refused", _reason(exc))
        else:
            DELIVERY_FALLBACKS.labels(from_route="interaction", reason="http_error").inc()
            log.warning(
                "run %s: interaction route failed (%s); trying the webhook", record.run_id, _reason(exc)
            )

    def _interaction_hook(self, record: DeliveryRecord) -> discord.Webhook:
        assert record.application_id and record.interaction_token
        return discord.Webhook.partial(
            int(record.application_id), record.interaction_token, client=self.client
        )

    async def _edit_original(self, record: DeliveryRecord, part: MessagePart) -> None:
        hook = self._interaction_hook(record)
        params = handle_message_parameters(
            content=None, embeds=part.embeds, files=part.discord_files(), allowed_mentions=NO_MENTIONS
        )
        with params:
            await async_context.get().edit_original_interaction_response(
                hook.id,
                hook.token or "",
                session=hook.session,
                proxy=hook.proxy,
                proxy_auth=hook.proxy_auth,
                payload=params.payload,
                multipart=params.multipart,
                files=params.files,
            )

    # --- the channel webhook -----------------------------------------------------------

    async def _channel_webhook(self, channel_id: int) -> discord.Webhook | None:
        """Our webhook in the channel (found or created), or None where webhooks are not possible."""
        if channel_id in self._no_webhook:
            return None
        if channel_id in self._webhooks:
            return self._webhooks[channel_id]
        try:
            channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
            if not isinstance(channel, _WEBHOOK_CHANNELS):
                self._refuse_webhooks(channel_id, "channel_type", "this channel type has no webhooks")
                return None
            me = self.client.user.id if self.client.user else None
            ours = [
                hook
                for hook in await channel.webhooks()
                if hook.token and hook.user is not None and hook.user.id == me
            ]
            hook = next((h for h in ours if h.name == self.settings.webhook_name), ours[0] if ours else None)
            if hook is None:
                hook = await channel.create_webhook(
                    name=self.settings.webhook_name, reason="AutoIntel briefings"
                )
        except discord.Forbidden as exc:
            self._refuse_webhooks(channel_id, "missing_manage_webhooks", _reason(exc))
            return None
        except discord.HTTPException as exc:
            reason = "webhook_limit" if exc.code == _WEBHOOK_LIMIT_CODE else "webhook_error"
            self._refuse_webhooks(channel_id, reason, _reason(exc))
            return None
        self._webhooks[channel_id] = hook
        return hook

    def _refuse_webhooks(self, channel_id: int, reason: str, detail: str) -> None:
        self._no_webhook.add(channel_id)
        DELIVERY_FALLBACKS.labels(from_route="webhook", reason=reason).inc()
        log.warning("channel %s: no webhook (%s); posting with the bot token", channel_id, detail)

    def _webhook_failed(self, channel_id: int, exc: discord.HTTPException) -> None:
        self._webhooks.pop(channel_id, None)  # deleted or revoked: found or created afresh next time
        DELIVERY_FALLBACKS.labels(from_route="webhook", reason="http_error").inc()
        log.warning("channel %s: webhook failed (%s)", channel_id, _reason(exc))

    # --- posting -----------------------------------------------------------------------

    async def _post(self, record: DeliveryRecord, part: MessagePart, kind: str) -> tuple[str, str]:
        """Post one message by the first route that works; returns (route, message id)."""
        if await self.token_usable(record):
            try:
                message = await self._interaction_hook(record).send(
                    embeds=part.embeds, files=part.discord_files(), allowed_mentions=NO_MENTIONS, wait=True
                )
                DELIVERIES.labels(kind=kind, route="interaction").inc()
                return "interaction", str(message.id)
            except discord.HTTPException as exc:
                await self._interaction_failed(record, exc)
        return await self.post_to_channel(int(record.channel_id), part, kind)

    async def post_to_channel(self, channel_id: int, part: MessagePart, kind: str) -> tuple[str, str]:
        """Post through the channel webhook, else as a channel message; returns (route, message id).

        Raises `DeliveryError` when neither route works.
        """
        for _attempt in range(2):  # a vanished webhook is looked up (or created) once more
            hook = await self._channel_webhook(channel_id)
            if hook is None:
                break
            try:
                message = await hook.send(
                    embeds=part.embeds, files=part.discord_files(), allowed_mentions=NO_MENTIONS, wait=True
                )
                DELIVERIES.labels(kind=kind, route="webhook").inc()
                return "webhook", str(message.id)
            except discord.HTTPException as exc:
                self._webhook_failed(channel_id, exc)
                if not isinstance(exc, discord.NotFound):
                    break
        try:
            channel = self.client.get_partial_messageable(channel_id)
            sent = await channel.send(
                embeds=part.embeds, files=part.discord_files(), allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            raise DeliveryError(f"could not post in channel {channel_id}: {_reason(exc)} {exc.text}") from exc
        DELIVERIES.labels(kind=kind, route="channel").inc()
        return "channel", str(sent.id)

    async def _edit(self, record: DeliveryRecord, part: MessagePart) -> bool:
        """Edit the existing progress message; False when there is none to edit any more."""
        route, message_id = record.status_route, record.status_message_id
        try:
            if route in (None, "interaction"):
                if not await self.token_usable(record):
                    return False
                try:
                    await self._edit_original(record, part)
                except discord.HTTPException as exc:
                    await self._interaction_failed(record, exc)
                    return False
                if route is None:
                    await self.deliveries.set_status_message(record.id, "interaction", None)
            elif route == "webhook" and message_id:
                hook = await self._channel_webhook(int(record.channel_id))
                if hook is None:
                    return False
                await hook.edit_message(int(message_id), embeds=part.embeds, allowed_mentions=NO_MENTIONS)
            elif route == "channel" and message_id:
                message = self.client.get_partial_messageable(int(record.channel_id)).get_partial_message(
                    int(message_id)
                )
                await message.edit(embeds=part.embeds, allowed_mentions=NO_MENTIONS)
            else:
                return False
        except discord.HTTPException as exc:
            if route == "webhook":
                self._webhook_failed(int(record.channel_id), exc)
            log.warning("run %s: progress edit via %s failed (%s)", record.run_id, route, _reason(exc))
            return False
        DELIVERIES.labels(kind="status", route=route or "interaction").inc()
        return True

    # --- public ------------------------------------------------------------------------

    async def show_status(self, record: DeliveryRecord, part: MessagePart) -> None:
        """Show `part` as the run's progress message: edit it, or post a new one where needed."""
        async with self._locks[record.id]:
            current = await self.deliveries.get(record.run_id, record.destination) or record
            if await self._edit(current, part):
                return
            try:
                route, message_id = await self._post(current, part, "status")
            except DeliveryError as exc:
                log.warning("run %s: progress not shown: %s", record.run_id, exc.message)
                return
            await self.deliveries.set_status_message(current.id, route, message_id)

    async def deliver(self, record: DeliveryRecord, parts: list[MessagePart]) -> bool:
        """Post the briefing parts not yet posted; False when already delivered or claimed elsewhere."""
        async with self._locks[record.id]:
            claimed = await self.deliveries.claim(
                record.id, stale_after=timedelta(seconds=self.claim_seconds)
            )
            if claimed is None:
                return False
            keeper = asyncio.create_task(self._keep_claim(record, claimed), name=f"claim-{record.id}")
            try:
                current = await self.deliveries.get(record.run_id, record.destination) or record
                for index in range(current.parts_sent, len(parts)):
                    if keeper.done():  # the claim was lost: the process that took it posts the rest
                        return False
                    route, message_id = await self._post(current, parts[index], "briefing")
                    await self.deliveries.part_sent(current.id, index + 1, route, message_id)
            except DeliveryError as exc:
                DELIVERY_FAILURES.labels(kind="briefing").inc()
                log.error("run %s: briefing not delivered: %s", record.run_id, exc.message)
                await self.deliveries.failed(current.id, exc.message)
                return False
            finally:
                keeper.cancel()
            await self.deliveries.delivered(current.id)
            return True

    async def _keep_claim(self, record: DeliveryRecord, claimed: datetime) -> None:
        """Renew the delivery claim every third of `claim_seconds`; return when it was taken over."""
        held: datetime | None = claimed
        while held is not None:
            await asyncio.sleep(self.claim_seconds / 3)
            try:
                held = await self.deliveries.renew_claim(record.id, held)
            except Exception:  # the database is gone for longer than its retries: try next beat
                log.warning("run %s: could not renew the delivery claim", record.run_id, exc_info=True)
        log.error("run %s: another process took the delivery over; stopping here", record.run_id)
