"""`autointel memory ingest` and `autointel memory search` end to end (real embedder, Qdrant local mode)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINTEL_DATA_DIR", str(tmp_path / "data"))


def _climate_fever_sample(tmp_path: Path, lines: int = 4) -> Path:
    sample = tmp_path / "cf.jsonl"
    head = (DATA / "climate_fever_dev.jsonl").read_text(encoding="utf-8").splitlines()[:lines]
    sample.write_text("\n".join(head) + "\n", encoding="utf-8")
    return sample


def test_ingest_climate_fever_then_search_reference(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["memory", "ingest", str(_climate_fever_sample(tmp_path))]) == 0
    out = capsys.readouterr().out
    # 4 claims × 5 evidences; one sentence is evidence for two claims and is stored once
    assert out.startswith("stored 19 items from cf.jsonl in memory namespace 'reference'")
    assert main(["memory", "ingest", str(_climate_fever_sample(tmp_path))]) == 0  # idempotent
    assert "(19 in total" in capsys.readouterr().out
    assert main(["memory", "search", "How fast has the sea level risen?", "--reference", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 matches in 'reference':")
    first_hit = out.splitlines()[1]
    assert "reference" in first_hit and "Sea level rise" in first_hit
    assert "sea level" in out.splitlines()[2].lower()


def test_guild_namespaces_are_separate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "The Eiffel Tower is 330 metres tall.\n\nOctopuses have three hearts.\n", encoding="utf-8"
    )
    assert main(["memory", "ingest", str(notes), "--guild", "1234"]) == 0
    assert "stored 2 items from notes.txt in memory namespace '1234'" in capsys.readouterr().out
    assert main(["memory", "search", "tower height", "--guild", "1234", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "Eiffel Tower" in out and "Octopuses" not in out and "notes.txt" in out
    assert main(["memory", "search", "tower height"]) == 0  # default namespace "cli" is empty
    assert capsys.readouterr().out.strip() == "no matches in memory namespace 'cli'"
    assert main(["memory", "search", "tower", "--guild", "1234", "--kind", "transcript"]) == 0
    assert "no matches" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["memory", "ingest", "missing.jsonl"], "autointel: file not found: missing.jsonl"),
        (["memory", "ingest", "bad.jsonl", "--guild", "Not Valid"], "autointel: invalid memory namespace"),
        (["memory", "search", "x", "--guild", "../reference"], "autointel: invalid memory namespace"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], expected: str
) -> None:
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{not json}\n', encoding="utf-8")
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and "\n" not in err


def test_malformed_jsonl_names_every_bad_line_and_ingests_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    corpus = tmp_path / "notes.jsonl"
    good = ['{"text": "The Eiffel Tower is 330 metres tall."}', '{"text": "Octopuses have three hearts."}']
    corpus.write_text("\n".join([good[0], "{not json}", good[1], '"just a string"', ""]), encoding="utf-8")
    assert main(["memory", "ingest", str(corpus), "--guild", "77"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 4: not a JSON object",
        f"autointel: {corpus} has 2 malformed lines, first line 2: not valid JSON "
        "(Expecting property name enclosed in double quotes at column 2); nothing was ingested",
    ]
    assert main(["memory", "search", "Eiffel Tower", "--guild", "77"]) == 0
    assert capsys.readouterr().out.strip() == "no matches in memory namespace '77'"  # not half-ingested

    corpus.write_text("\n".join(good) + "\n", encoding="utf-8")  # fixed: the whole file goes in
    assert main(["memory", "ingest", str(corpus), "--guild", "77"]) == 0
    assert "stored 2 items from notes.jsonl in memory namespace '77' (2 in total" in capsys.readouterr().out
    assert main(["memory", "ingest", str(corpus), "--guild", "77"]) == 0  # a repeat stores nothing twice
    assert "(2 in total" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["memory", "search", "x", "--reference", "--guild", "1"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        main(["memory", "search", "x", "--kind", "gossip"])
    with pytest.raises(SystemExit):
        main(["memory", "search", "x", "--limit", "0"])
