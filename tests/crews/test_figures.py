"""Figures in claims and evidence: extraction (digits and Whisper-style words), negation, comparison."""

from __future__ import annotations

import pytest

from crews.figures import Figure, compare, figures, negated

EIFFEL_EVIDENCE = (
    "The Eiffel Tower in Paris was completed in 1889 as the entrance arch of the World's Fair. "
    "Its height including antennas is about 330 metres."
)


def summary(text: str) -> list[tuple[float, str, str | None, str]]:
    """(value, kind, unit, text) of every figure in `text`."""
    return [(f.value, f.kind, f.unit, f.text) for f in figures(text)]


def only(text: str) -> Figure:
    found = figures(text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("completed in 1889", (1889.0, "year", None, "1889")),
        ("since 1750", (1750.0, "year", None, "1750")),
        ("an elevation of 8,848.86 metres", (8848.86, "quantity", "metre", "8,848.86 metres")),
        ("warmed by 1.1", (1.1, "number", None, "1.1")),
        ("3.5 million", (3_500_000.0, "number", None, "3.5 million")),
        ("45%", (45.0, "percent", "percent", "45%")),
        ("45 percent", (45.0, "percent", "percent", "45 percent")),
        ("45 per cent", (45.0, "percent", "percent", "45 per cent")),
        ("-3", (-3.0, "number", None, "-3")),
        ("the 1980s", (1980.0, "decade", None, "1980s")),
        ("the 1990's", (1990.0, "decade", None, "1990's")),
        ("330 m", (330.0, "quantity", "metre", "330 m")),
        ("1,083 feet", (1083.0, "quantity", "foot", "1,083 feet")),
        ("1500 metres", (1500.0, "quantity", "metre", "1500 metres")),
        ("2,000 people", (2000.0, "number", None, "2,000")),
        ("100 °C", (100.0, "quantity", "celsius", "100 °C")),
        ("212°F", (212.0, "quantity", "fahrenheit", "212°F")),
        ("for 20 years", (20.0, "quantity", "year_span", "20 years")),
        ("410 ppm", (410.0, "quantity", "ppm", "410 ppm")),
        ("410 parts per million", (410.0, "quantity", "ppm", "410 parts per million")),
        ("$5 billion", (5e9, "quantity", "dollar", "$5 billion")),
        ("$3m", (3e6, "quantity", "dollar", "$3m")),
        ("5 kg", (5.0, "quantity", "kilogram", "5 kg")),
        ("12 tonnes", (12.0, "quantity", "tonne", "12 tonnes")),
        ("300 km/h", (300.0, "quantity", "kilometre_per_hour", "300 km/h")),
    ],
)
def test_digit_figures(text: str, expected: tuple[float, str, str | None, str]) -> None:
    assert summary(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("three hundred and thirty metres", (330.0, "quantity", "metre", "three hundred and thirty metres")),
        ("eight thousand eight hundred and forty nine", (8849.0, "number", None, None)),
        ("eight thousand eight hundred and forty-nine metres", (8849.0, "quantity", "metre", None)),
        ("one hundred degrees Celsius", (100.0, "quantity", "celsius", "one hundred degrees Celsius")),
        ("eighteen eighty nine", (1889.0, "year", None, "eighteen eighty nine")),
        ("nineteen sixty nine", (1969.0, "year", None, "nineteen sixty nine")),
        ("nineteen oh five", (1905.0, "year", None, "nineteen oh five")),
        ("twenty twenty", (2020.0, "year", None, "twenty twenty")),
        ("twenty fifteen", (2015.0, "year", None, "twenty fifteen")),
        ("in two thousand and twenty", (2020.0, "year", None, "two thousand and twenty")),
        ("in the year nineteen hundred", (1900.0, "year", None, "nineteen hundred")),
        ("two thousand and twenty people", (2020.0, "number", None, "two thousand and twenty")),
        ("the nineteen eighties", (1980.0, "decade", None, "nineteen eighties")),
        ("one point one", (1.1, "number", None, "one point one")),
        ("eight point eight four", (8.84, "number", None, "eight point eight four")),
        ("eight minutes", (8.0, "quantity", "minute", "eight minutes")),
        ("forty five percent", (45.0, "percent", "percent", "forty five percent")),
        ("ten million", (10_000_000.0, "number", None, "ten million")),
        ("five million", (5_000_000.0, "number", None, "five million")),
        ("three point five billion", (3.5e9, "number", None, "three point five billion")),
        ("a hundred and fifty years", (150.0, "quantity", "year_span", "a hundred and fifty years")),
        ("minus three degrees", (-3.0, "quantity", "degree", "minus three degrees")),
        ("twenty seconds", (20.0, "quantity", "second", "twenty seconds")),
        ("one second", (1.0, "quantity", "second", "one second")),
        ("fifteen people", (15.0, "number", None, "fifteen")),
    ],
)
def test_spelled_figures(text: str, expected: tuple[float, str, str | None, str | None]) -> None:
    figure = only(text)
    value, kind, unit, span = expected
    assert (figure.value, figure.kind, figure.unit) == (value, kind, unit)
    assert figure.text == (span if span is not None else text)


