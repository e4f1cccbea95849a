"""Reference corpus files → `MemoryItem`s of kind "reference" (for `autointel memory ingest`).

Two formats, chosen by the file suffix:

* plain text (any suffix but .jsonl/.ndjson): paragraphs separated by blank lines; a paragraph
  longer than `WINDOW_WORDS` words is cut into windows of whole sentences of at most that many
  words (a single longer sentence is cut by words). `source` is the file name.
* JSON Lines (.jsonl, .ndjson): one object per line, either `{"text": ..., "source": ...}`
  (other scalar fields go to `extra`) or the CLIMATE-FEVER format, where each of
  `evidences[*]` becomes one item with `text` = its "evidence" sentence, `source` = its
  "article" and `extra.evidence_id`. The claim and its labels are not stored — they are what
  a fact-check is measured against.

Nothing is returned from a file with a malformed part: every JSON Lines line is checked
first, and a file with bad lines raises one `CorpusError` whose `problems` name each of them
("line 7: not valid JSON (…)"), so an ingest writes all of a file or none of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from memory.errors import CorpusError
from memory.vector import MemoryItem

WINDOW_WORDS = 60
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
EVIDENCE_NEEDED = 'every evidence needs an "evidence" sentence'
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def load_corpus(path: Path) -> list[MemoryItem]:
    """Read a reference corpus file; raise `CorpusError` if it is missing or any part is malformed."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CorpusError(f"file not found: {path}") from exc
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() in JSONL_SUFFIXES:
        items = _jsonl_items(data, path)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"cannot read {path}: not UTF-8 text (byte {exc.start})") from exc
        items = _text_items(text, path.name)
    if not items:
        raise CorpusError(f"no text to ingest in {path}")
    return items


def windows(paragraph: str, max_words: int = WINDOW_WORDS) -> list[str]:
    """Split one paragraph into consecutive windows of whole sentences of at most `max_words` words."""
    words = paragraph.split()
    if len(words) <= max_words:
        return [" ".join(words)] if words else []
    out: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(words)):
        sentence_words = sentence.split()
        if current and len(current) + len(sentence_words) > max_words:
            out.append(" ".join(current))
            current = []
        while len(sentence_words) > max_words:
            out.append(" ".join(sentence_words[:max_words]))
            sentence_words = sentence_words[max_words:]
        current += sentence_words
    if current:
        out.append(" ".join(current))
    return out


def _text_items(text: str, source: str) -> list[MemoryItem]:
    items: list[MemoryItem] = []
    for number, paragraph in enumerate(_PARAGRAPH_BREAK.split(text)):
        for part, chunk in enumerate(windows(paragraph)):
            items.append(
                MemoryItem(chunk, "reference", source=source, extra={"paragraph": number, "part": part})
            )
    return items


def _scalar_extras(obj: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in skip and isinstance(v, str | int | float | bool)}


def _jsonl_items(data: bytes, path: Path) -> list[MemoryItem]:
    """Items of every line, or `CorpusError` listing every malformed line (nothing half-read)."""
    items: list[MemoryItem] = []
    problems: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            items += _line_items(raw, path, number)
        except _BadLine as bad:
            problems.append(f"line {number}: {bad.reason}")
    if problems:
        count = f"{len(problems)} malformed line{'s' if len(problems) > 1 else ''}"
        raise CorpusError(f"{path} has {count}, first {problems[0]}", tuple(problems))
    return items


class _BadLine(Exception):
    """One malformed JSON Lines line; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _line_items(raw: bytes, path: Path, number: int) -> list[MemoryItem]:
    """The items of one JSON Lines line (none for a blank line); `_BadLine` when it is malformed."""
    try:
        line = raw.decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError as exc:
        raise _BadLine(f"not UTF-8 text (byte {exc.start + 1} of the line)") from exc
    if not line.strip():
        return []
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(obj, dict):
        raise _BadLine("not a JSON object")
    if isinstance(obj.get("evidences"), list):
        try:
            return evidence_items(obj["evidences"], path, number)
        except CorpusError as exc:
            raise _BadLine(EVIDENCE_NEEDED) from exc
    if not isinstance(obj.get("text"), str):
        raise _BadLine('it has neither a "text" string nor an "evidences" list')
    if not obj["text"].strip():
        return []
    source = obj.get("source") or obj.get("title") or path.name
    extra = _scalar_extras(obj, {"text", "source", "title"})
    return [MemoryItem(" ".join(obj["text"].split()), "reference", source=str(source), extra=extra)]


def evidence_items(evidences: list[Any], path: Path, number: int) -> list[MemoryItem]:
    """Reference items from one CLIMATE-FEVER line's `evidences` (sentence, article as source)."""
    items: list[MemoryItem] = []
    for evidence in evidences:
        if not isinstance(evidence, dict) or not isinstance(evidence.get("evidence"), str):
            raise CorpusError(f"{path} line {number}: {EVIDENCE_NEEDED}")
        sentence = " ".join(evidence["evidence"].split())
        if not sentence:
            continue
        extra = {"evidence_id": evidence["evidence_id"]} if "evidence_id" in evidence else {}
        article = evidence.get("article")
        items.append(MemoryItem(sentence, "reference", source=str(article) if article else None, extra=extra))
    return items
