"""analyse_articles: raw feed items -> normalised articles with entities and claims (news.articles.v1)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from pipeline.app import app, articles_topic, raw_articles_topic, send_to_dlq
from pipeline.errors import NewsriftError
from pipeline.model import RawArticle
from pipeline.normalize.core import normalise
from pipeline.normalize.pipeline import analyse_batch
from pipeline.streaming import decode, encode, log_event

log = logging.getLogger("newsrift.worker")
# spaCy is CPU-bound and synchronous: one worker thread keeps the event loop (heartbeats, commits) responsive.
_nlp_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")


@app.agent(raw_articles_topic)
async def analyse_articles(stream: Any) -> None:
    async for batch in stream.take_events(64, within=0.5):
        now = datetime.now(timezone.utc)
        ready = []
        for event in batch:
            try:
                raw = decode(event.value, RawArticle.from_json)
                ready.append((event, normalise(raw, now)))
            except NewsriftError as e:
                await send_to_dlq("analyse_articles", event, e)
        if not ready:
            continue
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(_nlp_thread, analyse_batch, [a for _, a in ready])
        for (event, _), result in zip(ready, results, strict=True):
            if isinstance(result, Exception):
                await send_to_dlq("analyse_articles", event, result)
                continue
            await articles_topic.send(key=event.key, value=encode(result))
        log_event(log, "articles_analysed", count=len(ready))
