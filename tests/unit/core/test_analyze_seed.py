"""`newsrift analyze` on the seed articles: the founding dispute, exactly quoted, and nothing false beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from newsrift.runtime.analyze import analyze_file

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "schemas"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, int], list[dict[str, Any]], dict[str, str]]:
    out = tmp_path_factory.mktemp("analyze") / "out.jsonl"
    counts = analyze_file(ROOT / "seeds" / "articles.jsonl", out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    texts = {d["id"]: d["text"] for d in map(json.loads, (ROOT / "seeds/articles.jsonl").read_text().splitlines())}
    return counts, lines, texts


def test_every_line_follows_the_output_contract(result: tuple) -> None:
    counts, lines, _ = result
    reg = Registry()
    for p in SCHEMAS.glob("*.schema.json"):
        reg = reg.with_resource(p.name, Resource.from_contents(json.loads(p.read_text())))
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "analyze_output.v1.schema.json").read_text()),
                                                registry=reg)
    for line in lines:
        validator.validate(line)
    assert counts["article"] == 5 and counts["rejected"] == 0


def test_the_founding_dispute_is_found_with_exact_quotes(result: tuple) -> None:
    _, lines, texts = result
    disputes = [d for d in lines if d["type"] == "dispute"]
    # One disagreement in the seeds: Mattis and Moscow not confirming is not the two of them blaming each other.
    (d,) = disputes
    assert d["kind"] in ("non_confirmation", "polarity")
    speakers = {s["speaker"]: s for s in d["sides"]}
    assert {"Kremlin-linked reporters", "James Mattis", "Russian government"} <= set(speakers)
    assert speakers["Kremlin-linked reporters"]["polarity"] == "asserts"
    assert speakers["James Mattis"]["polarity"] == "no_knowledge"
    # The wire story and its reprint are one source carried by two outlets, plus the Moscow outlet's own report.
    assert set(speakers["Kremlin-linked reporters"]["outlets"]) == {"moscow-wire", "global-wire", "metro-herald"}
    for s in d["sides"]:
        assert texts[s["article_id"]][s["start"] : s["end"]] == s["quote"]
    assert "Mattis" in speakers["James Mattis"]["quote"] and "knowledge" in speakers["James Mattis"]["quote"]


def test_no_false_numeric_dispute(result: tuple) -> None:
    _, lines, _ = result
    for d in lines:
        if d["type"] == "dispute":
            quotes = " ".join(s["quote"] for s in d["sides"])
            assert d["kind"] != "numeric", quotes  # 100 casualties vs 500 attackers; 75 bp vs 0.75 pp


def test_reprint_and_events(result: tuple) -> None:
    _, lines, _ = result
    arts = {a["outlet"] + ":" + a["id"]: a for a in lines if a["type"] == "article"}
    by_outlet = {}
    for a in arts.values():
        by_outlet.setdefault(a["outlet"], []).append(a)
    (wire,) = by_outlet["global-wire"]
    reprint = [a for a in by_outlet["metro-herald"] if a["duplicate_of"]]
    assert [a["duplicate_of"] for a in reprint] == [wire["id"]]
    syria = {a["event_id"] for o in ("moscow-wire", "global-wire", "capitol-defense") for a in by_outlet[o]}
    assert len(syria) == 1
    bank = [a for a in by_outlet["metro-herald"] if not a["duplicate_of"]]
    assert bank[0]["event_id"] not in syria


def test_bad_lines_are_set_aside_with_reasons(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    good = (ROOT / "seeds/articles.jsonl").read_text().splitlines()[0]
    src.write_text("\n".join([good, "{broken", json.dumps({"id": "x"}), json.dumps({"id": "y", "text": "hi",
                                                                                   "published": "yesterday"})]))
    counts = analyze_file(src, tmp_path / "out.jsonl")
    assert counts["article"] == 1 and counts["rejected"] == 3
    reasons = [json.loads(line)["error"] for line in (tmp_path / "out.jsonl.rejected.jsonl").read_text().splitlines()]
    assert any("not JSON" in r for r in reasons) and any("missing text" in r for r in reasons)
    assert any("ISO 8601" in r for r in reasons)
