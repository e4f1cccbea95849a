"""Where discord.py sends its REST calls and opens its gateway: taken from settings.

discord.py keeps both addresses as class attributes, so pointing the bot at another server
(a regional proxy, a self-hosted gateway, the test emulator) means setting them once at
start-up, before the client logs in. Interaction webhooks use the same REST base.
"""

from __future__ import annotations

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route


def use_discord_endpoints(api_base_url: str, gateway_url: str) -> None:
    """Send every REST request to `api_base_url` and connect the gateway at `gateway_url`."""
    Route.BASE = api_base_url.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


__all__ = ["use_discord_endpoints"]
