"""A test-only Discord: REST API v10 and gateway for the real discord.py client, on 127.0.0.1.

    emu = DiscordEmulator(ack_deadline=3.0, token_ttl=900.0)
    await emu.start()
    use_discord_endpoints(emu.api_base_url, emu.gateway_url)
    guild_id = emu.add_guild("Test guild")
    ...  # start the bot with emu.bot_token, then emu.invoke(...), emu.wait_for_message(...)
    await emu.stop()

It answers like Discord, error codes included (10062 after the 3 s acknowledgement deadline,
40060 on a second acknowledgement, 50027 for expired tokens, 50035 for invalid bodies, 50013
for missing permissions, 30007 past 15 webhooks, 413/40005 for oversized files), and records
every message, edit, interaction and request for assertions.
"""

from .constants import DEFAULT_BOT_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS, DEFAULT_FILE_LIMIT
from .emulator import DiscordEmulator
from .errors import DiscordError
from .models import (
    EmulatedInteraction,
    MessageEdit,
    MessageVersion,
    RecordedAttachment,
    RecordedMessage,
    RecordedRequest,
    Webhook,
)

__all__ = [
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "DEFAULT_FILE_LIMIT",
    "DiscordEmulator",
    "DiscordError",
    "EmulatedInteraction",
    "MessageEdit",
    "MessageVersion",
    "RecordedAttachment",
    "RecordedMessage",
    "RecordedRequest",
    "Webhook",
]
