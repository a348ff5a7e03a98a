"""Write seeds/articles.jsonl (the `newsrift analyze` input format) from the seed feeds.

    .venv/bin/python scripts/make_seed_articles.py

Goes through the real connector path (feedparser, canonical URLs, ids) and the normaliser, so the file holds
exactly the texts the streaming pipeline analyses. Review the diff after regenerating.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsrift.connectors.poller import poll_once  # noqa: E402
from newsrift.connectors.registry import load_registry  # noqa: E402
from newsrift.connectors.sinks import JsonlSink, read_jsonl  # noqa: E402
from newsrift.connectors.state import StateStore  # noqa: E402
from newsrift.model import format_time  # noqa: E402
from newsrift.stages.normalize.core import normalise  # noqa: E402

OUT = ROOT / "seeds" / "articles.jsonl"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = Path(tmp) / "raw.jsonl"
        sink = JsonlSink(raw_path)
        asyncio.run(poll_once(load_registry(ROOT / "seeds" / "outlets.toml").feeds(), StateStore(Path(tmp) / "st"),
                              sink))
        sink.close()
        raws = list(read_jsonl(raw_path))
    rows = []
    for raw in sorted(raws, key=lambda r: (r.published or datetime.now(timezone.utc), r.article_id)):
        a = normalise(raw, raw.fetched_at or datetime.now(timezone.utc))
        rows.append({"id": a.article_id, "outlet": a.outlet_id, "url": a.url, "title": a.title,
                     "published": format_time(a.published), "text": a.text})
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} articles to {OUT}")


if __name__ == "__main__":
    main()
