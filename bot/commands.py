"""The slash commands: `/autointel`, `/runs status|list|cancel` and `/recall`.

Commands are thin: validate, defer, submit, reply. Validation (role, source, blocked address,
quota) happens before the acknowledgement so refusals are ephemeral; everything slow runs in
the queue. Errors of every command end in `on_error`, the one place that answers the user.

String options declare their maximum length (`url` 2,048 like `MAX_URL_LENGTH`, `query` 500,
`run` 64), so Discord itself refuses longer values before they reach the bot. An attachment
is refused up front when it is declared empty, too large, or neither audio/video by content
type nor by file name; one whose bytes are not media is refused by the acquisition probe.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from bot.errors import BadRequestError, BotError, NotAllowedError, user_message
from bot.guard import check_quota, check_role, is_admin
from bot.render import MessagePart
from bot.service import Destination, RunService
from bot.status import queued_part, recall_part, run_list_part, run_status_part
from memory.errors import MemoryStoreError
from observability.metrics import ACK_SECONDS, COMMANDS
from pipelines.errors import PipelineError
from pipelines.flow import PIPELINE_VERSION
from pipelines.models import Depth, Source
from pipelines.netguard import check_host, parse_ip_literal
from pipelines.sources import MAX_URL_LENGTH, normalise_source
from pipelines.store import RunRecord

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
DEPTHS = [app_commands.Choice(name=depth.value, value=depth.value) for depth in Depth]
MEDIA_SUFFIXES = frozenset(".mp3 .m4a .ogg .oga .opus .wav .flac .aac .webm .mp4 .mkv .mov .avi".split())
DNS_CHECK_SECONDS = 1.0
QUOTA_WAIT_SECONDS = 1.0  # the quota may refuse before the defer within this; Discord wants an ack in 3 s
RECALL_QUERY_MAX = 500
RUN_ID_MAX = 64  # run ids are 32 hex characters; the option leaves room for pasted whitespace
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def namespace_of(interaction: discord.Interaction) -> str:
    """The guild's memory namespace and run scope."""
    if interaction.guild_id is None:
        raise BadRequestError("AutoIntel commands work in servers, not in direct messages.")
    return str(interaction.guild_id)


