"""The analyse step: raw feed items -> normalised articles with entities and claims (news.articles.v1), in batches
for spaCy's ``nlp.pipe``, which runs outside the event loop (heartbeats, commits)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from typing import Any

from newsrift import topics
from newsrift.errors import ProcessingError
from newsrift.messages import RawArticleMessage
from newsrift.model import Article
from newsrift.stages.context import Context, Item
from newsrift.stages.normalize.core import normalise
from newsrift.stages.normalize.pipeline import analyse_batch, split, warm_up
from newsrift.streaming import encode_message, log_event

log = logging.getLogger("newsrift.worker")
Result = dict[str, Any] | Exception


class Analyser:
    """spaCy is CPU-bound and synchronous, so it never runs on the event loop. In a thread (``processes`` 0) it
    shares the worker's one core under the GIL; in processes (the default, 1) it gets cores of its own."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: Executor | None = None

    def executor(self) -> Executor:
        if self._executor is None:
            if self.processes <= 0:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")
            else:
                self._executor = ProcessPoolExecutor(max_workers=self.processes, initializer=warm_up,
                                                     mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    async def analyse(self, articles: list[Article]) -> list[Result]:
        """Analyse in chunks, one per NLP process. A process that dies (killed, out of memory) costs its chunk one
        retry in a fresh pool; if that dies too, the chunk's articles come back as errors for the dead-letter
        topic."""
        loop = asyncio.get_running_loop()
        chunks = split(articles, max(1, self.processes))
        for attempt in (1, 2):
            try:
                parts = await asyncio.gather(*(loop.run_in_executor(self.executor(), analyse_batch, c)
                                               for c in chunks))
                return [r for part in parts for r in part]
            except BrokenProcessPool as e:
                log_event(log, "nlp_process_died", logging.ERROR, attempt=attempt, articles=len(articles),
                          error=str(e))
                broken, self._executor = self._executor, None
                if broken is not None:
                    broken.shutdown(wait=False, cancel_futures=True)
        return [ProcessingError("the NLP process died twice on this batch (out of memory? a pathological text?)")
                for _ in articles]

    async def analyse_safely(self, articles: list[Article]) -> list[Result]:
        """``analyse``, and when the batch as a whole fails unexpectedly, each article alone, so only the article
        that fails is dead-lettered."""
        try:
            return await self.analyse(articles)
        except Exception as e:
            log.error("event=batch_failed stage=analyse_articles articles=%d error=%r: retrying one by one",
                      len(articles), e, exc_info=e)
        out: list[Result] = []
        for article in articles:
            try:
                out.extend(await self.analyse([article]))
            except Exception as e:
                out.append(e)
        return out


async def analyse(analyser: Analyser, ctx: Context, batch: list[Item[RawArticleMessage]]) -> list[Exception | None]:
    """Normalise and analyse a batch; each item ends sent to news.articles.v1 or with the reason it was not."""
    now = datetime.now(timezone.utc)
    errors: list[Exception | None] = [None] * len(batch)
    ready: list[tuple[int, Article]] = []
    for i, item in enumerate(batch):
        try:
            ready.append((i, normalise(item.message.raw, now)))
        except Exception as e:  # per message: one bad article must not stall the batch or the partition
            errors[i] = e
    if not ready:
        return errors
    results = await analyser.analyse_safely([a for _, a in ready])
    for (i, _), result in zip(ready, results, strict=True):
        try:
            if isinstance(result, Exception):
                raise result
            await ctx.send(topics.ARTICLES, batch[i].key, encode_message(result, "the analysed article"))
        except Exception as e:
            errors[i] = e
    log_event(log, "articles_analysed", count=len(ready), offsets=",".join(f"{b.partition}:{b.offset}" for b in batch))
    return errors
