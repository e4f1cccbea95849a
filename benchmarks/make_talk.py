"""Build the project's own spoken test media, with known content, from CLIMATE-FEVER.

Default mode builds a talk of eight to nine minutes into `tests/data/talk/`:

* `talk.txt` — the spoken script, one sentence per line: a greeting, the first N clean claims
  of the dataset (file order) with a few non-check-worthy sentences (a question or an opinion,
  then a transition) after every ten claims, and a closing line;
* `gold.jsonl` — one line per claim spoken: `{"claim": <text as spoken>, "label": <claim_label>}`;
* `reference.jsonl` — every evidence sentence of those claims, deduplicated by text, as
  `{"text": ..., "source": <article>}` (the format `autointel memory ingest` reads);
* `talk.ogg` — the script read by espeak-ng (voice en-gb-x-rp, 160 words a minute), mono 16 kHz
  Opus at 16 kbit/s, about 8.6 minutes.

`--short` instead writes `tests/data/claims.txt` and `tests/data/claims.ogg`: three short
check-worthy sentences (two true facts and one myth) in 15 seconds, read at 130 words a minute.

Everything is deterministic (no randomness; espeak-ng is a formant synthesiser). Needs the
Debian packages espeak-ng and ffmpeg; without them it exits 2. Prints a one-line JSON summary.

    .venv/bin/python benchmarks/make_talk.py [--dataset PATH] [--out DIR] [--claims N]
    .venv/bin/python benchmarks/make_talk.py --short
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
DATASET = DATA / "climate_fever_dev.jsonl"
TALK_DIR = DATA / "talk"
DEFAULT_CLAIMS = 70
# espeak-ng voice and speed (words per minute), chosen by what the bundled tiny.en Whisper model
# (greedy, as the product runs it on CPU) transcribes best: with en-us at 160 it dropped 90 s of
# the talk and its last 20 s; at 160 the British RP voice gives about 12% WER with no gap. The
# short clip is slower because at 160 "1889", "Eiffel" or "Great Wall" came out wrong.
VOICE = "en-gb-x-rp"
SPEED = 160
SHORT_SPEED = 130
# Mono 16 kHz Opus at 16 kbit/s; no metadata (no encoder tag or date), so rebuilds are byte-identical.
ENCODE = ["-ac", "1", "-ar", "16000", "-c:a", "libopus", "-b:a", "16k"]
ENCODE += ["-map_metadata", "-1", "-fflags", "+bitexact"]
CLAIMS_PER_BREAK = 10
MIN_WORDS, MAX_WORDS = 6, 40

SHORT_TEXT = (
    "The Eiffel Tower was completed in 1889. "
    "The Great Wall of China is visible from the Moon with the naked eye. "
    "Water boils at 100 degrees Celsius at sea level."
)

INTRO = (
    "Hello and welcome to this week's climate briefing.",
    "Today we go through a series of statements about the climate that have been made in public.",
)
CLOSING = ("That brings us to the end of today's briefing.", "Thank you for listening.")
# Not check-worthy: questions and opinions, alternating, each followed by a transition.
REACTIONS = (
    "What does this mean for all of us?",
    "I personally find this very worrying.",
    "How should we feel about all of this?",
    "In my view this deserves much more attention.",
    "Why does this matter to ordinary people?",
    "Honestly, I think we can all agree that this is a fascinating subject.",
    "What would you do in their place?",
)
TRANSITIONS = (
    "Let us move on to the next topic.",
    "Now let us turn to something else.",
    "Let us continue.",
)

_QUOTES = "\"'“”‘’„«»"
# After normalising apostrophes: letters, digits, spaces and plain sentence punctuation only.
# Rejects brackets, URLs (no "/" allowed), inner quotes, ellipses, dashes, mojibake, soft hyphens.
_CLEAN = re.compile(r"[A-Za-z0-9 ,.;:'%?!-]+")
_APOSTROPHE = re.compile(r"(?<=[A-Za-z])'(?=[A-Za-z])|(?<=s)'(?=\s)")


@dataclass(frozen=True)
class Claim:
    """One claim as spoken, with its CLIMATE-FEVER label and evidence sentences."""

    text: str
    label: str
    evidences: tuple[tuple[str, str], ...]  # (evidence sentence, article)


class ToolMissing(RuntimeError):
    """A required command-line tool is not installed."""


def clean_claim(raw: str) -> str | None:
    """Return the claim as a clean spoken sentence ending in a period, or None to skip it."""
    text = " ".join(raw.split()).strip(_QUOTES + " ")
    text = text.replace("’", "'")
    text = text.rstrip(",;: ")
    if not text or not _CLEAN.fullmatch(text) or "?" in text or "!" in text:
        return None
    if "'" in _APOSTROPHE.sub("", text):
        return None  # a single quote that is not an apostrophe: a quotation inside the claim
    if "http" in text.lower() or "www." in text.lower():
        return None
    if not MIN_WORDS <= len(text.split()) <= MAX_WORDS:
        return None
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def load_claims(dataset: Path, count: int) -> list[Claim]:
    """The first `count` claims of the dataset, in file order, whose text is a clean sentence."""
    claims: list[Claim] = []
    with dataset.open(encoding="utf-8") as lines:
        for line in lines:
            if len(claims) == count:
                break
            if not line.strip():
                continue
            obj = json.loads(line)
            text = clean_claim(str(obj["claim"]))
            if text is None:
                continue
            evidences = tuple(
                (" ".join(str(e["evidence"]).split()), str(e.get("article") or ""))
                for e in obj.get("evidences", [])
                if str(e.get("evidence") or "").strip()
            )
            claims.append(Claim(text, str(obj["claim_label"]), evidences))
    if len(claims) < count:
        raise SystemExit(f"only {len(claims)} clean claims in {dataset}, {count} requested")
    return claims


def talk_sentences(claims: Sequence[Claim]) -> list[str]:
    """The talk script: intro, claims with a reaction and a transition every ten claims, closing."""
    sentences = list(INTRO)
    breaks = 0
    for number, claim in enumerate(claims, start=1):
        sentences.append(claim.text)
        if number % CLAIMS_PER_BREAK == 0 and number < len(claims):
            sentences.append(REACTIONS[breaks % len(REACTIONS)])
            sentences.append(TRANSITIONS[breaks % len(TRANSITIONS)])
            breaks += 1
    sentences += CLOSING
    return sentences


def reference_rows(claims: Iterable[Claim]) -> list[dict[str, str]]:
    """Every evidence sentence of the claims, first occurrence kept, as {"text", "source"} rows."""
    seen: set[str] = set()
    rows: list[dict[str, str]] = []
    for claim in claims:
        for text, article in claim.evidences:
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "source": article})
    return rows


def _write_jsonl(path: Path, rows: Iterable[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def check_tools() -> None:
    """Raise `ToolMissing` naming the Debian package when espeak-ng, ffmpeg or ffprobe is absent."""
    for tool, package in (("espeak-ng", "espeak-ng"), ("ffmpeg", "ffmpeg"), ("ffprobe", "ffmpeg")):
        if shutil.which(tool) is None:
            raise ToolMissing(
                f"{tool} not found: install the Debian package {package} (apt-get install {package})"
            )


def synthesise(text_file: Path, ogg: Path, voice: str = VOICE, speed: int = SPEED) -> None:
    """Speak `text_file` with espeak-ng and encode it as mono 16 kHz Opus (16 kbit/s) into `ogg`."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        script = Path(tmp) / "text.txt"
        shutil.copyfile(text_file, script)
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), "-f", str(script)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["ffmpeg", "-y", "-i", str(wav), *ENCODE, str(ogg)],
            check=True,
            capture_output=True,
        )


