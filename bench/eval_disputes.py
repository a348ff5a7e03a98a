"""Precision and recall of the dispute rules per kind on the labelled pair set.

    .venv/bin/python bench/eval_disputes.py [--pairs tests/fixtures/disputes/pairs.jsonl] [--verbose]

Each line of the set is two claims of one event and a label (a dispute kind or ``none``). Both claims go through
``DisputeDetector.update`` in order; the prediction is the kind of the dispute reported, or ``none``. A pair is a
true positive for kind K when label and prediction are both K. Look-alike agreements (``lookalike: true``) must
never be flagged; the script says so and exits 1 when one is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsrift.model import Claim  # noqa: E402
from newsrift.stages.disputes import DisputeDetector, EventDisputes  # noqa: E402

KINDS = ("numeric", "polarity", "attribution", "non_confirmation", "other")
PAIRS = ROOT / "tests" / "fixtures" / "disputes" / "pairs.jsonl"
DEFAULT_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)


def predict(pair: dict[str, Any], detector: DisputeDetector | None = None) -> str:
    """The kind the detector reports for one labelled pair (``none`` when it reports nothing)."""
    det = detector or DisputeDetector()
    state = EventDisputes()
    event = f"ev-{pair['id']}"
    kinds: list[str] = []
    for key in ("a", "b"):
        claim = Claim.from_json({**pair[key], "event_id": event})
        now = (claim.published or DEFAULT_TIME) + timedelta(minutes=1)
        dup = pair.get(f"{key}_duplicate_of")
        for ch in det.update(state, claim, now, duplicate_of=dup):
            kinds.append(ch.dispute.kind)
    return kinds[-1] if kinds else "none"


def evaluate(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    wrong: list[tuple[str, str, str]] = []
    flagged_lookalikes: list[str] = []
    det = DisputeDetector()
    for p in pairs:
        gold, pred = p["label"], predict(p, det)
        if pred == gold:
            if gold != "none":
                tp[gold] += 1
            continue
        wrong.append((p["id"], gold, pred))
        if pred != "none":
            fp[pred] += 1
        if gold != "none":
            fn[gold] += 1
        if p.get("lookalike") and pred != "none":
            flagged_lookalikes.append(p["id"])
    per_kind = {}
    for k in KINDS:
        prec = tp[k] / (tp[k] + fp[k]) if tp[k] + fp[k] else 1.0
        rec = tp[k] / (tp[k] + fn[k]) if tp[k] + fn[k] else 1.0
        per_kind[k] = {"precision": prec, "recall": rec, "support": tp[k] + fn[k]}
    # Overall: a pair flagged with the wrong kind counts as a false positive and a miss, so kind confusions hurt.
    t, f_p, f_n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    return {
        "per_kind": per_kind,
        "overall": {"precision": t / (t + f_p) if t + f_p else 1.0, "recall": t / (t + f_n) if t + f_n else 1.0},
        "pairs": len(pairs),
        "disputes": sum(1 for p in pairs if p["label"] != "none"),
        "lookalikes": sum(1 for p in pairs if p.get("lookalike")),
        "flagged_lookalikes": flagged_lookalikes,
        "wrong": wrong,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=Path, default=PAIRS)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    pairs = [json.loads(line) for line in args.pairs.read_text(encoding="utf-8").splitlines() if line.strip()]
    r = evaluate(pairs)
    print(f"pairs={r['pairs']} disputes={r['disputes']} lookalikes={r['lookalikes']}")
    print(f"{'kind':<18}{'precision':>10}{'recall':>8}{'n':>4}")
    for k, v in r["per_kind"].items():
        print(f"{k:<18}{v['precision']:>10.3f}{v['recall']:>8.3f}{v['support']:>4}")
    o = r["overall"]
    print(f"{'overall':<18}{o['precision']:>10.3f}{o['recall']:>8.3f}{r['disputes']:>4}")
    print(f"look-alike agreements flagged: {len(r['flagged_lookalikes'])} {r['flagged_lookalikes']}")
    if args.verbose or r["wrong"]:
        for pid, gold, pred in r["wrong"]:
            print(f"  wrong: {pid}: label={gold} predicted={pred}")
    return 1 if r["flagged_lookalikes"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
