"""Prompt compression: the protection rule, the fail-open paths and, with the `compression` extra
installed, a real LLMLingua compression of a ~2,000-token transcript over the bundled SmolLM2
(converted once per test session)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from pipelines.stage import Resources
from routing import compress
from routing.compress import (
    CONVERTED_NAME,
    EXTRA_MISSING,
    Compressed,
    CompressionUnavailable,
    Compressor,
    chunk_lines,
    compress_transcript,
    load_compressor,
    names_in,
    protected_words,
)
from settings import Settings, load_settings

ROOT = Path(__file__).parent.parent.parent
TRANSCRIPT = (Path(__file__).parent.parent / "data" / "compression_transcript.txt").read_text()
TIMESTAMP = re.compile(r"^\[\d\d:\d\d\]")


def _count(outcome: str) -> float:
    return REGISTRY.get_sample_value("autointel_compressions_total", {"outcome": outcome}) or 0.0


def _kept(line: str, indices: set[int]) -> list[str]:
    words = line.split()
    return [words[i] for i in sorted(indices)]


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(word in remaining for word in needle)


# --- the protection rule (no extra needed) ------------------------------------------------------


def test_protected_words_are_the_timestamp_numbers_units_names_and_quotes() -> None:
    line = "[01:15] So the tower is three hundred and thirty metres tall, said Gustave Eiffel."
    assert _kept(line, protected_words(line)) == [
        "[01:15]", "three", "hundred", "and", "thirty", "metres", "Gustave", "Eiffel.",
    ]  # fmt: skip
    quoted = '[02:03] People say "the tower was supposed to be torn down" and that is true.'
    assert _kept(quoted, protected_words(quoted)) == [
        "[02:03]", '"the', "tower", "was", "supposed", "to", "be", "torn", "down\"",
    ]  # fmt: skip
    digits = "[05:16] It cost about 25.8 billion dollars, or 12% of the 1966 budget of NASA."
    assert _kept(digits, protected_words(digits)) == [
        "[05:16]", "25.8", "billion", "dollars,", "12%", "1966", "budget", "NASA.",
    ]  # fmt: skip


def test_a_name_starting_a_sentence_is_protected_but_a_common_word_is_not() -> None:
    text = "[00:01] The plan was drawn by Maurice Koechlin.\n[00:05] Koechlin was an engineer. The end."
    names = names_in(text)
    assert "Koechlin" in names and "The" not in names
    line = text.splitlines()[1]
    assert _kept(line, protected_words(line, names)) == ["[00:05]", "Koechlin"]
    assert _kept(line, protected_words(line)) == ["[00:05]"]  # without the names of the text
    assert _kept("[00:09] NASA went.", protected_words("[00:09] NASA went.")) == ["[00:09]", "NASA"]


def test_an_unclosed_quote_runs_to_the_end_of_the_line() -> None:
    line = '[03:00] He wrote "we leave as we came'
    assert _kept(line, protected_words(line)) == ["[03:00]", '"we', "leave", "as", "we", "came"]


def test_long_transcripts_are_cut_into_about_equal_runs_of_whole_lines() -> None:
    lines = ["x" * 9] * 10  # 100 characters with the newlines
    assert chunk_lines(lines, 100) == [(0, 10)]
    assert chunk_lines(lines, 45) == [(0, 3), (3, 7), (7, 10)]
    assert chunk_lines(["a" * 50, "b", "c"], 20) == [(0, 1), (1, 3)]  # a long line is a run alone
    assert chunk_lines([], 100) == []


def test_importing_the_module_imports_no_heavy_library() -> None:
    code = (
        "import sys, routing.compress; "
        "print(sorted(m for m in ('torch', 'transformers', 'llmlingua') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- compress_transcript's outcomes without the model ------------------------------------------


async def test_disabled_returns_the_text_without_loading_anything(
    make_settings: Callable[..., Settings],
) -> None:
    resources = Resources(settings=make_settings())
    before = {outcome: _count(outcome) for outcome in ("compressed", "skipped", "unavailable", "failed")}
    assert await compress_transcript(resources, TRANSCRIPT) == (TRANSCRIPT, None, None)
    assert resources.cache == {}
    assert {outcome: _count(outcome) for outcome in before} == before


async def test_a_short_transcript_is_left_alone(make_settings: Callable[..., Settings]) -> None:
    resources = Resources(settings=make_settings(compression={"enabled": True}))
    skipped = _count("skipped")
    short = "\n".join(TRANSCRIPT.splitlines()[:5])
    assert await compress_transcript(resources, short) == (short, None, None)
    assert _count("skipped") == skipped + 1
    assert "compressor" not in resources.cache


async def test_without_the_extra_the_pipeline_gets_the_text_and_a_clear_note(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llmlingua", None)  # as if the extra were not installed
    resources = Resources(settings=make_settings(compression={"enabled": True}))
    unavailable = _count("unavailable")
    text, stats, note = await compress_transcript(resources, TRANSCRIPT)
    assert (text, stats, note) == (TRANSCRIPT, None, EXTRA_MISSING)
    assert "pip install 'autointel[compression]'" in EXTRA_MISSING
    assert _count("unavailable") == unavailable + 1
    assert isinstance(resources.cache["compressor"], CompressionUnavailable)  # not retried per run
    assert await compress_transcript(resources, TRANSCRIPT) == (TRANSCRIPT, None, EXTRA_MISSING)


def test_a_configured_model_folder_that_is_missing_is_named(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(compression={"enabled": True, "model_dir": tmp_path / "nowhere"})
    with pytest.raises(CompressionUnavailable, match=r"COMPRESSION_MODEL_DIR .*nowhere"):
        load_compressor(settings)


async def test_a_failing_compressor_fails_open(make_settings: Callable[..., Settings]) -> None:
    class Broken:
        def compress(self, text: str) -> Compressed:
            raise RuntimeError("out of memory")

    resources = Resources(settings=make_settings(compression={"enabled": True}))
    resources.cache["compressor"] = Broken()
    failed = _count("failed")
    text, stats, note = await compress_transcript(resources, TRANSCRIPT)
    assert (text, stats) == (TRANSCRIPT, None)
    assert note == (
        "prompt compression failed (RuntimeError: out of memory); the transcript was analysed uncompressed"
    )
    assert _count("failed") == failed + 1


# --- a real compression (needs the `compression` extra) ----------------------------------------

Outcome = tuple[Resources, str, Compressed | None, str | None]


@pytest.fixture(scope="module")
def compressed(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """One real compression of the transcript, in two chunks; the bundled GGUF is converted into
    the data dir first."""
    for module in ("torch", "transformers", "llmlingua", "gguf"):
        pytest.importorskip(module, reason="the `compression` extra is not installed")
    data_dir = tmp_path_factory.mktemp("compression")
    settings = load_settings(pipeline={"data_dir": data_dir}, compression={"enabled": True})
    resources = Resources(settings=settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compress, "CHUNK_CHARS", len(TRANSCRIPT) // 2 + 100)
        text, stats, note = asyncio.run(compress_transcript(resources, TRANSCRIPT))
    return resources, text, stats, note


def test_a_long_transcript_gets_shorter_and_says_so(compressed: Outcome) -> None:
    resources, text, stats, note = compressed
    assert stats is not None and note is not None, note
    assert text == stats.text
    assert stats.original_tokens > 1800 and stats.ratio > 1.2
    assert re.fullmatch(
        r"transcript compressed \d+\.\d× \([\d,]+ → [\d,]+ tokens\) by LLMLingua in \d+\.\d s", note
    )
    assert isinstance(resources.cache["compressor"], Compressor)
    models = resources.settings.pipeline.data_dir / "models"
    assert (models / CONVERTED_NAME / "config.json").is_file()
    assert sorted(p.name for p in models.iterdir()) == [CONVERTED_NAME]  # no half-written folder


def test_every_line_keeps_its_timestamp(compressed: Outcome) -> None:
    _, text, _, _ = compressed
    original, result = TRANSCRIPT.splitlines(), text.splitlines()
    assert len(result) == len(original)
    for before, after in zip(original, result, strict=True):
        stamp = TIMESTAMP.match(before)
        assert stamp and after.startswith(stamp.group()), (before, after)


def test_protected_numbers_names_and_quotes_survive_and_nothing_is_invented(compressed: Outcome) -> None:
    _, text, _, _ = compressed
    names = names_in(TRANSCRIPT)
    for before, after in zip(TRANSCRIPT.splitlines(), text.splitlines(), strict=True):
        assert _is_subsequence(_kept(before, protected_words(before, names)), after.split()), (before, after)
        assert _is_subsequence(after.split(), before.split()), (before, after)
    for fact in (
        "three hundred and thirty metres",
        "Gustave Eiffel",
        "1,665 steps",
        "25.8 billion dollars",
        "Neil Armstrong, Buzz Aldrin",
        '"this nation should commit itself to achieving the goal, before this decade is out, '
        'of landing a man on the Moon".',
        '"the Moon landing was faked in a studio by Stanley Kubrick".',
    ):
        assert fact in text, fact
