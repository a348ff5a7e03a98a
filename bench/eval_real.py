"""Real news is the measure: ``newsrift analyze`` on published articles, scored with the maintainers' scorer.

    .venv/bin/python bench/eval_real.py                 # disputes-dev (dates as given and removed) + ECB+ noise
    .venv/bin/python bench/eval_real.py --skip-ecb      # the dev set only (about 15 s)
    .venv/bin/python bench/eval_real.py --show          # also every reported dispute and every missed one

- ``../shared/data/disputes-dev/``: 64 real articles from many outlets with hand-labelled events, reprints,
  disputes and agreements. ``../shared/tools/score.py`` scores the output (its docstring has the rules).
- ``../shared/data/ecbplus-dev/``: 772 ordinary news articles (ECB+, CC BY 3.0) that almost never disagree: the
  disputes reported there per 100 articles are the noise figure.

The texts are read from ``../shared`` at run time and never copied into the repository. Each figure is printed
next to its target from the issues.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsrift.runtime.analyze import analyze_file  # noqa: E402

SHARED = ROOT.parent / "shared"
DEV = SHARED / "data" / "disputes-dev"
ECB = SHARED / "data" / "ecbplus-dev" / "articles.jsonl"
SCORER = SHARED / "tools" / "score.py"
INPUT_FIELDS = ("id", "outlet", "url", "title", "published", "text")

# (figure, target, higher is better)
TARGETS: dict[str, tuple[float, bool]] = {
    "dispute_recall": (0.7, True),
    "dispute_precision": (0.8, True),
    "speaker_accuracy": (0.8, True),
    "sides_with_claim": (0.9, True),
    "bcubed_f1": (0.95, True),
    "dup_p": (0.9, True),
    "dup_r": (0.9, True),
}


def write_input(src: Path, dst: Path, *, drop_dates: bool = False) -> int:
    """The input ``analyze`` takes, from a labelled articles file (labels stay out of it)."""
    n = 0
    with dst.open("w", encoding="utf-8") as out:
        for line in src.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            row = {k: rec.get(k) for k in INPUT_FIELDS}
            if drop_dates:
                row["published"] = None
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def score(labels: Path, output: Path, articles: Path) -> dict[str, Any]:
    res = subprocess.run([sys.executable, str(SCORER), str(labels), str(output), "--articles", str(articles),
                          "--json"], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def fmt(name: str, value: Any) -> str:
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if name in TARGETS:
        target, higher = TARGETS[name]
        ok = value >= target if higher else value <= target
        text += f"   (target {'>=' if higher else '<='} {target}: {'met' if ok else 'not met'})"
    if name == "non_dispute_false_alarms":
        flagged = int(str(value).split("/")[0])
        text += f"   (target <= 1: {'met' if flagged <= 1 else 'not met'})"
    return text


def run_dev(tmp: Path, *, drop_dates: bool) -> tuple[dict[str, Any], Path]:
    inp = tmp / ("dev_nodates.jsonl" if drop_dates else "dev.jsonl")
    out = tmp / ("out_nodates.jsonl" if drop_dates else "out.jsonl")
    write_input(DEV / "articles.jsonl", inp, drop_dates=drop_dates)
    t0 = time.perf_counter()
    analyze_file(inp, out)
    figures = score(DEV / "labels.json", out, DEV / "articles.jsonl")
    figures["seconds"] = round(time.perf_counter() - t0, 1)
    return figures, out


def run_ecb(tmp: Path) -> dict[str, Any]:
    inp, out = tmp / "ecb.jsonl", tmp / "ecb_out.jsonl"
    n = write_input(ECB, inp)
    t0 = time.perf_counter()
    counts = analyze_file(inp, out)
    disputes = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if '"type": "dispute"' in x]
    return {"articles": n, "disputes": counts["dispute"], "disputes_per_100": 100 * counts["dispute"] / n,
            "seconds": round(time.perf_counter() - t0, 1), "sample": disputes}


def show(out: Path) -> None:
    """Every reported dispute with its sides, marked with the labelled disputes it finds; then the misses."""
    labels = json.loads((DEV / "labels.json").read_text(encoding="utf-8"))
    recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.strip()]
    gold = [(d["id"], s) for d in labels["disputes"] for s in d["sides"]]
    found: set[str] = set()
    for d in (r for r in recs if r["type"] == "dispute"):
        hits = {gid for s in d["sides"] for gid, g in gold
                if g["article_id"] == s["article_id"] and s["start"] < g["char_end"] and s["end"] > g["char_start"]}
        found |= hits
        print(f"\n[{d['kind']}] {d['topic']}  hits={sorted(hits) or '-'}")
        for s in d["sides"]:
            print(f"   {s['article_id']} {s['speaker']!r} ({s['polarity']}): {s['quote'][:160]!r}")
    print("\nlabelled disputes no reported dispute touches:")
    for d in labels["disputes"]:
        if d["id"] not in found:
            print(f"   {d['id']} ({d['kind']}): {d['topic']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-ecb", action="store_true", help="only the labelled dev set")
    ap.add_argument("--show", action="store_true", help="print reported and missed disputes of the dev set")
    ap.add_argument("--ecb-sample", type=int, default=0, help="print N ECB+ disputes (seeded sample)")
    args = ap.parse_args()
    if not (DEV / "articles.jsonl").exists():
        print(f"eval_real: {DEV} is missing (the shared data sits beside the repository)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="newsrift-eval-") as tmpdir:
        tmp = Path(tmpdir)
        print("== disputes-dev, dates as given (python bench/eval_real.py)")
        figures, out = run_dev(tmp, drop_dates=False)
        for k, v in figures.items():
            print(f"  {k}: {fmt(k, v)}")
        if args.show:
            show(out)
        print("== disputes-dev, every date removed")
        nodates, _ = run_dev(tmp, drop_dates=True)
        for k in ("bcubed_f1", "dispute_recall", "dispute_precision"):
            print(f"  {k}: {fmt(k, nodates[k]) if k != 'bcubed_f1' else fmt(k, nodates[k]).replace('0.95', '0.9')}")
        if not args.skip_ecb:
            print("== ECB+ dev, ordinary news (noise)")
            ecb = run_ecb(tmp)
            per100 = ecb["disputes_per_100"]
            print(f"  articles: {ecb['articles']}  disputes: {ecb['disputes']}  seconds: {ecb['seconds']}")
            print(f"  disputes_per_100_articles: {per100:.2f}   (target <= 4: {'met' if per100 <= 4 else 'not met'})")
            if args.ecb_sample:
                import random

                rng = random.Random(7)
                sample = ecb["sample"] if len(ecb["sample"]) <= args.ecb_sample else rng.sample(ecb["sample"],
                                                                                              args.ecb_sample)
                for d in sample:
                    print(f"\n  [{d['kind']}] {d['topic']}")
                    for s in d["sides"]:
                        print(f"     {s['article_id']} {s['speaker']!r} ({s['polarity']}): {s['quote'][:200]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
