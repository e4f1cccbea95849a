"""Reference corpus files: plain text windows, JSONL with "text", CLIMATE-FEVER evidences, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory.corpus import WINDOW_WORDS, load_corpus, windows
from memory.errors import CorpusError

DATA = Path(__file__).parent.parent / "data"


def test_short_paragraphs_stay_whole_and_long_ones_become_sentence_windows(tmp_path: Path) -> None:
    long_paragraph = " ".join(f"Sentence number {i} has exactly seven words." for i in range(20))
    corpus = tmp_path / "notes.txt"
    corpus.write_text(f"First paragraph.\nSame paragraph.\n\n  \n{long_paragraph}\n\n\n", encoding="utf-8")
    items = load_corpus(corpus)
    assert items[0].text == "First paragraph. Same paragraph." and items[0].source == "notes.txt"
    assert all(i.kind == "reference" and i.run_id is None for i in items)
    rest = items[1:]
    assert len(rest) == 3 and all(len(i.text.split()) <= WINDOW_WORDS for i in rest)
    assert all(i.text.endswith("words.") for i in rest)  # windows end on sentence boundaries
    assert " ".join(i.text for i in rest) == long_paragraph
    assert [i.extra for i in rest] == [{"paragraph": 1, "part": p} for p in range(3)]


def test_a_sentence_longer_than_a_window_is_cut_by_words() -> None:
    text = " ".join(["word"] * 150)
    assert [len(w.split()) for w in windows(text, 60)] == [60, 60, 30]


def test_jsonl_with_text_fields(tmp_path: Path) -> None:
    corpus = tmp_path / "facts.jsonl"
    lines = [
        {"text": "Water boils at 100 °C at sea level.", "source": "physics.txt", "year": 2020},
        {"text": "   "},
        {"text": "The Moon orbits the Earth.", "title": "Moon", "tags": ["skipped"]},
    ]
    corpus.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    items = load_corpus(corpus)
    assert [(i.text, i.source, i.extra) for i in items] == [
        ("Water boils at 100 °C at sea level.", "physics.txt", {"year": 2020}),
        ("The Moon orbits the Earth.", "Moon", {}),
    ]


def test_climate_fever_evidences_become_items_without_labels(tmp_path: Path) -> None:
    corpus = tmp_path / "cf.jsonl"
    head = (DATA / "climate_fever_dev.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    corpus.write_text("\n".join(head) + "\n", encoding="utf-8")
    items = load_corpus(corpus)
    rows = [json.loads(line) for line in head]
    assert len(items) == sum(len(r["evidences"]) for r in rows) == 15
    first = rows[0]["evidences"][1]
    assert items[1].text == " ".join(first["evidence"].split()) and items[1].source == first["article"]
    assert items[1].extra == {"evidence_id": first["evidence_id"]}
    stored = json.dumps([i.payload() for i in items])
    assert rows[0]["claim"] not in stored and "claim_label" not in stored and "REFUTES" not in stored


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "ok"}\n{"text": oops}\n', r"1 malformed line, first line 2: not valid JSON \(Expecting"),
        ('{"text": "ok"}\n[1, 2]\n', r"line 2: not a JSON object"),
        ('{"claim": "no evidence"}\n', r'line 1: it has neither a "text" string nor an "evidences" list'),
        ('{"text": 42}\n', r'line 1: it has neither a "text" string'),
        ('{"evidences": [{"article": "A"}]}\n', r'line 1: every evidence needs an "evidence"'),
        (
            '{"text": "ok"}\n{"text": "caf\xe9"}\n'.encode("latin-1"),
            r"line 2: not UTF-8 text \(byte 14 of the line\)",
        ),
        ("\n\n", r"no text to ingest"),
    ],
)
def test_bad_jsonl_is_one_clear_error(tmp_path: Path, content: str | bytes, message: str) -> None:
    corpus = tmp_path / "bad.jsonl"
    corpus.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CorpusError, match=message) as caught:
        load_corpus(corpus)
    assert "\n" not in caught.value.message


def test_every_malformed_line_is_named_and_nothing_is_returned(tmp_path: Path) -> None:
    lines = [
        '{"text": "The Eiffel Tower is 330 metres tall."}',
        "{broken",
        "",
        '{"text": "Octopuses have three hearts."}',
        "[1]",
        '{"evidences": "not a list", "text": 3}',
        '{"text": "Line with a separator\u2028inside a string"}',  # one line, not two
        '{"text": "last line without a newline"',
    ]
    corpus = tmp_path / "mixed.jsonl"
    corpus.write_text("\r\n".join(lines), encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        load_corpus(corpus)
    problems = caught.value.problems
    assert [p.split(":", 1)[0] for p in problems] == ["line 2", "line 5", "line 6", "line 8"]
    assert problems[0].startswith("line 2: not valid JSON (")
    assert problems[1] == "line 5: not a JSON object"
    assert caught.value.message.startswith(f"{corpus} has 4 malformed lines, first line 2: not valid JSON")
    fixed = [line for n, line in enumerate(lines, 1) if n not in (2, 5, 6, 8)]
    corpus.write_text("\n".join(fixed), encoding="utf-8")
    assert [item.text for item in load_corpus(corpus)] == [
        "The Eiffel Tower is 330 metres tall.",
        "Octopuses have three hearts.",
        "Line with a separator inside a string",
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="file not found"):
        load_corpus(tmp_path / "nope.txt")