@pytest.mark.parametrize(
    "text",
    [
        "No one knows which one of them said it.",
        "The first human landing on the Moon",
        "It was one of the greatest speeches of the twentieth century.",
        "the 21st century",
        "the twenty first century",
        "the twenty second amendment",
        "at one point he said",
        "Water is made of H2O and CO2 is a gas.",
        "They had a good time, and then three of them left.",
        "Thousands of people and hundreds of millions of dollars.",
    ],
)
def test_ordinary_prose_has_no_figures(text: str) -> None:
    assert figures(text) == []


def test_apollo_eleven_is_a_plain_number() -> None:
    # Documented: a spelled number of ten or more is read even as a name, as digits are.
    assert summary("Apollo eleven landed in nineteen sixty nine") == [
        (11.0, "number", None, "eleven"),
        (1969.0, "year", None, "nineteen sixty nine"),
    ]


@pytest.mark.parametrize(
    ("text", "approximate"),
    [
        ("about 330 metres", True),
        ("around 1890", True),
        ("roughly one degree", True),
        ("nearly 50%", True),
        ("almost ten million", True),
        ("approximately 8 minutes", True),
        ("some 10,000 years ago", True),
        ("over 300 metres", True),
        ("more than 300 metres", True),
        ("less than 5 kg", True),
        ("up to 20 years", True),
        ("~330 m", True),
        ("exactly 330 metres", False),
        ("in 1889", False),
        ("about. 330 metres", False),
    ],
)
def test_hedges_mark_figures_approximate(text: str, approximate: bool) -> None:
    assert only(text).approximate is approximate


def test_punctuation_separates_numbers_and_ranges_are_not_negative() -> None:
    assert summary("He was twenty. Nine people came.") == [(20.0, "number", None, "twenty")]
    assert [f.value for f in figures("built 1887-1889")] == [1887.0, 1889.0]
    assert summary("8 minutes and 20 seconds") == [
        (8.0, "quantity", "minute", "8 minutes"),
        (20.0, "quantity", "second", "20 seconds"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Solar output has not increased since the 1980s.",
        "The tower wasn't finished until 1889.",
        "He never said that.",
        "There is no upward trend.",
        "The glacier is no longer growing.",
        "Neither the sun nor volcanoes explain it.",
        "You cannot see the wall from space.",
        "None of the models predicted it.",
        "Nothing changed after 2000.",
        "The study fails to show warming.",
        "The claim is false.",
        "It is a myth that the wall is visible from space.",
        "No one knows.",
    ],
)
def test_negated_statements(text: str) -> None:
    assert negated(text)


@pytest.mark.parametrize(
    "text",
    [
        "Solar output has increased since the 1980s.",
        "The Eiffel Tower was completed in 1889.",
        "No, the tower was completed in 1889.",
        "It is not only tall but also old.",
        "The notion of knowledge is noted.",
    ],
)
def test_affirmative_statements(text: str) -> None:
    assert not negated(text)


def test_wrong_year_conflicts_with_evidence_year() -> None:
    claim = figures("The rifle tower in Paris was completed in 1989")
    agreeing, conflicting = compare(claim, figures(EIFFEL_EVIDENCE))
    assert agreeing == []
    assert [(c.value, c.kind, e.value, e.kind) for c, e in conflicting] == [(1989.0, "year", 1889.0, "year")]
    assert [(c.text, e.text) for c, e in conflicting] == [("1989", "1889")]


def test_spelled_claim_agrees_with_evidence() -> None:
    claim = figures(
        "The Eiffel Tower in Paris was completed in eighteen eighty nine and stands about "
        "three hundred and thirty metres tall."
    )
    agreeing, conflicting = compare(claim, figures(EIFFEL_EVIDENCE))
    assert conflicting == []
    assert [(c.text, e.text) for c, e in agreeing] == [
        ("eighteen eighty nine", "1889"),
        ("three hundred and thirty metres", "330 metres"),
    ]
    assert [(c.kind, c.unit, e.value) for c, e in agreeing] == [
        ("year", None, 1889.0),
        ("quantity", "metre", 330.0),
    ]


