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
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def load_corpus(path: Path) -> list[MemoryItem]:
    """Read a reference corpus file; raise `CorpusError` (one line) if it is missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CorpusError(f"file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() in JSONL_SUFFIXES:
        items = _jsonl_items(text, path)
    else:
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


def _jsonl_items(text: str, path: Path) -> list[MemoryItem]:
    items: list[MemoryItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path} line {number} is not valid JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise CorpusError(f"{path} line {number} is not a JSON object")
        if isinstance(obj.get("evidences"), list):
            items += evidence_items(obj["evidences"], path, number)
        elif isinstance(obj.get("text"), str):
            if obj["text"].strip():
                source = obj.get("source") or obj.get("title") or path.name
                extra = _scalar_extras(obj, {"text", "source", "title"})
                items.append(
                    MemoryItem(" ".join(obj["text"].split()), "reference", source=str(source), extra=extra)
                )
        else:
            raise CorpusError(f'{path} line {number} has neither "text" nor "evidences"')
    return items


def evidence_items(evidences: list[Any], path: Path, number: int) -> list[MemoryItem]:
    """Reference items from one CLIMATE-FEVER line's `evidences` (sentence, article as source)."""
    items: list[MemoryItem] = []
    for evidence in evidences:
        if not isinstance(evidence, dict) or not isinstance(evidence.get("evidence"), str):
            raise CorpusError(f'{path} line {number}: every evidence needs an "evidence" sentence')
        sentence = " ".join(evidence["evidence"].split())
        if not sentence:
            continue
        extra = {"evidence_id": evidence["evidence_id"]} if "evidence_id" in evidence else {}
        article = evidence.get("article")
        items.append(MemoryItem(sentence, "reference", source=str(article) if article else None, extra=extra))
    return items