async def precheck_url(source: Source, typed: str, allow_private: bool) -> None:
    """Refuse a blocked or unresolvable host before acknowledging (the download checks again).

    An IP address is judged as the member spelt it ("0x7f.1"), so the refusal names it that
    way next to the address it means; names are resolved in their canonical form.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(source.location)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    spelt = urlsplit(typed.strip()).hostname or ""
    literal = parse_ip_literal(host)
    if literal is not None and parse_ip_literal(spelt) == literal:
        host = spelt
    try:
        await asyncio.wait_for(check_host(host, port, allow_private), DNS_CHECK_SECONDS)
    except TimeoutError:
        log.info("DNS check of %s timed out; the download stage checks again", parts.hostname)


def _check_attachment(attachment: discord.Attachment, max_bytes: int) -> None:
    """Refuse, before downloading it, an attachment that is empty, too large or not media."""
    suffix = Path(attachment.filename).suffix.lower()
    kind = (attachment.content_type or "").split("/")[0]
    if kind not in ("audio", "video") and suffix not in MEDIA_SUFFIXES:
        raise BadRequestError(f"{attachment.filename} is not an audio or video file.")
    if attachment.size <= 0:
        raise BadRequestError(f"{attachment.filename} is empty (0 bytes).")
    if attachment.size > max_bytes:
        raise BadRequestError(
            f"{attachment.filename} is {attachment.size / 1e6:.3g} MB; the limit is {max_bytes / 1e6:.3g} MB."
        )


class Commands:
    """The bot's slash commands, bound to the run service."""

    def __init__(self, service: RunService) -> None:
        self.service = service
        self.settings = service.settings

    def register(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        """Add every command to `tree` and route their errors to `on_error`."""
        tree.add_command(self._autointel())
        tree.add_command(self._runs())
        tree.add_command(self._recall())
        tree.on_error = self.on_error  # type: ignore[method-assign]

    # --- /autointel ---------------------------------------------------------------------

    def _autointel(self) -> app_commands.Command[Any, ..., None]:
        @app_commands.command(name="autointel", description="Analyse and fact-check a video or audio file")
        @app_commands.describe(
            url="Link to the video or audio (YouTube and 1,000+ sites, or a direct media link)",
            depth="How deep to go: quick, standard, deep or comprehensive",
            attachment="Or upload an audio/video file instead of a link",
        )
        @app_commands.choices(depth=DEPTHS)
        @app_commands.guild_only()
        @app_commands.default_permissions(send_messages=True)
        async def autointel(
            interaction: discord.Interaction,
            url: app_commands.Range[str, 1, MAX_URL_LENGTH] | None = None,
            depth: app_commands.Choice[str] | None = None,
            attachment: discord.Attachment | None = None,
        ) -> None:
            await self.start_run(interaction, url, Depth(depth.value if depth else "standard"), attachment)

        return autointel

    async def start_run(
        self,
        interaction: discord.Interaction,
        url: str | None,
        depth: Depth,
        attachment: discord.Attachment | None,
    ) -> None:
        """Validate, defer, submit and answer with the run id and queue position."""
        received = time.perf_counter()
        namespace = namespace_of(interaction)
        check_role(interaction, self.settings.discord)
        if (url is None) == (attachment is None):
            raise BadRequestError("give either a url or an attachment (one of them).")
        source: Source | None = None
        if url is not None:
            source = normalise_source(url, allow_files=False)
            await precheck_url(source, url, self.settings.pipeline.allow_private_urls)
        else:
            assert attachment is not None
            _check_attachment(attachment, self.settings.pipeline.max_filesize_bytes)
        requester = str(interaction.user.id)
        quota = asyncio.ensure_future(
            check_quota(self.service.store, self.settings.discord, requester=requester, namespace=namespace)
        )
        if not (await asyncio.wait({quota}, timeout=QUOTA_WAIT_SECONDS))[0]:
            # The database is slow (restarting?): acknowledge first; a refusal then edits the answer.
            await interaction.response.defer(thinking=True)
        await quota
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True)
        ACK_SECONDS.observe(time.perf_counter() - received)
        if source is None:
            assert attachment is not None
            source = normalise_source(str(await self._save(attachment, namespace)), allow_files=True)
        # Only this guild's own finished runs: another guild's briefing cites its private memory.
        finished = await self.service.store.find_finished(
            source.key, depth, PIPELINE_VERSION, namespace=namespace
        )
        if finished is not None:
            await self._answer_from_store(interaction, finished)
            COMMANDS.labels(command="autointel", outcome="ok").inc()
            return
        destination = Destination(
            channel_id=interaction.channel_id or 0,
            guild_id=interaction.guild_id,
            application_id=interaction.application_id,
            interaction_token=interaction.token,
            attachment_limit=interaction.filesize_limit,
        )
        run, _record = await self.service.submit(
            source, depth, destination, requester=requester, namespace=namespace
        )
        position = await self.service.next_position()
        await self.service.show(run.id, queued_part(run, position))
        await self.service.enqueue(run.id)
        COMMANDS.labels(command="autointel", outcome="ok").inc()

    async def _save(self, attachment: discord.Attachment, namespace: str) -> Path:
        folder = self.settings.pipeline.data_dir / "uploads" / namespace  # a folder per guild
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{attachment.id}-{_UNSAFE_NAME.sub('_', attachment.filename)[-100:]}"
        await attachment.save(path)
        return path

    async def _answer_from_store(self, interaction: discord.Interaction, run: RunRecord) -> None:
        parts = await self.service.outcome_parts(run, interaction.filesize_limit) or []
        first, rest = (parts[0], parts[1:]) if parts else (MessagePart(), [])
        await interaction.edit_original_response(
            content=f"Already analysed (run `{run.id}`):",
            embeds=first.embeds,
            attachments=first.discord_files(),
            allowed_mentions=NO_MENTIONS,
        )
        for part in rest:
            await interaction.followup.send(
                embeds=part.embeds, files=part.discord_files(), allowed_mentions=NO_MENTIONS
            )

    # --- /runs ------------------------------------------------------------------------

    def _runs(self) -> app_commands.Group:
        group = app_commands.Group(
            name="runs",
            description="Status, list and cancellation of analyses",
            guild_only=True,
            default_permissions=discord.Permissions(send_messages=True),
        )

        @group.command(name="status", description="Show the progress of an analysis")
        @app_commands.describe(run="Run id (or its first 6+ characters)")
        async def status(
            interaction: discord.Interaction, run: app_commands.Range[str, 1, RUN_ID_MAX]
        ) -> None:
            record = await self._guild_run(interaction, run)
            stages = await self.service.store.stages(record.id)
            deliveries = await self.service.deliveries.for_run(record.id)
            await self._reply(interaction, run_status_part(record, stages, deliveries))

        @group.command(name="list", description="This server's recent analyses")
        async def list_(interaction: discord.Interaction) -> None:
            runs = await self.service.store.list_runs(10, namespace=namespace_of(interaction))
            await self._reply(interaction, run_list_part(runs))

        @group.command(name="cancel", description="Cancel an analysis (yours, or any as an admin)")
        @app_commands.describe(run="Run id (or its first 6+ characters)")
        async def cancel(
            interaction: discord.Interaction, run: app_commands.Range[str, 1, RUN_ID_MAX]
        ) -> None:
            record = await self._guild_run(interaction, run)
            if record.requester != str(interaction.user.id) and not is_admin(interaction):
                raise NotAllowedError("only the member who started this analysis or an admin can cancel it.")
            if await self.service.cancel(record):
                text = f"Cancelled run `{record.id}`."
            else:
                text = f"Run `{record.id}` has already finished ({record.status})."
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            COMMANDS.labels(command="runs cancel", outcome="ok").inc()

        return group

    async def _guild_run(self, interaction: discord.Interaction, run_id: str) -> RunRecord:
        return await self.service.store.get_run(run_id.strip(), namespace=namespace_of(interaction))

    async def _reply(self, interaction: discord.Interaction, part: MessagePart) -> None:
        await interaction.response.send_message(
            embeds=part.embeds, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        name = interaction.command.qualified_name if interaction.command else "?"
        COMMANDS.labels(command=name, outcome="ok").inc()

    # --- /recall ----------------------------------------------------------------------

    def _recall(self) -> app_commands.Command[Any, ..., None]:
        @app_commands.command(name="recall", description="Search what this server's analyses remember")
        @app_commands.describe(query="What to look for")
        @app_commands.guild_only()
        @app_commands.default_permissions(send_messages=True)
        async def recall(
            interaction: discord.Interaction, query: app_commands.Range[str, 1, RECALL_QUERY_MAX]
        ) -> None:
            namespace = namespace_of(interaction)
            memory = self.service.resources.memory
            if memory is None:
                raise BadRequestError("long-term memory is not enabled on this bot.")
            hits = await memory.search(namespace, query, limit=5)
            await self._reply(interaction, recall_part(query, hits))

        return recall

    # --- errors -----------------------------------------------------------------------

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Answer any command failure with one short ephemeral line; details go to the log."""
        original: BaseException = (
            error.original if isinstance(error, app_commands.CommandInvokeError) else error
        )
        if isinstance(original, app_commands.CheckFailure):
            original = NotAllowedError("you are not allowed to use this command here.")
        name = interaction.command.qualified_name if interaction.command else "?"
        expected = isinstance(original, PipelineError | BotError | MemoryStoreError)
        if expected:
            log.info("/%s refused for user %s: %s", name, interaction.user.id, original)
        else:
            log.error("/%s failed", name, exc_info=original)
        COMMANDS.labels(command=name, outcome="refused" if expected else "error").inc()
        text = user_message(original)
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(
                    content=text, embeds=[], allowed_mentions=NO_MENTIONS
                )
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not tell user %s about an error: %s", interaction.user.id, exc)