def duration(path: Path) -> float:
    """Duration of a media file in seconds, from ffprobe."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.strip())


def build_talk(dataset: Path, out: Path, count: int, voice: str, speed: int) -> dict[str, object]:
    """Write talk.txt, gold.jsonl, reference.jsonl and talk.ogg into `out`; return the summary."""
    claims = load_claims(dataset, count)
    sentences = talk_sentences(claims)
    out.mkdir(parents=True, exist_ok=True)
    text_file = out / "talk.txt"
    text_file.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    _write_jsonl(out / "gold.jsonl", ({"claim": c.text, "label": c.label} for c in claims))
    references = reference_rows(claims)
    _write_jsonl(out / "reference.jsonl", references)
    ogg = out / "talk.ogg"
    synthesise(text_file, ogg, voice, speed)
    return {
        "claims": len(claims),
        "sentences": len(sentences),
        "references": len(references),
        "seconds": round(duration(ogg), 1),
        "bytes": ogg.stat().st_size,
        "out": str(out),
    }


def build_short(out: Path, voice: str, speed: int) -> dict[str, object]:
    """Write claims.txt and claims.ogg (the three-sentence clip) into `out`; return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    text_file = out / "claims.txt"
    text_file.write_text(SHORT_TEXT + "\n", encoding="utf-8")
    ogg = out / "claims.ogg"
    synthesise(text_file, ogg, voice, speed)
    return {
        "claims": 3,
        "sentences": 3,
        "seconds": round(duration(ogg), 1),
        "bytes": ogg.stat().st_size,
        "out": str(out),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dataset", type=Path, default=DATASET, help="CLIMATE-FEVER JSON Lines file")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (tests/data/talk; tests/data with --short)"
    )
    parser.add_argument("--claims", type=int, default=DEFAULT_CLAIMS, help="number of claims in the talk")
    parser.add_argument("--short", action="store_true", help="write only claims.ogg, claims.txt")
    parser.add_argument("--voice", default=VOICE, help="espeak-ng voice")
    parser.add_argument("--speed", type=int, default=None, help="words per minute (160; 130 with --short)")
    args = parser.parse_args(argv)
    try:
        check_tools()
    except ToolMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.short:
        summary = build_short(args.out or DATA, args.voice, args.speed or SHORT_SPEED)
    else:
        summary = build_talk(args.dataset, args.out or TALK_DIR, args.claims, args.voice, args.speed or SPEED)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
