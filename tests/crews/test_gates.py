"""The answer gates: placeholders, schema echoes, copied instructions and inconsistent verdicts."""

from __future__ import annotations

import pytest

from crews.builder import instructions
from crews.gates import GateRejected, answer_problems, reject, verdict_problems
from crews.schemas import (
    ClaimsOutput,
    ExtractedClaim,
    FallaciesOutput,
    Fallacy,
    KeyPoint,
    SummaryOutput,
)


def summary(title: str, tldr: str, *points: str) -> SummaryOutput:
    return SummaryOutput(title=title, tldr=tldr, key_points=[KeyPoint(timestamp=81, point=p) for p in points])


def test_the_small_models_echoes_are_all_rejected() -> None:
    echo = summary("SummaryOutput", "The summary task", "Point", "Point", "Key point 2")
    problems = answer_problems(echo, instructions("summary"))
    paths = [p.split(" ")[0] for p in problems]
    assert paths == ["title", "tldr", "key_points[0].point", "key_points[1].point", "key_points[2].point"]
    assert "repeats the answer schema" in problems[0]


def test_a_claim_that_is_the_fields_description_is_rejected() -> None:
    claim = ExtractedClaim(text="The claim as a self-contained sentence.", timestamp=3, checkworthiness=5)
    problems = answer_problems(ClaimsOutput(claims=[claim]), instructions("claims"))
    assert problems and problems[0].startswith("claims[0].text repeats the answer schema")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is empty or a placeholder"),
        ("<title>", "is empty or a placeholder"),
        ("N/A", "is a placeholder"),
        ("Inflation.", "is a single word, not a sentence"),
        ("Give a short title, a TL;DR of two or three sentences", "copies the task instructions"),
        ("Transcript summary", "only repeats the task's words"),
    ],
)
def test_placeholder_kinds_are_named(text: str, reason: str) -> None:
    answer = summary("A title about bridges", "The city opened a new bridge in 2019.", text)
    problems = answer_problems(answer, instructions("summary"))
    assert problems == [f"key_points[0].point {reason}" + (f" ({text!r})" if text else "")]


def test_a_real_answer_passes() -> None:
    good = summary(
        "The bridge that took ten years",
        "The city opened its new bridge in 2019 after a decade of work. Traffic fell by a third.",
        "The bridge opened in 2019 after ten years of construction.",
        "Commuting times fell by a third in the first year.",
    )
    assert answer_problems(good, instructions("summary")) == []


def test_a_fallacy_named_like_the_prompts_example_is_a_name_not_an_echo() -> None:
    fallacy = Fallacy(
        name="Strawman", quote="they want to ban all cars", explanation="Misstates the plan.", timestamp=4
    )
    assert answer_problems(FallaciesOutput(fallacies=[fallacy]), instructions("fallacies")) == []


def test_quoting_the_transcript_is_fine_even_though_the_prompt_holds_it() -> None:
    claim = ExtractedClaim(
        text="Below the bridge the river is forty metres deep.", timestamp=1, checkworthiness=3
    )
    assert answer_problems(ClaimsOutput(claims=[claim]), instructions("claims")) == []


def test_reject_raises_an_invalid_answer_naming_the_problems() -> None:
    reject([])
    with pytest.raises(GateRejected, match="quality checks: title is a placeholder"):
        reject(["title is a placeholder"])


@pytest.mark.parametrize(
    ("verdict", "confidence", "rationale", "cited", "problem"),
    [
        ("supported", 0.9, "Evidence [1] says so.", [], "must cite at least one of the evidence numbers 1-2"),
        ("refuted", 0.9, "Evidence [7] says otherwise.", [7], "must cite at least one"),
        ("supported", 0.0, "Evidence [1] says so.", [1], "a confidence of 0 contradicts"),
        ("supported", 0.8, "not_enough_evidence", [1], "the rationale says the evidence is insufficient"),
        ("disputed", 0.6, "There is insufficient evidence either way.", [1, 2], "insufficient"),
    ],
)
def test_inconsistent_verdicts_are_named(
    verdict: str, confidence: float, rationale: str, cited: list[int], problem: str
) -> None:
    problems = verdict_problems(verdict, confidence, rationale, cited, numbers=2)
    assert any(problem in p for p in problems)


def test_consistent_verdicts_and_honest_abstentions_pass() -> None:
    assert verdict_problems("refuted", 0.8, "Evidence [2] gives 1889.", [2], numbers=2) == []
    assert verdict_problems("not_enough_evidence", 0.0, "Not enough evidence.", [], numbers=2) == []
