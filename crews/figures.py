"""Figures in claims and evidence: extraction, negation and a model-independent consistency check.

A fact-check claim is often a Whisper transcript, so numbers may be digits ("1889", "8,848.86",
"45%", "3.5 million", "1980s") or spelled out ("eighteen eighty nine", "three hundred and thirty
metres", "one point one", "nineteen eighties"). `figures` turns either into `Figure`s with a
kind, a canonical unit and the exact span for quoting; `compare` pairs the claim's figures with
comparable evidence figures as agreeing or conflicting; `negated` is a keyword test for a
negated statement.

Heuristics and limits, kept deliberately simple:

- A 4-digit integer 1000-2100 written in digits, without a thousands separator, unit or scale
  word, is a year ("in 1889"; also "1000 people"). A spelled integer in that range is a year
  only after a year word ("in", "since", "by", "until", "from", "year", ...); a spelled pair
  whose first word is 13-20 ("eighteen eighty nine", "twenty twenty") is always a year. Pairs
  starting at 10-12 are left alone because they read like clock times ("eleven thirty").
- Bare spelled numbers below ten ("one of the", "no one") are ignored; with a unit, percent or
  scale word ("eight minutes", "five million") they count. Ordinals ("first", "21st",
  "twenty second") are skipped. Digits are always read, so "Apollo 11" and "Apollo eleven" both
  give the number 11.
- Bare "degrees" is its own unit and is compared only with bare degrees, never with Celsius or
  Fahrenheit. Bounds ("more than", "up to", "over") are treated like hedges: they mark a figure
  approximate, widening the tolerance, not as inequalities. Compound durations ("8 minutes and
  20 seconds") are two figures.
- `negated` looks for negation words anywhere in the text; it does not parse clauses, so
  "there is no doubt that ..." counts as negated and double negatives are not cancelled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One figure found in a text; `text` is the exact span as written (hedge not included)."""

    value: float
    kind: str  # "year" | "decade" | "percent" | "quantity" | "number"
    unit: str | None
    text: str
    approximate: bool


@dataclass(frozen=True)
class _Tok:
    kind: str  # "decade" | "num" | "word" | "sym"
    low: str
    start: int
    end: int
    brk: bool  # separated from the previous token by punctuation, not just space or a hyphen


_TOKEN = re.compile(
    r"(?P<decade>(?<![^\W_])\d{3}0)['’]?s\b"
    r"|(?P<num>(?:(?<![^\W_])[-−])?(?<![^\W_])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)?)"
    r"|(?P<sym>[°º]\s?[CFcf]\b|[%°º$€~/])"
)