def test_everest_height_agrees_and_a_missing_claim_year_is_no_conflict() -> None:
    claim = figures("Mount Everest is eight thousand eight hundred and forty nine metres high.")
    evidence = figures("It has a summit elevation of 8,848.86 metres, as measured in 2020.")
    agreeing, conflicting = compare(claim, evidence)
    assert conflicting == []
    assert [(c.value, e.value, e.unit) for c, e in agreeing] == [(8849.0, 8848.86, "metre")]


def test_boiling_point_agrees() -> None:
    claim = figures("Water boils at one hundred degrees Celsius")
    agreeing, conflicting = compare(claim, figures("At sea level water boils at 100 degrees Celsius."))
    assert conflicting == []
    assert [(c.value, e.value, e.unit) for c, e in agreeing] == [(100.0, 100.0, "celsius")]


def test_approximate_minutes_agree_with_the_matching_evidence_figure() -> None:
    claim = figures("Light from the Sun takes about eight minutes to reach Earth.")
    evidence = figures("Sunlight takes 8 minutes and 20 seconds to reach Earth.")
    agreeing, conflicting = compare(claim, evidence)
    assert conflicting == []
    assert [(c.text, e.text) for c, e in agreeing] == [("eight minutes", "8 minutes")]


def test_adjacent_decades_agree_and_distant_ones_conflict() -> None:
    claim = figures("Solar output has not increased since the nineteen eighties.")
    agreeing, conflicting = compare(claim, figures("Solar output has been flat since the late 1970s."))
    assert [(c.value, e.value) for c, e in agreeing] == [(1980.0, 1970.0)] and conflicting == []
    agreeing, conflicting = compare(claim, figures("Solar output has been flat since the 1950s."))
    assert agreeing == [] and [(c.value, e.value) for c, e in conflicting] == [(1980.0, 1950.0)]


@pytest.mark.parametrize(
    ("claim", "evidence", "agrees"),
    [
        ("in 1889", "in 1889", True),
        ("in 1889", "in 1890", False),
        ("around 1890", "in 1889", True),
        ("in the 1880s", "in 1889", True),
        ("in 1889", "in the 1880s", True),
        ("in 1899", "in the 1880s", False),
        ("330 metres", "about 330 m", True),
        ("330 metres", "340 metres", True),
        ("330 metres", "380 metres", False),
        ("about 330 metres", "380 metres", True),
        ("roughly one degree", "1.1 degrees", True),
        ("one degree", "1.5 degrees", False),
        ("45%", "forty five percent", True),
        ("45%", "60%", False),
        ("ten million", "10,000,000", True),
        ("1 mile", "1.609 km", True),
        ("1,083 feet", "330 metres", True),
        ("1,083 feet", "500 metres", False),
        ("212 °F", "100 °C", True),
        ("for one hour", "60 minutes", True),
        ("2 tonnes", "2,000 kg", True),
        ("-3 degrees", "3 degrees", False),
    ],
)
def test_agreement_rules(claim: str, evidence: str, agrees: bool) -> None:
    agreeing, conflicting = compare(figures(claim), figures(evidence))
    assert (len(agreeing), len(conflicting)) == ((1, 0) if agrees else (0, 1))


@pytest.mark.parametrize(
    ("claim", "evidence"),
    [
        ("in 1889", "330 metres"),
        ("45%", "45"),
        ("330 metres", "330 kg"),
        ("one degree", "1 °C"),
        ("100 °C", "100"),
        ("20 years", "in 2020"),
        ("ten million", "10 million dollars"),
    ],
)
def test_incomparable_figures_give_neither(claim: str, evidence: str) -> None:
    assert compare(figures(claim), figures(evidence)) == ([], [])


def test_best_evidence_figure_is_chosen() -> None:
    claim = figures("The tower is 330 metres tall.")
    evidence = figures("It is 300 metres without the antenna and 330 metres with it; 1 km away.")
    agreeing, conflicting = compare(claim, evidence)
    assert conflicting == []
    assert [e.text for _, e in agreeing] == ["330 metres"]

    agreeing, conflicting = compare(figures("It is 500 metres tall."), evidence)
    assert agreeing == []
    assert [e.text for _, e in conflicting] == ["330 metres"]


def test_each_claim_figure_gives_at_most_one_pair() -> None:
    claim = figures("Built in 1889, rebuilt in 1999, and 330 metres tall.")
    evidence = figures("Built in 1889 and 1890; 330 metres or 331 metres tall.")
    agreeing, conflicting = compare(claim, evidence)
    assert [(c.text, e.text) for c, e in agreeing] == [("1889", "1889"), ("330 metres", "330 metres")]
    assert [(c.text, e.text) for c, e in conflicting] == [("1999", "1890")]
