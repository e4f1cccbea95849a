"""Who may start runs and how many: the role allow-list, hourly limits and the active-runs quota.

Counts come from the run store, so limits hold across restarts and across bot processes.
"""

from __future__ import annotations

from datetime import timedelta

import discord

from bot.errors import NotAllowedError, RateLimitedError
from pipelines.store import RunStore
from pipelines.tables import utcnow
from settings import DiscordSettings

ACTIVE = ("queued", "running", "interrupted")
HOUR = timedelta(hours=1)


def is_admin(interaction: discord.Interaction) -> bool:
    """Administrator or Manage Server, from the permissions Discord resolved for this interaction."""
    permissions = interaction.permissions
    return permissions.administrator or permissions.manage_guild


def _has_allowed_role(interaction: discord.Interaction, settings: DiscordSettings) -> bool:
    # The role ids Discord sent with the interaction (`roles` would drop ids missing from the cache).
    roles = set(getattr(interaction.user, "_roles", ()))
    return not roles.isdisjoint(settings.allowed_role_ids)


def check_role(interaction: discord.Interaction, settings: DiscordSettings) -> None:
    """Refuse members outside DISCORD_ALLOWED_ROLE_IDS (admins always pass; empty list = everyone)."""
    if not settings.allowed_role_ids or is_admin(interaction):
        return
    if not _has_allowed_role(interaction, settings):
        raise NotAllowedError("you need one of this server's AutoIntel roles to start an analysis.")


def check_watch_manager(interaction: discord.Interaction, settings: DiscordSettings) -> None:
    """Watches are managed by members with Manage Server, or with a role in DISCORD_ALLOWED_ROLE_IDS."""
    if not is_admin(interaction) and not _has_allowed_role(interaction, settings):
        raise NotAllowedError("managing watches needs the Manage Server permission or an AutoIntel role.")


async def check_quota(store: RunStore, settings: DiscordSettings, *, requester: str, namespace: str) -> None:
    """Refuse a new run over the per-user or per-guild hourly limit or the active-runs quota."""
    counts = await store.quota_counts(
        requester=requester, namespace=namespace, since=utcnow() - HOUR, active=ACTIVE
    )
    if counts.user_recent >= settings.user_runs_per_hour:
        raise RateLimitedError(
            f"you have started {counts.user_recent} analyses in the last hour "
            f"(limit {settings.user_runs_per_hour})",
            counts.user_oldest + HOUR if counts.user_oldest else None,
        )
    if counts.guild_recent >= settings.guild_runs_per_hour:
        raise RateLimitedError(
            f"this server has started {counts.guild_recent} analyses in the last hour "
            f"(limit {settings.guild_runs_per_hour})",
            counts.guild_oldest + HOUR if counts.guild_oldest else None,
        )
    if counts.guild_active >= settings.max_active_runs_per_guild:
        raise RateLimitedError(
            f"this server already has {counts.guild_active} analyses in progress (limit "
            f"{settings.max_active_runs_per_guild}); try again when one finishes"
        )