_SMALL = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {w: 10 * n for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_TENS_PLURAL = {w[:-1] + "ies": n for w, n in _TENS.items()}
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_DIGIT_SCALES = {**_SCALES, "bn": 1e9}
_ORDINALS = (
    {"first", "second", "third", "fifth", "eighth", "ninth", "twelfth"}
    | {w + "th" for w in "four six seven ten eleven hundred thousand million billion".split()}
    | {w + "th" for w in _SMALL if w.endswith("teen")}
    | {w[:-1] + "ieth" for w in _TENS}
)
_DIGIT_ORDINAL_SUFFIXES = {"st", "nd", "rd", "th"}
_HEDGES = {
    tuple(h.split())
    for h in "about|around|roughly|nearly|almost|approximately|approx|some|over|under|circa|ca|c|~"
    "|more than|less than|fewer than|up to|at least|at most|close to".split("|")
}
_YEAR_CONTEXT = {"in", "since", "by", "until", "till", "from", "before", "after", "during", "circa", "year"}

_UNIT_SPELLINGS = {
    "metre": "m metre metres meter meters",
    "kilometre": "km kms kilometre kilometres kilometer kilometers",
    "centimetre": "cm centimetre centimetres centimeter centimeters",
    "millimetre": "mm millimetre millimetres millimeter millimeters",
    "foot": "ft foot feet",
    "mile": "mile miles",
    "celsius": "°c celsius centigrade degree_celsius degrees_celsius degree_c degrees_c",
    "fahrenheit": "°f fahrenheit degree_fahrenheit degrees_fahrenheit degree_f degrees_f",
    "degree": "° degree degrees",
    "kilogram": "kg kgs kilogram kilograms kilo kilos",
    "gram": "gram grams",
    "tonne": "tonne tonnes ton tons",
    "second": "sec secs second seconds",
    "minute": "min mins minute minutes",
    "hour": "hr hrs hour hours",
    "day": "day days",
    "year_span": "yr yrs year years",
    "percent": "% percent per_cent",
    "percentage_point": "percentage_point percentage_points",
    "ppm": "ppm parts_per_million",
    "kilometre_per_hour": "km/h kph km_per_hour kilometres_per_hour kilometers_per_hour",
    "mile_per_hour": "mph miles_per_hour",
    "dollar": "dollar dollars usd",
    "euro": "euro euros eur",
}
_UNITS = {
    tuple(s.replace("km/h", "km_/_h").split("_")): unit
    for unit, spellings in _UNIT_SPELLINGS.items()
    for s in spellings.split()
}
_PREFIX_UNITS = {"$": "dollar", "€": "euro"}

# Dimension and factor to the base unit of that dimension; units not listed compare only to themselves.
_DIMENSIONS: dict[str, tuple[str, float]] = {
    "metre": ("length", 1.0),
    "kilometre": ("length", 1000.0),
    "centimetre": ("length", 0.01),
    "millimetre": ("length", 0.001),
    "foot": ("length", 0.3048),
    "mile": ("length", 1609.344),
    "kilogram": ("mass", 1.0),
    "gram": ("mass", 0.001),
    "tonne": ("mass", 1000.0),
    "second": ("duration", 1.0),
    "minute": ("duration", 60.0),
    "hour": ("duration", 3600.0),
    "day": ("duration", 86400.0),
    "year_span": ("duration", 31_557_600.0),
    "kilometre_per_hour": ("speed", 1 / 3.6),
    "mile_per_hour": ("speed", 0.44704),
}
EXACT_TOLERANCE = 0.05
APPROXIMATE_TOLERANCE = 0.20
DECADE_YEARS = 10  # a decade agrees with decades at most this far from it
APPROXIMATE_YEARS = 5


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    prev_end = 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "sym"
        low = m.group(kind).lower().replace("’", "'").replace("º", "°").replace("−", "-")
        low = re.sub(r"\s+", "", low)
        brk = text[prev_end : m.start()].strip(" \t\r\n-–") != ""
        toks.append(_Tok(kind, low, m.start(), m.end(), brk))
        prev_end = m.end()
    return toks


def _word(toks: Sequence[_Tok], k: int) -> str:
    """The lower-cased word at `k`, or "" when there is none or punctuation separates it."""
    if k >= len(toks) or toks[k].kind not in ("word", "sym") or toks[k].brk:
        return ""
    return toks[k].low


def _parse_words(toks: Sequence[_Tok], j: int) -> tuple[float, int, str | None] | None:
    """Read a spelled-out number at `j`: (value, end index, "year"/"decade"/None) or None."""
    first = toks[j].low
    total, cur, last, k, cap = 0.0, 0.0, "", j, float("inf")
    if first == "a" and (_word(toks, j + 1) == "hundred" or _word(toks, j + 1) in _SCALES):
        cur, last, k = 1.0, "unit", j + 1
    elif first not in _SMALL and first not in _TENS:
        return None
    while k < len(toks):
        w = toks[k].low if k == j else _word(toks, k)
        if w in _SMALL and _SMALL[w] < 10 and last in ("", "tens", "hundred", "scale"):
            cur, last = cur + _SMALL[w], "unit"
        elif (w in _SMALL or w in _TENS) and last in ("", "hundred", "scale"):
            cur, last = cur + _SMALL.get(w, _TENS.get(w, 0)), "teen" if w in _SMALL else "tens"
        elif w == "hundred" and last in ("unit", "teen", "tens") and cur < 100:
            cur, last = cur * 100, "hundred"
        elif w in _SCALES and last in ("unit", "teen", "tens", "hundred") and _SCALES[w] < cap:
            total, cur, last, cap = total + cur * _SCALES[w], 0.0, "scale", _SCALES[w]
        elif w == "and" and last in ("hundred", "scale") and _word(toks, k + 1) in {**_SMALL, **_TENS}:
            pass
        elif w == "point" and last in ("unit", "teen", "tens") and _SMALL.get(_word(toks, k + 1), 10) < 10:
            digits = ""
            while _word(toks, k + 1) in _SMALL and _SMALL[_word(toks, k + 1)] < 10:
                digits, k = digits + str(_SMALL[_word(toks, k + 1)]), k + 1
            return total + cur + float("0." + digits), k + 1, None
        else:
            break
        k += 1
    if k == j + 1 and last in ("teen", "tens") and 13 <= cur <= 20:
        return _year_pair(toks, k, cur) or (cur, k, None)
    return total + cur, k, None


def _year_pair(toks: Sequence[_Tok], k: int, century: float) -> tuple[float, int, str | None] | None:
    """Read the second half of "eighteen eighty nine", "nineteen oh five" or "nineteen eighties"."""
    w, nxt = _word(toks, k), _word(toks, k + 1)
    if w in _TENS_PLURAL:
        return century * 100 + _TENS_PLURAL[w], k + 1, "decade"
    if w in ("oh", "o") and nxt in _SMALL and 0 < _SMALL[nxt] < 10:
        return century * 100 + _SMALL[nxt], k + 2, "year"
    if w in _SMALL and _SMALL[w] >= 10:
        return century * 100 + _SMALL[w], k + 1, "year"
    if w in _TENS:
        units = _SMALL[nxt] if nxt in _SMALL and 0 < _SMALL[nxt] < 10 else 0
        return century * 100 + _TENS[w] + units, k + 2 if units else k + 1, "year"
    return None


def _unit_at(toks: Sequence[_Tok], k: int) -> tuple[str, int] | None:
    """The canonical unit written at `k` (longest spelling first) and the index after it."""
    for length in (3, 2, 1):
        words = tuple(_word(toks, i) for i in range(k, k + length))
        if "" not in words and words in _UNITS:
            return _UNITS[words], k + length
    return None


def _is_hedged(toks: Sequence[_Tok], start: int) -> bool:
    """Whether a hedge ("about", "more than", "~", ...) directly precedes token `start`."""
    if start == 0 or toks[start].brk:
        return False
    if (toks[start - 1].low,) in _HEDGES:
        return True
    return start >= 2 and not toks[start - 1].brk and (toks[start - 2].low, toks[start - 1].low) in _HEDGES


def _figure_at(text: str, toks: Sequence[_Tok], i: int) -> tuple[Figure | None, int] | None:
    """The figure starting at token `i` and the index after it; None when no number starts here."""
    j, prefix_unit, sign = i, _PREFIX_UNITS.get(toks[i].low), 1.0
    if prefix_unit or toks[i].low in ("minus", "negative"):
        sign, j = (1.0 if prefix_unit else -1.0), i + 1
        if j >= len(toks) or toks[j].brk:
            return None
    tok = toks[j]
    hint: str | None = None
    spelled = tok.kind == "word"
    if tok.kind == "decade":
        value, k, hint = float(tok.low[:4]), j + 1, "decade"
    elif tok.kind == "num":
        value, k = float(tok.low.replace(",", "")), j + 1
        value, k = _spoken_sum(toks, value, k)
        if k < len(toks) and toks[k].start == tok.end and toks[k].low in _DIGIT_ORDINAL_SUFFIXES:
            return None, k + 1
    elif spelled and (parsed := _parse_words(toks, j)) is not None:
        value, k, hint = parsed
    else:
        return None
    value *= sign
    if hint is not None:
        kind = hint if 1000 <= value <= 2100 else None
        return (_make(text, toks, i, k, value, kind, None) if kind else None), k
    if spelled and _word(toks, k) in _ORDINALS and (_word(toks, k) != "second" or value != 1):
        return None, k + 1
    scaled = False
    if _word(toks, k) in _DIGIT_SCALES:
        value, k, scaled = value * _DIGIT_SCALES[_word(toks, k)], k + 1, True
    elif prefix_unit and _word(toks, k) == "m" and toks[k].start == toks[k - 1].end:
        value, k, scaled = value * 1e6, k + 1, True
    unit = prefix_unit
    if unit is None and (found := _unit_at(toks, k)) is not None:
        unit, k = found
    if unit is not None:
        return _make(text, toks, i, k, value, "percent" if unit == "percent" else "quantity", unit), k
    integral = value.is_integer() and 1000 <= value <= 2100 and not scaled
    if integral and not spelled and re.fullmatch(r"\d{4}", tok.low):
        return _make(text, toks, i, k, value, "year", None), k
    context = {toks[p].low for p in range(max(0, i - 2), i)}
    if integral and spelled and context & _YEAR_CONTEXT:
        return _make(text, toks, i, k, value, "year", None), k
    if spelled and abs(value) < 10 and value.is_integer() and not scaled:
        return None, k
    return _make(text, toks, i, k, value, "number", None), k


def _spoken_sum(toks: Sequence[_Tok], value: float, k: int) -> tuple[float, int]:
    """Whisper writes "three hundred and thirty" as "300 and 30": join such digit runs."""
    if (
        value >= 100
        and value % 100 == 0
        and k + 1 < len(toks)
        and toks[k].low == "and"
        and not toks[k].brk
        and not toks[k + 1].brk
        and toks[k + 1].kind == "num"
        and re.fullmatch(r"\d{1,2}", toks[k + 1].low)
    ):
        return value + float(toks[k + 1].low), k + 2
    return value, k


def _make(
    text: str, toks: Sequence[_Tok], i: int, k: int, value: float, kind: str, unit: str | None
) -> Figure:
    span = text[toks[i].start : toks[k - 1].end]
    return Figure(value=value, kind=kind, unit=unit, text=span, approximate=_is_hedged(toks, i))


def figures(text: str) -> list[Figure]:
    """Every figure in `text`, in order: digits and spelled-out numbers, with units and hedges.

    Years ("1889", "eighteen eighty nine"), decades ("1980s", "the nineteen eighties"), percent
    ("45%", "forty five per cent"), quantities with a canonical unit ("330 metres",
    "one hundred degrees Celsius", "$5 billion") and bare numbers ("ten million", "1.1").
    """
    toks = _tokenize(text)
    found: list[Figure] = []
    i = 0
    while i < len(toks):
        result = _figure_at(text, toks, i)
        if result is None:
            i += 1
            continue
        figure, i = result
        if figure is not None:
            found.append(figure)
    return found


_NEGATION = re.compile(
    r"\b(?:never|neither|nor|cannot|none|nothing|nobody|nowhere|false|untrue|myths?)\b"
    r"|\bnot\b(?!\s+only\b)"
    r"|n['’]t\b"
    r"|\bno\b(?=\s+\w)"
    r"|\bfail(?:s|ed|ing)?\s+to\b",
    re.IGNORECASE,
)


def negated(text: str) -> bool:
    """Whether `text` reads as a negated statement.

    True when it contains "not" (but not "not only"), "n't", "never", "no" before a word ("no
    upward trend", "there is no ...", "no longer"), "neither", "nor", "cannot", "none",
    "nothing", "nobody", "nowhere", "fails to", "false", "untrue" or "myth". A keyword test:
    a negation anywhere counts, and two negations do not cancel.
    """
    return _NEGATION.search(text) is not None


def _measure(figure: Figure) -> tuple[str, float]:
    """A key shared only by comparable figures, and the value in that key's base unit."""
    if figure.kind in ("year", "decade"):
        return "time", figure.value
    if figure.unit == "fahrenheit":
        return "temperature", (figure.value - 32) * 5 / 9
    if figure.unit == "celsius":
        return "temperature", figure.value
    if figure.unit in _DIMENSIONS:
        dimension, factor = _DIMENSIONS[figure.unit]
        return dimension, figure.value * factor
    return f"{figure.kind}:{figure.unit}", figure.value


def distance(a: Figure, b: Figure) -> float:
    """Years apart for years and decades (0 when a year is in a decade), else relative difference."""
    key, x = _measure(a)
    _, y = _measure(b)
    if key == "time":
        a_hi = a.value + (9 if a.kind == "decade" else 0)
        b_hi = b.value + (9 if b.kind == "decade" else 0)
        return max(0.0, b.value - a_hi, a.value - b_hi)
    largest = max(abs(x), abs(y))
    return 0.0 if largest == 0 else abs(x - y) / largest


def _agree(a: Figure, b: Figure) -> bool:
    approximate = a.approximate or b.approximate
    if _measure(a)[0] == "time":
        if a.kind == b.kind == "decade":  # "the 1980s" and "the late 1970s" are not a contradiction
            return distance(a, b) <= DECADE_YEARS
        return distance(a, b) <= (APPROXIMATE_YEARS if approximate else 0)
    return distance(a, b) <= (APPROXIMATE_TOLERANCE if approximate else EXACT_TOLERANCE)


def compare(
    claim: Sequence[Figure], evidence: Sequence[Figure]
) -> tuple[list[tuple[Figure, Figure]], list[tuple[Figure, Figure]]]:
    """Pair each claim figure with evidence figures: (agreeing pairs, conflicting pairs).

    Only comparable figures meet: years and decades (a year agrees with its decade), percent
    with percent, quantities of the same or a convertible unit (lengths, masses, durations,
    speeds, Celsius/Fahrenheit), bare numbers with bare numbers. Values agree within 5 %
    relative difference, 20 % when either is approximate; years must be equal (within 5 years
    when either is approximate). A claim figure that agrees with some comparable evidence
    figure gives one agreeing pair (the closest agreeing one); one with comparable figures but
    no agreement gives one conflicting pair (the closest one); one with nothing comparable
    gives neither.
    """
    agreeing: list[tuple[Figure, Figure]] = []
    conflicting: list[tuple[Figure, Figure]] = []
    for c in claim:
        key = _measure(c)[0]
        comparable = [e for e in evidence if _measure(e)[0] == key]
        if not comparable:
            continue
        matches = [e for e in comparable if _agree(c, e)]
        if matches:
            agreeing.append((c, min(matches, key=lambda e: distance(c, e))))
        else:
            conflicting.append((c, min(comparable, key=lambda e: distance(c, e))))
    return agreeing, conflicting
