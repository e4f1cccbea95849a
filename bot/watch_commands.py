"""`/watch add|list|remove`: watch a channel, playlist or feed and analyse every new upload.

Thin like the other commands: check who asks (Manage Server, or a role in
DISCORD_ALLOWED_ROLE_IDS, for add and remove), validate (link, blocked address, limits), record,
reply. Every answer is ephemeral and mentions nobody; refusals end in the shared `on_error`.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.commands import DEPTHS, NO_MENTIONS, namespace_of, precheck_url
from bot.guard import check_watch_manager
from bot.render import COLOURS, safe
from bot.watches import WatchDesk
from observability.metrics import COMMANDS
from pipelines.errors import WatchNotFoundError
from pipelines.models import Depth
from pipelines.tables import utcnow
from pipelines.watch import add_watch, watch_source
from pipelines.watch_store import WatchRecord

DIGEST_CHOICES = [
    app_commands.Choice(name="none: one message per upload", value="none"),
    app_commands.Choice(name="daily: one message a day listing the briefings", value="daily"),
]


def _stamp(moment: Any, style: str = "R") -> str:
    return f"<t:{int(moment.timestamp())}:{style}>"


def watch_line(watch: WatchRecord) -> str:
    """One watch in `/watch list`: target, options, and how polling goes (errors included)."""
    digest = " · daily digest" if watch.digest == "daily" else ""
    head = f"`{watch.id}` {safe(watch.url)[:200]} → <#{watch.channel_id}> · {watch.depth}{digest}"
    if watch.error_count:
        reason = safe(watch.last_error or "unknown error")[:300]
        state = f"⚠️ {watch.error_count} failed polls: {reason}; next try {_stamp(watch.next_poll_at)}"
    elif watch.last_polled_at is None:
        state = f"🕒 first check {_stamp(max(watch.next_poll_at, utcnow()))}"
    else:
        note = f" · {safe(watch.last_error)}" if watch.last_error else ""
        state = f"✓ checked {_stamp(watch.last_polled_at)}, next {_stamp(watch.next_poll_at)}{note}"
    return f"{head}\n└ {state}"


class WatchCommands:
    """The /watch command group, bound to the watch desk."""

    def __init__(self, desk: WatchDesk) -> None:
        self.desk = desk
        self.settings = desk.settings

    def register(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        """Add /watch to `tree` (its errors go to the tree's shared `on_error`)."""
        tree.add_command(self._group())

    def _group(self) -> app_commands.Group:
        group = app_commands.Group(
            name="watch",
            description="Analyse every new upload of a channel, playlist or feed",
            guild_only=True,
            default_permissions=discord.Permissions(send_messages=True),
        )

        @group.command(name="add", description="Watch a channel, playlist or RSS/Atom feed")
        @app_commands.describe(
            url="Link to a channel, playlist or RSS/Atom feed",
            depth="How deep each new upload is analysed",
            channel="Where briefings go (default: this channel)",
            backfill="Also analyse the newest N existing uploads (default 0)",
            digest="One message per upload, or one daily digest",
        )
        @app_commands.choices(depth=DEPTHS, digest=DIGEST_CHOICES)
        async def add(
            interaction: discord.Interaction,
            url: str,
            depth: app_commands.Choice[str],
            channel: discord.TextChannel | None = None,
            backfill: app_commands.Range[int, 0, 1000] = 0,
            digest: app_commands.Choice[str] | None = None,
        ) -> None:
            await self.add(interaction, url, Depth(depth.value), channel, backfill, digest)

        @group.command(name="list", description="This server's watches and how their polling goes")
        async def list_(interaction: discord.Interaction) -> None:
            watches = await self.desk.watches.watches(namespace_of(interaction))
            lines = [watch_line(watch) for watch in watches] or ["None yet: add one with /watch add."]
            text = "\n".join(lines)
            embed = discord.Embed(title="👀 Watches", description=text[:4096], colour=COLOURS["ok"])
            embed.set_footer(text=f"AutoIntel · {len(watches)} of {self.settings.watch.max_per_guild}")
            await self._reply(interaction, "watch list", embed=embed)

        @group.command(name="remove", description="Stop watching (Manage Server or an AutoIntel role)")
        @app_commands.describe(watch="The watch's number, from /watch list")
        async def remove(interaction: discord.Interaction, watch: int) -> None:
            namespace = namespace_of(interaction)
            check_watch_manager(interaction, self.settings.discord)
            record = await self.desk.watches.get(watch)
            if record is None or record.guild_id != namespace:
                raise WatchNotFoundError(f"no watch {watch} in this server")
            await self.desk.watches.remove(record.id, namespace)
            text = f"Stopped watching {safe(record.url)} (watch `{record.id}`)."
            await self._reply(interaction, "watch remove", content=text)

        return group

    async def add(
        self,
        interaction: discord.Interaction,
        url: str,
        depth: Depth,
        channel: discord.TextChannel | None,
        backfill: int,
        digest: app_commands.Choice[str] | None,
    ) -> None:
        """Check the member and the link, record the watch, wake the poller, answer."""
        namespace = namespace_of(interaction)
        check_watch_manager(interaction, self.settings.discord)
        await precheck_url(watch_source(url), url, self.settings.pipeline.allow_private_urls)
        target = channel.id if channel is not None else interaction.channel_id
        watch = await add_watch(
            self.desk.watches,
            self.settings,
            url=url,
            guild_id=namespace,
            channel_id=str(target),
            depth=depth,
            digest=digest.value if digest else "none",
            backfill=backfill,
            created_by=str(interaction.user.id),
        )
        self.desk.wake()
        how = "a daily digest" if watch.digest == "daily" else "a briefing per upload"
        extra = f" The newest {backfill} uploads are analysed first." if backfill else ""
        text = (
            f"👀 Watching {safe(watch.url)} (watch `{watch.id}`): {how} in <#{target}>, "
            f"depth {watch.depth}.{extra} Checked every {self.settings.watch.interval_minutes:g} minutes."
        )
        await self._reply(interaction, "watch add", content=text)

    async def _reply(
        self,
        interaction: discord.Interaction,
        name: str,
        *,
        content: str = "",
        embed: discord.Embed | None = None,
    ) -> None:
        await interaction.response.send_message(
            content, embeds=[embed] if embed else [], ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        COMMANDS.labels(command=name, outcome="ok").inc()
