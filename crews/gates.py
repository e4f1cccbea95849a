"""Quality gates that every model answer passes on the one task path (`crews.builder.run_task`).

Schema validation alone lets a small model's echoes through: titles such as `SummaryOutput`,
items reading `Point`, a claim that is the field's own description. `answer_problems` finds
them in any answer model, whatever the task or model:

* empty text, and one-word prose (fields meant for sentences);
* schema echoes: the model's class name, field names and titles, text copied from the
  field descriptions, generic fillers (`string`, `N/A`, `<title>`, `Point 2`);
* text copied from the task's own instructions (the prompt without the transcript), or made
  only of the instructions' and schema's vocabulary ("The summary task").

`verdict_problems` adds the fact-check's consistency rules: a definite verdict cites evidence
that exists, is not argued with "there is not enough evidence", and has a confidence above 0.

Both return human-readable problems; the task path turns them into `GateRejected`, which
gets the repair prompt and then the next model (routing.dispatch), like a schema error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from crews.text import STOPWORDS, normalise
from routing.dispatch import InvalidAnswer

PROSE_MIN_LENGTH = 150  # string fields at least this long in the schema are meant for sentences
NAME_MAX_LENGTH = 60  # shorter string fields hold names (a fallacy's name may be a task word)
SHORT_ECHO_WORDS = 4  # text this short made only of instruction/schema words is an echo
FILLERS = {
    "string",
    "text",
    "example",
    "n a",
    "na",
    "none",
    "null",
    "tbd",
    "todo",
    "placeholder",
    "lorem ipsum",
    "unknown",
    "untitled",
    "your title here",
}
_FILLER_PATTERN = re.compile(
    r"^(key )?(point|claim|item|title|summary|entity|viewpoint|quote|explanation|fallacy|name|"
    r"perspective|assessment|rationale|bias|tldr|sentence|example|text)( \d+)?$"
)
_BRACKETED = re.compile(r"^\s*([<\[{].*[>\]}]|\.{3}|…)\s*$")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_PLACEHOLDER_FIELD = re.compile(r"\{[a-z_]+\}")
_NOT_ENOUGH = re.compile(
    r"not[ _]enough[ _](evidence|information|info)|insufficient (evidence|information)|"
    r"no (relevant |direct )?evidence|cannot be (verified|determined|confirmed)|"
    r"does not (mention|address|say)|unable to (verify|determine|confirm)",
    re.IGNORECASE,
)
DEFINITE = ("supported", "refuted", "disputed")


class GateRejected(InvalidAnswer):
    """The answer matched its schema but failed a quality gate (placeholder, echo, inconsistency)."""


def _schema_texts(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> Iterator[str]:
    """Every name, title and description of a model's schema, nested models included."""
    seen = seen if seen is not None else set()
    if model in seen:
        return
    seen.add(model)
    yield model.__name__
    yield _CAMEL.sub(" ", model.__name__)
    for name, info in model.model_fields.items():
        yield name
        yield name.replace("_", " ")
        if info.title:
            yield info.title
        if info.description:
            yield info.description
        for nested in _nested_models(info.annotation):
            yield from _schema_texts(nested, seen)


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        yield from _nested_models(argument)


def _strings(value: Any, path: str, limit: int | None = None) -> Iterator[tuple[str, str, int | None]]:
    """(path, text, schema max length) of every string in an answer, depth first."""
    if isinstance(value, str):
        yield path, value, limit
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            bound = next((m.max_length for m in info.metadata if hasattr(m, "max_length")), None)
            yield from _strings(getattr(value, name), f"{path}.{name}" if path else name, bound)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]", limit)


def answer_problems(answer: BaseModel, instructions: str) -> list[str]:
    """Placeholders, schema echoes and copied instructions in an answer (empty when it is clean).

    `instructions` is the task's text without the transcript or evidence it is filled with
    (its placeholders such as `{transcript}` are ignored), so quoting the transcript is fine
    while repeating the task text is not.
    """
    schema = {normalise(text) for text in _schema_texts(type(answer)) if text}
    schema.discard("")
    told = normalise(_PLACEHOLDER_FIELD.sub(" ", instructions))
    vocabulary = set(told.split()) | {w for text in schema for w in text.split()}
    problems: list[str] = []
    for path, text, limit in _strings(answer, ""):
        reason = _problem(text, limit, schema, told, vocabulary)
        if reason:
            shown = text.strip()[:60]
            problems.append(f"{path} {reason} ({shown!r})" if shown else f"{path} {reason}")
    return problems


def _problem(text: str, limit: int | None, schema: set[str], told: str, vocabulary: set[str]) -> str | None:
    if text in DEFINITE or text == "not_enough_evidence":  # the verdict literal is data, not prose
        return None
    plain = normalise(text)
    if not plain or _BRACKETED.match(text):
        return "is empty or a placeholder"
    if plain in FILLERS or _FILLER_PATTERN.match(plain):
        return "is a placeholder"
    if plain in schema or any(len(plain) >= 12 and plain in entry for entry in schema):
        return "repeats the answer schema"
    words = plain.split()
    if len(words) >= 4 and f" {plain} " in f" {told} ":
        return "copies the task instructions"
    meaning = [w for w in words if w not in STOPWORDS]
    named = limit is not None and limit <= NAME_MAX_LENGTH  # names and entities may be task words
    if len(words) <= SHORT_ECHO_WORDS and meaning and not named and all(w in vocabulary for w in meaning):
        return "only repeats the task's words"
    if (limit or 0) >= PROSE_MIN_LENGTH and len(words) < 2:
        return "is a single word, not a sentence"
    return None


def verdict_problems(
    verdict: str, confidence: float, rationale: str, cited: list[int], numbers: int
) -> list[str]:
    """Inconsistencies of a fact-check answer given `numbers` pieces of evidence (numbered from 1)."""
    if verdict not in DEFINITE:
        return []
    problems: list[str] = []
    existing = [n for n in cited if 1 <= n <= numbers]
    if not existing:
        problems.append(f'"{verdict}" must cite at least one of the evidence numbers 1-{numbers}')
    if _NOT_ENOUGH.search(rationale):
        problems.append(f'the rationale says the evidence is insufficient, which contradicts "{verdict}"')
    if confidence <= 0:
        problems.append(f'a confidence of 0 contradicts the definite verdict "{verdict}"')
    return problems


def reject(problems: list[str]) -> None:
    """Raise `GateRejected` naming the problems (for the repair prompt), if there are any."""
    if problems:
        raise GateRejected("the answer failed the quality checks: " + "; ".join(problems[:6]))
