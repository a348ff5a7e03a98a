"""Reprint detection on the labelled set in tests/fixtures/reprints/ (built by scripts/make_reprint_set.py).

Articles go through ``ReprintIndex`` in their arrival order; a copy is right only when ``duplicate_of`` names the
article it copies. Precision and recall are over reprint decisions, with a line per kind of copy or non-copy.

    .venv/bin/python bench/eval_reprints.py
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from newsrift.model import Article  # noqa: E402
from newsrift.stages.dedupe.core import ReprintIndex  # noqa: E402
from newsrift.stages.normalize.core import content_hash  # noqa: E402

CASES = ROOT / "tests" / "fixtures" / "reprints" / "pairs.jsonl"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def main() -> None:
    cases = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    idx = ReprintIndex({})
    tp = fp = fn = tn = 0
    by_kind: Counter[tuple[str, bool]] = Counter()
    start = time.perf_counter()
    for c in cases:
        a = Article(article_id=c["id"], outlet_id=c["outlet"], url="", title=c["title"], text=c["text"],
                    content_hash=content_hash(c["text"]), published=T0 + timedelta(minutes=c["seq"]))
        d = idx.check(a)
        idx.add(a, d)
        right = d.duplicate_of == c["expect"]
        by_kind[(c["kind"], right)] += 1
        if c["expect"] is None:
            tn += d.duplicate_of is None
            fp += d.duplicate_of is not None
        else:
            tp += right
            fn += not right
            fp += d.duplicate_of is not None and not right  # flagged, but as a copy of the wrong article
        if not right:
            print(f"miss kind={c['kind']} id={c['id']} expect={c['expect']} got={d.duplicate_of} sim={d.similarity}")
    rate = len(cases) / (time.perf_counter() - start)
    print(f"articles={len(cases)} reprints={tp + fn} not_reprints={sum(1 for c in cases if c['expect'] is None)}")
    for kind in sorted({k for k, _ in by_kind}):
        ok, bad = by_kind[(kind, True)], by_kind[(kind, False)]
        print(f"  {kind:12s} right={ok} wrong={bad}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"precision={precision:.4f} recall={recall:.4f} tp={tp} fp={fp} fn={fn} tn={tn} ({rate:.0f} articles/s)")
    print("  (target: precision >= 0.98, recall >= 0.95)")
    # The disputes-dev set's reprint groups (often lightly edited wire copies), pairs as ../shared/tools/score.py
    # counts them, through the assign stage in newsrift analyze's order; related_not_duplicate pairs are negatives.
    from eval_events import dev_run

    from newsrift.stages.events.core import ClusterConfig

    for dates in (True, False):
        got = dev_run(dates, ClusterConfig())
        print(f"disputes-dev reprint pairs ({'dates as given' if dates else 'dates removed'}): "
              f"precision={got['dup_p']:.4f} recall={got['dup_r']:.4f} (target: >= 0.9 each)")


if __name__ == "__main__":
    main()
