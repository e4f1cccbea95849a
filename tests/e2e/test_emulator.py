"""The Discord emulator against the real, unmodified discord.py client (no project code but the endpoints)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import discord
import pytest
from discord.webhook.async_ import async_context, interaction_response_params

from e2e.minimal_bot import MakeBot, MinimalBot


async def test_login_syncs_guild_commands_and_answers_plain_json(mini_bot: MinimalBot) -> None:
    emu = mini_bot.emu
    commands = {c["name"]: c for c in emu.registered_commands(mini_bot.guild_id)}
    assert set(commands) == {"autointel", "runs"}
    assert commands["autointel"]["application_id"] == str(emu.application_id)
    assert commands["autointel"]["guild_id"] == str(mini_bot.guild_id)
    assert [o["name"] for o in commands["runs"]["options"]] == ["status", "cancel"]
    assert mini_bot.client.application_id == emu.application_id
    assert mini_bot.client.user is not None and mini_bot.client.user.id == emu.bot_user_id
    guild = mini_bot.client.get_guild(mini_bot.guild_id)
    assert guild is not None and guild.get_channel(mini_bot.channel_id) is not None
    assert guild.member_count == 3 and guild.me is not None and guild.me.id == emu.bot_user_id
    assert [r[:3] for r in emu.requests[:2]] == [
        ("GET", "/users/@me", 200),
        ("GET", "/oauth2/applications/@me", 200),
    ]
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {emu.bot_token}"}
        async with session.get(f"{emu.api_base_url}/users/@me", headers=headers) as response:
            assert response.headers["Content-Type"] == "application/json"
        async with session.get(f"{emu.api_base_url}/users/@me") as response:
            assert response.status == 401


async def test_defer_edit_and_followup_with_file(mini_bot: MinimalBot) -> None:
    async def handler(interaction: discord.Interaction, url: str, depth: Any, attachment: Any) -> Any:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content=f"Analysing {url} ({depth.value})")
        report = discord.File(io.BytesIO(b"# Report\n"), filename="report.md")
        return await interaction.followup.send("Done", file=report, wait=True)

    mini_bot.handlers["autointel"] = handler
    interaction = await mini_bot.emu.invoke(
        mini_bot.guild_id,
        mini_bot.channel_id,
        mini_bot.user_id,
        "autointel",
        options={"url": "https://x.test/v", "depth": "quick"},
    )
    sent = await mini_bot.result()
    assert isinstance(sent, discord.WebhookMessage) and sent.attachments[0].filename == "report.md"
    await interaction.wait_ack()
    assert (
        interaction.response_type == 5 and interaction.ack_latency is not None and interaction.ack_latency < 3
    )
    original = interaction.original_message
    assert original is not None and original.content == "Analysing https://x.test/v (quick)"
    assert not original.loading and len(original.edits) == 1 and original.edits[0].previous.flags & 128
    [followup] = interaction.followups
    assert followup.via == "followup" and followup.content == "Done" and followup.id == sent.id
    assert (
        followup.attachments[0].data == b"# Report\n"
        and followup.attachments[0].content_type == "text/markdown"
    )
    assert [m.via for m in mini_bot.emu.messages] == ["interaction_response", "followup"]


async def test_ephemeral_response_is_recorded_and_hidden_from_history(mini_bot: MinimalBot) -> None:
    async def handler(interaction: discord.Interaction, **_: Any) -> None:
        await interaction.response.send_message("only you", ephemeral=True)

    mini_bot.handlers["runs status"] = handler
    interaction = await mini_bot.emu.invoke(
        mini_bot.guild_id,
        mini_bot.channel_id,
        mini_bot.user_id,
        "runs",
        subcommand="status",
        options={"run": "abc"},
    )
    assert await mini_bot.result() is None
    assert interaction.ephemeral and interaction.response_type == 4
    message = await mini_bot.emu.wait_for_message(lambda m: m.content == "only you")
    assert message.ephemeral and message.flags & 64
    channel = mini_bot.client.get_partial_messageable(mini_bot.channel_id)
    assert [m async for m in channel.history(limit=10)] == []


async def test_first_followup_after_a_defer_completes_the_loading_message(mini_bot: MinimalBot) -> None:
    async def handler(interaction: discord.Interaction, run: str, force: bool) -> Any:
        await interaction.response.defer(ephemeral=True)
        return await interaction.followup.send(f"cancelled {run} force={force}", wait=True)

    mini_bot.handlers["runs cancel"] = handler
    interaction = await mini_bot.emu.invoke(
        mini_bot.guild_id,
        mini_bot.channel_id,
        mini_bot.user_id,
        "runs",
        subcommand="cancel",
        options={"run": "r1", "force": True},
    )
    sent = await mini_bot.result()
    original = interaction.original_message
    assert original is not None and sent.id == original.id and interaction.followups == []
    assert original.content == "cancelled r1 force=True" and original.ephemeral and not original.loading
    assert original.edits[0].kind == "deferred_followup"


async def test_callback_after_the_deadline_is_unknown_interaction(make_mini_bot: MakeBot) -> None:
    mini_bot = await make_mini_bot(ack_deadline=0.05)

    async def handler(interaction: discord.Interaction, **_: Any) -> Any:
        await asyncio.sleep(0.1)
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            late = exc
        try:
            await interaction.followup.send("still there?")
        except discord.NotFound as exc:
            return late, exc
        return late, None

    mini_bot.handlers["autointel"] = handler
    interaction = await mini_bot.emu.invoke(
        mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={"url": "u"}
    )
    late, followup = await mini_bot.result()
    assert late.status == 404 and late.code == 10062
    assert followup is not None and followup.code == 10015
    assert (
        interaction.deadline_missed and not interaction.acknowledged.is_set() and mini_bot.emu.messages == []
    )


async def test_second_acknowledgement_is_rejected(mini_bot: MinimalBot) -> None:
    async def handler(interaction: discord.Interaction, **_: Any) -> Any:
        await interaction.response.send_message("first")
        params = interaction_response_params(type=4, data={"content": "second"})
        try:
            await async_context.get().create_interaction_response(
                interaction.id, interaction.token, session=interaction._session, params=params
            )
        except discord.HTTPException as exc:
            return exc
        return None

    mini_bot.handlers["autointel"] = handler
    await mini_bot.emu.invoke(
        mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={"url": "u"}
    )
    error = await mini_bot.result()
    assert isinstance(error, discord.HTTPException) and error.status == 400 and error.code == 40060
    assert [m.content for m in mini_bot.emu.messages] == ["first"]


async def test_concurrent_callbacks_acknowledge_exactly_once(mini_bot: MinimalBot) -> None:
    started = asyncio.Event()

    async def handler(interaction: discord.Interaction, **_: Any) -> None:
        started.set()

    mini_bot.handlers["autointel"] = handler
    interaction = await mini_bot.emu.invoke(
        mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={"url": "u"}
    )
    await mini_bot.result()
    url = f"{mini_bot.emu.api_base_url}/interactions/{interaction.id}/{interaction.token}/callback"
    async with aiohttp.ClientSession() as session:

        async def post(text: str) -> int:
            async with session.post(url, json={"type": 4, "data": {"content": text}}) as response:
                return response.status

        statuses = await asyncio.gather(*(post(str(i)) for i in range(5)))
    assert sorted(statuses) == [204, 400, 400, 400, 400]
    assert len(mini_bot.emu.messages) == 1


async def test_expired_token_gives_invalid_webhook_token(make_mini_bot: MakeBot) -> None:
    mini_bot = await make_mini_bot(token_ttl=0.3)

    async def handler(interaction: discord.Interaction, **_: Any) -> Any:
        await interaction.response.send_message("working")
        await asyncio.sleep(0.4)
        try:
            await interaction.followup.send("result")
        except discord.HTTPException as exc:
            return exc
        return None

    mini_bot.handlers["autointel"] = handler
    interaction = await mini_bot.emu.invoke(
        mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={"url": "u"}
    )
    error = await mini_bot.result()
    assert isinstance(error, discord.HTTPException) and error.status == 401 and error.code == 50027
    assert interaction.expired
    assert any(r.status == 401 and r.code == 50027 and r.method == "POST" for r in mini_bot.emu.requests)


async def test_expire_interaction_tokens_now(mini_bot: MinimalBot) -> None:
    gate = asyncio.Event()

    async def handler(interaction: discord.Interaction, **_: Any) -> Any:
        await interaction.response.defer()
        await gate.wait()
        try:
            await interaction.edit_original_response(content="done")
        except discord.HTTPException as exc:
            return exc
        return None

    mini_bot.handlers["autointel"] = handler
    interaction = await mini_bot.emu.invoke(
        mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={"url": "u"}
    )
    await interaction.wait_ack()
    mini_bot.emu.expire_interaction_tokens()
    gate.set()
    error = await mini_bot.result()
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (401, 50027)


async def test_followup_before_acknowledging_is_unknown_webhook(mini_bot: MinimalBot) -> None:
    async def handler(interaction: discord.Interaction, **_: Any) -> Any:
        try:
            await interaction.followup.send("early")
        except discord.NotFound as exc:
            await interaction.response.send_message("ok")
            return exc
        return None

    mini_bot.handlers["autointel"] = handler
    await mini_bot.emu.invoke(
        mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={"url": "u"}
    )
    error = await mini_bot.result()
    assert isinstance(error, discord.NotFound) and error.code == 10015


async def test_attachment_option_downloads_from_the_cdn(mini_bot: MinimalBot) -> None:
    audio = b"OggS" + bytes(range(256)) * 4
    attachment = mini_bot.emu.add_attachment("clip.ogg", audio, content_type="audio/ogg")

    async def handler(interaction: discord.Interaction, attachment: discord.Attachment, **_: Any) -> Any:
        await interaction.response.defer()
        assert interaction.namespace.attachment.id == attachment.id
        return attachment.filename, attachment.content_type, attachment.size, await attachment.read()

    mini_bot.handlers["autointel"] = handler
    await mini_bot.emu.invoke(
        mini_bot.guild_id,
        mini_bot.channel_id,
        mini_bot.user_id,
        "autointel",
        options={"url": "u"},
        attachments={"attachment": attachment},
    )
    assert await mini_bot.result() == ("clip.ogg", "audio/ogg", len(audio), audio)


async def test_invoke_checks_options_against_the_synced_command(mini_bot: MinimalBot) -> None:
    emu = mini_bot.emu
    with pytest.raises(LookupError):
        await emu.invoke(mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "unknown")
    with pytest.raises(ValueError, match="choices"):
        await emu.invoke(
            mini_bot.guild_id,
            mini_bot.channel_id,
            mini_bot.user_id,
            "autointel",
            options={"url": "u", "depth": "x"},
        )
    with pytest.raises(ValueError, match="required"):
        await emu.invoke(mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={})
    with pytest.raises(ValueError, match="subcommand"):
        await emu.invoke(
            mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "runs", options={"run": "a"}
        )
    assert emu.interactions == []


async def test_twenty_interactions_at_once(mini_bot: MinimalBot) -> None:
    async def handler(interaction: discord.Interaction, run: str) -> None:
        await interaction.response.defer()
        await asyncio.sleep(0.05)
        await interaction.edit_original_response(content=f"status of {run}")
        await interaction.followup.send(f"followup {run}")

    mini_bot.handlers["runs status"] = handler
    interactions = await asyncio.gather(
        *(
            mini_bot.emu.invoke(
                mini_bot.guild_id,
                mini_bot.channel_id,
                mini_bot.user_id,
                "runs",
                subcommand="status",
                options={"run": f"r{i}"},
            )
            for i in range(20)
        )
    )
    for _ in interactions:
        assert await mini_bot.result() is None
    for i, interaction in enumerate(interactions):
        assert interaction.acknowledged.is_set() and interaction.original_message is not None
        assert interaction.original_message.content == f"status of r{i}"
        assert [m.content for m in interaction.followups] == [f"followup r{i}"]
    assert len(mini_bot.emu.messages) == 40 and len({m.id for m in mini_bot.emu.messages}) == 40


async def test_modal_response_is_recorded(mini_bot: MinimalBot) -> None:
    class Ask(discord.ui.Modal, title="Details"):
        note: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Note")

    async def handler(interaction: discord.Interaction, **_: Any) -> None:
        await interaction.response.send_modal(Ask())

    mini_bot.handlers["autointel"] = handler
    interaction = await mini_bot.emu.invoke(
        mini_bot.guild_id, mini_bot.channel_id, mini_bot.user_id, "autointel", options={"url": "u"}
    )
    await mini_bot.result()
    assert (
        interaction.response_type == 9
        and interaction.modal is not None
        and interaction.modal["title"] == "Details"
    )
    assert interaction.original_message is None
