"""How separable are the two same-kind events of an ECB+ topic with the clusterer's features? (docs/events.md)

With the gold events as clusters ("oracle" centroids, built online in a shuffled order with the clusterer's own
learnt IDF), each article is compared with its own event and with the other event of its topic. A classifier fit
on topics 1-20 is scored (ROC AUC) on topics 21-35. If even the best weighting of a feature set cannot separate
the pairs, the target needs new evidence rather than new weights.

    .venv/bin/python bench/probe_events.py
"""

from __future__ import annotations

import random
import re
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_events import ECB, T0, load  # noqa: E402

from pipeline.events.core import ClusterConfig, EventClusterer, _dot, _norm, _top  # noqa: E402
from pipeline.model import Article  # noqa: E402

_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
CHANNELS = ("w", "b", "p", "y", "d")


def _cos(a: dict[str, float] | None, b: dict[str, float] | None) -> float:
    if not a or not b:
        return 0.0
    return _dot(a, b) / ((_norm(a) or 1.0) * (_norm(b) or 1.0))


def rows(seed: int) -> list[tuple[int, bool, dict[str, float]]]:
    docs = load(ECB, None)
    random.Random(seed).shuffle(docs)
    clusterer = EventClusterer({}, ClusterConfig())
    cents: dict[str, dict[str, dict[str, float]]] = {}
    members: dict[str, list[dict[str, dict[str, float]]]] = {}
    out = []
    for i, d in enumerate(docs):
        art = Article(article_id=d["id"], outlet_id="ecb", url="", title=d["title"], text=d["text"],
                      content_hash=d["id"], published=T0 + timedelta(minutes=i))
        vec = clusterer._learn_and_vectorise(art)
        nums = {n.replace(",", "") for n in _NUMBER.findall(d["title"] + " " + d["text"])} - {str(k) for k in range(13)}
        vec["n"] = dict.fromkeys(nums, 1.0)
        for ev, cent in cents.items():
            if ev != d["event"] and not ev.startswith(f"{d['topic']}_"):
                continue
            f = {ch: _dot(vec[ch], cent[ch]) / (_norm(cent[ch]) or 1.0) if vec.get(ch) and cent.get(ch) else 0.0
                 for ch in (*CHANNELS, "n")}
            top_a, top_c = _top(vec.get("p", {}), 5), _top(cent.get("p", {}), 5)
            f["names_a_in_event"] = sum(t in cent.get("p", {}) for t in top_a) / (len(top_a) or 1)
            f["names_event_in_a"] = sum(t in vec.get("p", {}) for t in top_c) / (len(top_c) or 1)
            f["nearest_w"] = max(_cos(vec.get("w"), m.get("w")) for m in members[ev])
            f["nearest_p"] = max(_cos(vec.get("p"), m.get("p")) for m in members[ev])
            out.append((d["topic"], ev == d["event"], f))
        cent = cents.setdefault(d["event"], {})
        members.setdefault(d["event"], []).append(vec)
        for ch, v in vec.items():
            c = cent.setdefault(ch, {})
            for t, w in v.items():
                c[t] = c.get(t, 0.0) + w
            cent[ch] = _top(c, 400)
    return out


def main() -> None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    data = [r for seed in range(3) for r in rows(seed)]
    names = list(data[0][2])
    x = np.array([[f[n] for n in names] for _, _, f in data])
    y = np.array([pos for _, pos, _ in data])
    train = np.array([topic <= 20 for topic, _, _ in data])
    test = ~train
    print(f"pairs: {len(data)} (own event {int(y.sum())}, other event of the topic {int((~y).sum())}); "
          f"train topics 1-20, test 21-35")
    shipped = dict(ClusterConfig().weights)
    score = sum(shipped.get(n, 0.0) * x[:, names.index(n)] for n in CHANNELS)
    print(f"shipped weights                 AUC {roc_auc_score(y[test], score[test]):.4f}")
    for label, cols in (("w b p y (logistic)", ["w", "b", "p", "y"]),
                        ("w b p y d (logistic)", list(CHANNELS)),
                        ("all features (logistic)", names)):
        idx = [names.index(c) for c in cols]
        model = LogisticRegression(C=10, max_iter=2000).fit(x[train][:, idx], y[train])
        print(f"{label:31} AUC {roc_auc_score(y[test], model.decision_function(x[test][:, idx])):.4f}")
    gbm = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05).fit(x[train], y[train])
    print(f"{'all features (boosted trees)':31} AUC {roc_auc_score(y[test], gbm.predict_proba(x[test])[:, 1]):.4f}")
    for n in names:
        print(f"  {n:18} alone AUC {roc_auc_score(y[test], x[test][:, names.index(n)]):.4f}")


if __name__ == "__main__":
    main()
