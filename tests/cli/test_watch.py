"""`autointel watch add|list|remove|poll` end to end (SQLite store in tmp, a feed on 127.0.0.1,
runs analysed here by the real pipeline with the scripted model server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from fakes.feed_server import FeedServer, serve_feed
from fakes.openai_server import ScriptedOpenAI, point_settings_at
from fakes.scripted_flow import REPLIES


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A data dir in tmp, loopback allowed, every model call answered by the scripted server."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    server = ScriptedOpenAI(replies=dict(REPLIES))
    point_settings_at(server.start_in_thread(), monkeypatch.setenv)
    yield
    server.stop_thread()


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    """The local feed server."""
    with serve_feed() as server:
        yield server


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, f"expected one line, got {err!r}"
    return err


def test_add_list_remove(capsys: pytest.CaptureFixture[str], feed: FeedServer) -> None:
    assert main(["watch", "add", feed.feed_url, "--guild", "7", "--channel", "8", "--depth", "quick"]) == 0
    assert capsys.readouterr().out.startswith(f"watch 1: {feed.feed_url} → channel 8 of guild 7, depth quick")
    assert main(["watch", "add", feed.feed_url, "--guild", "7", "--channel", "8"]) == 1
    assert _error(capsys) == f"autointel: <#8> already watches {feed.feed_url}"
    assert main(["watch", "list", "--guild", "7"]) == 0
    listed = capsys.readouterr().out
    assert feed.feed_url in listed and "quick" in listed
    assert main(["watch", "list", "--guild", "9"]) == 0 and "no watches" in capsys.readouterr().out
    assert main(["watch", "remove", "1"]) == 0 and "removed watch 1" in capsys.readouterr().out
    assert main(["watch", "remove", "1"]) == 1 and _error(capsys) == "autointel: no watch 1"


def test_bad_input_is_one_line_and_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["--guild", "7", "--channel", "8"]
    assert main(["watch", "add", "http://127.0.0.1:9/feed.xml", *base, "--backfill", "500"]) == 1
    assert "backfill can take 0 to 20" in _error(capsys)
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "false")
    assert main(["watch", "add", "http://169.254.169.254/feed.xml", *base]) == 1
    assert "not a public address" in _error(capsys)
    assert main(["watch", "add", "ftp://example.com/feed.xml", *base]) == 1
    assert "unsupported URL scheme 'ftp'" in _error(capsys)
    with pytest.raises(SystemExit) as usage:
        main(["watch", "add", "https://example.com/feed.xml", "--guild", "x", "--channel", "8"])
    assert usage.value.code == 2


def test_poll_analyses_exactly_the_new_entries(capsys: pytest.CaptureFixture[str], feed: FeedServer) -> None:
    feed.add_old(3)
    assert main(["watch", "add", feed.feed_url, "--guild", "7", "--channel", "8", "--depth", "quick"]) == 0
    assert main(["watch", "poll"]) == 0
    assert "polled 1 watches: 0 unchanged, 0 failed, 0 runs started" in capsys.readouterr().out
    feed.add("Fresh episode")
    assert main(["watch", "poll"]) == 0  # not due yet (WATCH_INTERVAL_MINUTES)
    assert "polled 0 watches" in capsys.readouterr().out
    capsys.readouterr()
    assert main(["watch", "remove", "1"]) == 0
    assert main(["watch", "add", feed.feed_url, "--guild", "7", "--channel", "8", "--backfill", "1"]) == 0
    capsys.readouterr()
    assert main(["watch", "poll"]) == 0
    out = capsys.readouterr().out
    assert "polled 1 watches: 0 unchanged, 0 failed, 1 runs started" in out
    run_id = out.split("run ", 1)[1].split()[0]
    assert main(["runs"]) == 0
    runs = capsys.readouterr().out
    assert run_id[:12] in runs and "succeeded" in runs and "episode-4.ogg" in runs
    media = [path for path, _ in feed.requests if path.startswith("/media/")]
    assert set(media) == {"/media/episode-4.ogg"}  # only the newest entry was fetched
