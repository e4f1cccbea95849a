"""The one mapping from errors to the line a Discord member sees."""

from __future__ import annotations

from bot.errors import MESSAGE_LIMIT, BadRequestError, user_message
from pipelines.errors import MalformedURLError, RunNotFoundError


def test_messages_are_prefixed_and_read_as_sentences() -> None:
    assert user_message(BadRequestError("give either a url or an attachment")).startswith("⚠️ give either")
    assert user_message(MalformedURLError("malformed URL: no host name")) == "⚠️ Malformed URL: no host name."
    assert user_message(RunNotFoundError("no run with id 'abc'")) == "⚠️ no run with id 'abc' in this server"


def test_no_error_quotes_more_than_a_message_holds() -> None:
    text = user_message(MalformedURLError("malformed URL: " + "x" * 5000))
    assert len(text) == MESSAGE_LIMIT and text.endswith("…") and text.startswith("⚠️ Malformed URL: xxx")
    internal = user_message(RuntimeError("y" * 5000), run_id="r1")
    assert len(internal) <= MESSAGE_LIMIT and "(run r1)" in internal
