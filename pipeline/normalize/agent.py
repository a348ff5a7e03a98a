"""analyse_articles: raw feed items -> normalised articles with entities and claims (news.articles.v1)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from typing import Any

from pipeline import messages
from pipeline.app import app, articles_topic, raw_articles_topic, reject, settings
from pipeline.errors import ProcessingError
from pipeline.model import Article
from pipeline.normalize.core import normalise
from pipeline.normalize.pipeline import analyse_batch, split, warm_up
from pipeline.streaming import batches, encode_message, log_event
from pipeline.watch import note_offset

log = logging.getLogger("newsrift.worker")
STAGE = "analyse_articles"
_executor: Executor | None = None


def _nlp_executor() -> Executor:
    """spaCy is CPU-bound and synchronous, so it never runs on the event loop (heartbeats, commits). In a thread it
    shares the worker's one core under the GIL; in processes (the default) it gets cores of its own."""
    global _executor
    if _executor is None:
        if settings.nlp_processes <= 0:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")
        else:
            _executor = ProcessPoolExecutor(max_workers=settings.nlp_processes, initializer=warm_up,
                                            mp_context=multiprocessing.get_context("spawn"))
    return _executor


async def _analyse(articles: list[Article]) -> list[dict[str, Any] | Exception]:
    """Analyse in chunks, one per NLP process. A process that dies (killed, out of memory) costs its chunk one
    retry in a fresh pool; if that dies too, the chunk's articles come back as errors for the dead-letter topic."""
    global _executor
    loop = asyncio.get_running_loop()
    chunks = split(articles, max(1, settings.nlp_processes))
    for attempt in (1, 2):
        try:
            parts = await asyncio.gather(*(loop.run_in_executor(_nlp_executor(), analyse_batch, c) for c in chunks))
            return [r for part in parts for r in part]
        except BrokenProcessPool as e:
            log_event(log, "nlp_process_died", logging.ERROR, attempt=attempt, articles=len(articles), error=str(e))
            broken, _executor = _executor, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
    return [ProcessingError("the NLP process died twice on this batch (out of memory? a pathological text?)")
            for _ in articles]


@app.agent(raw_articles_topic)
async def analyse_articles(stream: Any) -> None:
    # Batches for spaCy's nlp.pipe; events are acked once their batch is done (see ``batches`` for why not take()).
    manual = stream.noack()
    async for batch in batches(manual.events(), 64, 0.5):
        for event in batch:
            await note_offset(STAGE, event)
        await _analyse_batch(batch)
        for event in batch:
            await manual.ack(event)


async def _analyse_batch(batch: list[Any]) -> None:
    """Every event of the batch ends sent or dead-lettered, whatever fails, so the batch is always acked."""
    now = datetime.now(timezone.utc)
    ready = []
    for event in batch:
        try:
            raw = messages.RAW_ARTICLES(event.value).raw
            ready.append((event, normalise(raw, now)))
        except Exception as e:  # per message: one bad article must not stall the batch or the partition
            await reject(STAGE, event, e)
    if not ready:
        return
    results = await _analyse_safely([a for _, a in ready])
    for (event, _), result in zip(ready, results, strict=True):
        try:
            if isinstance(result, Exception):
                raise result
            await articles_topic.send(key=event.key, value=encode_message(result, "the analysed article"))
        except Exception as e:
            await reject(STAGE, event, e)
    log_event(log, "articles_analysed", count=len(ready),
              offsets=",".join(f"{e.message.partition}:{e.message.offset}" for e in batch))


async def _analyse_safely(articles: list[Article]) -> list[dict[str, Any] | Exception]:
    """``_analyse``, and when the batch as a whole fails unexpectedly, each article alone, so only the article
    that fails is dead-lettered."""
    try:
        return await _analyse(articles)
    except Exception as e:
        log.error("event=batch_failed stage=%s articles=%d error=%r: retrying one by one", STAGE, len(articles), e,
                  exc_info=e)
    out: list[dict[str, Any] | Exception] = []
    for article in articles:
        try:
            out.extend(await _analyse([article]))
        except Exception as e:
            out.append(e)
    return out
