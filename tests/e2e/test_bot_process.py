"""`autointel bot` as a real process, configured only by its environment, against the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.discord_emulator import DiscordEmulator
from e2e.harness import all_text

BOT = [sys.executable, "-m", "cli", "bot"]


def _start_bot(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(BOT, env=env, cwd=cwd, stderr=subprocess.PIPE)


async def test_the_console_command_logs_in_syncs_and_answers(
    discord_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    emu = discord_emulator
    guild_id = emu.add_guild("process test")
    channel_id = emu.default_channel_id(guild_id)
    user_id = emu.add_member(guild_id, "carol")
    env = {
        **os.environ,
        "DISCORD_BOT_TOKEN": emu.bot_token,
        "DISCORD_API_BASE_URL": emu.api_base_url,
        "DISCORD_GATEWAY_URL": emu.gateway_url,
        "AUTOINTEL_DATA_DIR": str(tmp_path / "data"),
        "METRICS_PORT": "0",
    }
    env.pop("DISCORD_GUILD_IDS", None)  # global commands
    bot = _start_bot(env, tmp_path)
    try:
        await emu.wait_for(lambda: emu.gateway_connected and emu.registered_commands(None), timeout=60)
        await asyncio.sleep(0.5)  # READY and GUILD_CREATE processed
        interaction = await emu.invoke(guild_id, channel_id, user_id, "runs", subcommand="list")
        await interaction.wait_ack(timeout=10)
        assert interaction.ephemeral and interaction.original_message is not None
        assert "None yet" in all_text(interaction.original_message)
    finally:
        bot.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(bot.wait, 30)
    errors = bot.stderr.read().decode() if bot.stderr else ""
    assert code == 0, errors
    assert emu.bot_token not in errors


async def test_a_refused_token_exits_1_with_one_line(
    discord_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DISCORD_BOT_TOKEN": "not-the-token",
        "DISCORD_API_BASE_URL": discord_emulator.api_base_url,
        "DISCORD_GATEWAY_URL": discord_emulator.gateway_url,
        "AUTOINTEL_DATA_DIR": str(tmp_path / "data"),
        "METRICS_PORT": "0",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "bot"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        done.stderr.decode().strip().splitlines()[-1]
        == "autointel: Discord refused the bot token (DISCORD_BOT_TOKEN)"
    )


def test_a_missing_token_exits_2_and_says_how_to_set_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    assert main(["bot"]) == 2
    assert "DISCORD_BOT_TOKEN is not set" in capsys.readouterr().err
