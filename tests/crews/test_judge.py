"""The evidence-consistency judge: figures and negation decide or overrule verdicts."""

from __future__ import annotations

from collections.abc import Callable

from crews.judge import Ruling, decide, overrule
from pipelines.models import Evidence
from settings import GateSettings, Settings

EIFFEL = (
    "The Eiffel Tower in Paris was completed in 1889 as the entrance arch of the World's Fair. "
    "Its height including antennas is about 330 metres."
)


def evidence(*items: tuple[str, float]) -> list[Evidence]:
    return [Evidence(number=i + 1, text=t, kind="reference", score=s) for i, (t, s) in enumerate(items)]


def gates(make_settings: Callable[..., Settings]) -> GateSettings:
    return make_settings().gates


def test_the_demos_misheard_year_is_refuted_quoting_both_figures(
    make_settings: Callable[..., Settings],
) -> None:
    claim = "The rifle tower in Paris was completed in 1989 and 10 about 300 and 30 meters tall."
    ruling = decide(claim, evidence((EIFFEL, 0.58)), gates(make_settings))
    assert ruling.verdict == "refuted" and ruling.cited == [1]
    assert "“1989”" in ruling.rationale and "“1889”" in ruling.rationale
    assert 0 < ruling.confidence < 1


def test_a_close_paraphrase_with_matching_figures_is_supported(
    make_settings: Callable[..., Settings],
) -> None:
    claim = "The Eiffel Tower was completed in eighteen eighty nine."
    ruling = decide(claim, evidence((EIFFEL, 0.81)), gates(make_settings))
    assert ruling.verdict == "supported" and ruling.confidence == 0.81
    assert "“eighteen eighty nine” agrees with “1889”" in ruling.rationale


def test_a_figure_within_tolerance_is_called_close_not_the_same(
    make_settings: Callable[..., Settings],
) -> None:
    claim = "Satellites show that solar output has not increased since the 1980s."
    text = "Satellite measurements show no upward trend in solar output since the late 1970s."
    ruling = decide(claim, evidence((text, 0.8)), gates(make_settings))
    assert ruling.verdict == "supported"
    assert "“1980s” is close to “1970s”" in ruling.rationale and "agrees with" not in ruling.rationale


def test_a_close_paraphrase_that_negates_the_claim_refutes_it(make_settings: Callable[..., Settings]) -> None:
    claim = "The Great Wall of China is visible from the Moon with the naked eye."
    text = "The Great Wall of China is not visible to the naked eye from the Moon."
    ruling = decide(claim, evidence((text, 0.9)), gates(make_settings))
    assert ruling.verdict == "refuted" and "denies" in ruling.rationale


def test_loosely_related_evidence_is_not_enough(make_settings: Callable[..., Settings]) -> None:
    claim = "Sea levels rose by 20 centimetres in the last century."
    ruling = decide(
        claim, evidence(("Sea ice in the Arctic reached a minimum in 2012.", 0.45)), gates(make_settings)
    )
    assert ruling.verdict == "not_enough_evidence" and ruling.cited == []


def test_a_claim_figure_the_evidence_does_not_state_blocks_support(
    make_settings: Callable[..., Settings],
) -> None:
    claim = "Light from the Sun takes about 8 minutes to reach the Earth, 150 million kilometres away."
    text = "Light from the Sun takes about 8 minutes to reach the Earth."
    assert decide(claim, evidence((text, 0.9)), gates(make_settings)).verdict == "not_enough_evidence"


def test_conflicting_and_agreeing_evidence_is_disputed(make_settings: Callable[..., Settings]) -> None:
    claim = "The Eiffel Tower was completed in 1889."
    items = evidence(
        ("The Eiffel Tower was completed in 1887.", 0.9), ("The Eiffel Tower was completed in 1889.", 0.95)
    )
    ruling = decide(claim, items, gates(make_settings))
    assert ruling.verdict == "disputed" and ruling.cited == [1, 2]


def test_a_models_supported_verdict_is_vetoed_by_a_conflicting_figure(
    make_settings: Callable[..., Settings],
) -> None:
    claim = "The Eiffel Tower in Paris was completed in 1989."
    said = Ruling("supported", 0.9, "Evidence [1] confirms it.", [1])
    ruling = overrule(claim, evidence((EIFFEL, 0.8)), gates(make_settings), said)
    assert ruling.verdict == "refuted"
    assert "“1989”" in ruling.rationale and "“1889”" in ruling.rationale and "supported" in ruling.rationale


def test_agreeing_figures_raise_a_models_confidence(make_settings: Callable[..., Settings]) -> None:
    claim = "The Eiffel Tower in Paris was completed in 1889."
    said = Ruling("supported", 0.7, "Evidence [1] confirms it.", [1])
    assert overrule(claim, evidence((EIFFEL, 0.8)), gates(make_settings), said).confidence == 0.8
    refuted = Ruling("refuted", 0.6, "Evidence [1] says otherwise.", [1])
    assert overrule(claim, evidence((EIFFEL, 0.8)), gates(make_settings), refuted) == refuted


def test_a_second_year_the_evidence_does_not_state_is_no_contradiction(
    make_settings: Callable[..., Settings],
) -> None:
    claim = "Renewable installations in 2018 were less than half the level reached in 2010."
    text = "Renewables should generate 22% of electricity by 2010, compared to 13.9% in 1997."
    ruling = decide(claim, evidence((text, 0.65)), gates(make_settings))
    assert ruling.verdict == "not_enough_evidence"
