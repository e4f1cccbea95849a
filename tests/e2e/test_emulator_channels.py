"""The Discord emulator's channels, webhooks, validation, permissions and gateway, with real discord.py."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import discord
import pytest

from bot.endpoints import use_discord_endpoints
from e2e.discord_emulator import DiscordEmulator
from e2e.minimal_bot import MinimalBot, start_minimal_bot


def text_channel(mini_bot: MinimalBot) -> discord.TextChannel:
    """The bot's cached default channel."""
    channel = mini_bot.client.get_channel(mini_bot.channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_channel_webhook_create_list_execute_edit_delete(mini_bot: MinimalBot) -> None:
    emu, channel = mini_bot.emu, text_channel(mini_bot)
    webhook = await channel.create_webhook(name="AutoIntel relay")
    assert webhook.token and webhook.user is not None and webhook.user.id == emu.bot_user_id
    assert [w.id for w in await channel.webhooks()] == [webhook.id]
    assert [w.id for w in await channel.guild.webhooks()] == [webhook.id]
    assert (await mini_bot.client.fetch_webhook(webhook.id)).channel_id == channel.id
    sent = await webhook.send("hello", username="Relay", embed=discord.Embed(title="Run r1"), wait=True)
    edited = await sent.edit(content="hello again")
    assert edited.content == "hello again" and sent.author.name == "Relay"
    [recorded] = emu.messages
    assert recorded.via == "channel_webhook" and recorded.webhook_id == webhook.id
    assert recorded.embeds[0]["title"] == "Run r1" and recorded.edits[0].previous.content == "hello"
    assert emu.webhooks == {channel.id: [emu.state.webhooks[webhook.id]]}
    with pytest.raises(discord.HTTPException) as bad_token:
        await discord.Webhook.partial(webhook.id, "not-the-token", client=mini_bot.client).send(
            "x", wait=True
        )
    assert (bad_token.value.status, bad_token.value.code) == (401, 50027)
    await webhook.delete()
    with pytest.raises(discord.NotFound) as gone:
        await webhook.send("after delete", wait=True)
    assert gone.value.code == 10015 and emu.webhooks == {}


async def test_webhook_limit_and_forbidden_names(mini_bot: MinimalBot) -> None:
    channel = text_channel(mini_bot)
    for i in range(15):
        await channel.create_webhook(name=f"hook {i}")
    with pytest.raises(discord.HTTPException) as limit:
        await channel.create_webhook(name="one too many")
    assert (limit.value.status, limit.value.code) == (400, 30007)
    other_id = mini_bot.emu.add_channel(mini_bot.guild_id, "other")
    other = await mini_bot.emu.wait_for(lambda: mini_bot.client.get_channel(other_id), timeout=2)
    assert isinstance(other, discord.TextChannel)
    for name in ("My Discord hook", "clyde", ""):
        with pytest.raises(discord.HTTPException) as invalid:
            await other.create_webhook(name=name)
        assert (invalid.value.status, invalid.value.code) == (400, 50035)
    assert mini_bot.emu.webhooks.get(other_id) is None


async def test_missing_manage_webhooks_is_forbidden_everywhere(mini_bot: MinimalBot) -> None:
    emu, channel = mini_bot.emu, text_channel(mini_bot)
    effective = emu.set_bot_permissions(mini_bot.channel_id, manage_webhooks=False)
    assert not discord.Permissions(effective).manage_webhooks
    await emu.wait_for(lambda: not channel.permissions_for(channel.guild.me).manage_webhooks, timeout=2)
    with pytest.raises(discord.Forbidden) as create:
        await channel.create_webhook(name="nope")
    with pytest.raises(discord.Forbidden) as listing:
        await channel.webhooks()
    assert create.value.code == listing.value.code == 50013

    async def handler(interaction: discord.Interaction, **_: Any) -> Any:
        await interaction.response.send_message("checked", ephemeral=True)
        return interaction.app_permissions

    mini_bot.handlers["autointel"] = handler
    await emu.invoke(
        mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={"url": "u"}
    )
    app_permissions = await mini_bot.result()
    assert not app_permissions.manage_webhooks and app_permissions.send_messages


async def test_channel_message_send_edit_history_and_validation(mini_bot: MinimalBot) -> None:
    emu = mini_bot.emu
    channel = mini_bot.client.get_partial_messageable(mini_bot.channel_id)
    first = await channel.send("hello")
    second = await channel.send("world", file=discord.File(io.BytesIO(b"data"), "notes.txt"))
    await first.edit(content="hello, edited")
    assert [m.content for m in emu.messages] == ["hello, edited", "world"]
    assert emu.messages[0].via == "channel" and len(emu.messages[0].edits) == 1
    assert emu.messages[1].attachments[0].data == b"data"
    assert [m.id async for m in channel.history(limit=10)] == [second.id, first.id]
    fetched = await channel.fetch_message(first.id)
    assert fetched.content == "hello, edited" and fetched.edited_at is not None
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035 and "content" in too_long.value.text
    with pytest.raises(discord.HTTPException) as empty:
        await channel.send()
    assert (empty.value.status, empty.value.code) == (400, 50006)
    await first.delete()
    with pytest.raises(discord.NotFound) as deleted:
        await channel.fetch_message(first.id)
    assert deleted.value.code == 10008 and emu.messages[0].deleted


async def test_embed_limits(mini_bot: MinimalBot) -> None:
    channel = mini_bot.client.get_partial_messageable(mini_bot.channel_id)
    cases: list[tuple[list[discord.Embed], str]] = [
        ([discord.Embed(title="t" * 257)], "title"),
        ([discord.Embed(description="d" * 4097)], "description"),
        ([discord.Embed(description="d" * 3500), discord.Embed(description="d" * 2501)], "6000"),
        ([discord.Embed().add_field(name="n", value="v" * 1025)], "value"),
        ([discord.Embed().set_footer(text="f" * 2049)], "footer"),
        ([discord.Embed().set_author(name="a" * 257)], "author"),
    ]
    many_fields = discord.Embed()
    for i in range(26):
        many_fields.add_field(name=str(i), value="v")
    cases.append(([many_fields], "fields"))
    for embeds, where in cases:
        with pytest.raises(discord.HTTPException) as invalid:
            await channel.send(embeds=embeds)
        assert invalid.value.code == 50035 and where in invalid.value.text, where
    assert mini_bot.emu.messages == []


async def test_allowed_mentions_decide_who_is_pinged(mini_bot: MinimalBot) -> None:
    emu = mini_bot.emu
    channel = mini_bot.client.get_partial_messageable(mini_bot.channel_id)
    await channel.send(f"@everyone <@{mini_bot.user_id}>", allowed_mentions=discord.AllowedMentions.none())
    await channel.send(f"@everyone <@{mini_bot.user_id}>")
    quiet, loud = emu.messages
    assert quiet.allowed_mentions == {"parse": []} and not quiet.mention_everyone and quiet.mentions == []
    assert loud.allowed_mentions is None and loud.mention_everyone and loud.mentions == [mini_bot.user_id]
    webhook = await text_channel(mini_bot).create_webhook(name="relay")
    await webhook.send("@here", allowed_mentions=discord.AllowedMentions(everyone=False), wait=True)
    assert not emu.messages[-1].mention_everyone


async def test_permissions_and_file_size_for_channel_messages(mini_bot: MinimalBot) -> None:
    emu = mini_bot.emu
    channel = mini_bot.client.get_partial_messageable(mini_bot.channel_id)
    emu.set_bot_permissions(mini_bot.channel_id, attach_files=False)
    with pytest.raises(discord.Forbidden) as no_files:
        await channel.send("report", file=discord.File(io.BytesIO(b"x"), "r.txt"))
    emu.set_bot_permissions(mini_bot.channel_id, attach_files=True, send_messages=False)
    with pytest.raises(discord.Forbidden) as no_send:
        await channel.send("hi")
    assert no_files.value.code == no_send.value.code == 50013
    emu.set_bot_permissions(mini_bot.channel_id, send_messages=True)
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(file=discord.File(io.BytesIO(bytes(10 * 1024 * 1024 + 1)), "big.bin"))
    assert (too_big.value.status, too_big.value.code) == (413, 40005)


async def test_interaction_upload_limit(mini_bot: MinimalBot) -> None:
    async def handler(interaction: discord.Interaction, **_: Any) -> Any:
        await interaction.response.defer()
        await interaction.edit_original_response(content="ok")
        try:
            await interaction.followup.send(file=discord.File(io.BytesIO(bytes(2048)), "clip.ogg"))
        except discord.HTTPException as exc:
            return exc
        return interaction.filesize_limit

    mini_bot.handlers["autointel"] = handler
    await mini_bot.emu.invoke(
        mini_bot.guild_id,
        mini_bot.channel_id,
        mini_bot.user_id,
        "autointel",
        options={"url": "u"},
        attachment_size_limit=1024,
    )
    error = await mini_bot.result()
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (413, 40005)


async def test_injected_rate_limit_is_retried_by_discord_py(mini_bot: MinimalBot) -> None:
    emu = mini_bot.emu
    emu.inject_rate_limit(r"^/channels/\d+/messages$", method="POST", retry_after=0.05)
    await mini_bot.client.get_partial_messageable(mini_bot.channel_id).send("after a 429")
    posts = [r for r in emu.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert [(r.status, r.code) for r in posts] == [(429, None), (200, None)]
    assert emu.messages[0].content == "after a 429"


async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s before re-identifying; not needed against the emulator."""


async def test_gateway_resume_replays_missed_events_and_reidentify(mini_bot: MinimalBot) -> None:
    emu = mini_bot.emu
    mini_bot.handlers["runs status"] = lambda interaction, run: interaction.response.send_message(
        f"status {run}"
    )
    await emu.disconnect_gateway()
    interaction = await emu.invoke(
        mini_bot.guild_id,
        mini_bot.channel_id,
        mini_bot.user_id,
        "runs",
        subcommand="status",
        options={"run": "a"},
    )
    await interaction.wait_ack(timeout=5)
    assert emu.gateway_resume_count == 1 and emu.gateway_identify_count == 1
    await emu.reconnect_gateway()
    await emu.wait_for(lambda: emu.gateway_resume_count == 2 and emu.gateway_connected, timeout=5)
    mini_bot.client.before_identify_hook = no_identify_delay
    await emu.invalidate_gateway_sessions()
    await emu.wait_for(lambda: emu.gateway_identify_count == 2 and emu.gateway_connected, timeout=10)
    second = await emu.invoke(
        mini_bot.guild_id,
        mini_bot.channel_id,
        mini_bot.user_id,
        "runs",
        subcommand="status",
        options={"run": "b"},
    )
    await second.wait_ack(timeout=5)
    assert [m.content for m in emu.messages] == ["status a", "status b"]


async def test_rest_errors_without_a_client(discord_emulator: DiscordEmulator) -> None:
    emu = discord_emulator
    guild_id = emu.add_guild("Bare")
    channel_id = emu.default_channel_id(guild_id)
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    api = emu.api_base_url
    async with aiohttp.ClientSession(headers=headers) as session:

        async def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
            async with session.request(method, api + path, **kwargs) as response:
                assert response.headers.get("Content-Type") in ("application/json", None)
                return response.status, await response.json() if response.status != 204 else None

        assert (await call("GET", "/channels/1"))[1]["code"] == 10003
        assert (await call("GET", f"/channels/{channel_id}/messages/1"))[1]["code"] == 10008
        assert (await call("GET", "/webhooks/1"))[1]["code"] == 10015
        assert (await call("POST", "/interactions/1/x/callback", json={"type": 4}))[1]["code"] == 10062
        status, body = await call("POST", f"/channels/{channel_id}/messages", json={"content": "y" * 2001})
        assert status == 400 and body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
        status, body = await call("GET", "/channels/not-a-number")
        assert status == 400 and body["code"] == 50035
        assert (await call("GET", "/nowhere"))[0] == 404
        malformed: list[tuple[str, str, Any]] = [
            ("PUT", f"/applications/{emu.application_id}/commands", [1, {"name": "a", "options": ["x"]}]),
            ("POST", f"/channels/{channel_id}/messages", {"embeds": [{"fields": "x"}], "content": "c"}),
            (
                "POST",
                f"/channels/{channel_id}/messages",
                {"content": "c", "allowed_mentions": {"users": ["x"]}},
            ),
            ("POST", f"/channels/{channel_id}/messages", {"content": "c", "flags": "x"}),
            (
                "POST",
                f"/channels/{channel_id}/messages",
                {"content": "c", "message_reference": {"message_id": "x"}},
            ),
            ("POST", f"/channels/{channel_id}/messages", ["not", "an", "object"]),
        ]
        for method, path, payload in malformed:
            status, body = await call(method, path, json=payload)
            assert (status, body["code"]) == (400, 50035), (path, payload, body)
        status, body = await call("POST", f"/channels/{channel_id}/messages", data=b"{not json")
        assert (status, body["code"]) == (400, 50109)
    assert [r.code for r in emu.requests[:4]] == [10003, 10008, 10015, 10062]
    assert emu.messages == [] and emu.internal_errors == []


async def test_global_commands_and_command_validation(
    discord_emulator: DiscordEmulator, discord_endpoints: None
) -> None:
    emu = discord_emulator
    use_discord_endpoints(emu.api_base_url, emu.gateway_url)
    mini_bot = await start_minimal_bot(emu, sync_globally=True)
    try:
        assert emu.registered_commands(mini_bot.guild_id) == []
        assert {c["name"] for c in emu.registered_commands()} == {"autointel", "runs"}
        assert all("guild_id" not in c and c["dm_permission"] for c in emu.registered_commands())

        async def handler(interaction: discord.Interaction, run: str) -> Any:
            await interaction.response.send_message(run)
            return interaction.command.qualified_name if interaction.command else None

        mini_bot.handlers["runs status"] = handler
        await emu.invoke(
            mini_bot.guild_id,
            mini_bot.channel_id,
            mini_bot.user_id,
            "runs",
            subcommand="status",
            options={"run": "x"},
        )
        assert await mini_bot.result() == "runs status"
        path = f"{emu.api_base_url}/applications/{emu.application_id}/commands"
        headers = {"Authorization": f"Bot {emu.bot_token}"}
        bad = [{"name": "Upper", "description": "x", "type": 1}, {"name": "ok", "description": "", "type": 1}]
        async with aiohttp.ClientSession(headers=headers) as session, session.put(path, json=bad) as response:
            body = await response.json()
        assert response.status == 400 and body["code"] == 50035 and set(body["errors"]) == {"0", "1"}
        assert {c["name"] for c in emu.registered_commands()} == {"autointel", "runs"}
    finally:
        await mini_bot.close()
