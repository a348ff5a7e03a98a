"""index_documents: every indexed topic -> Elasticsearch, as a task of the worker with a Kafka consumer of its own
(``indexer.py`` says why it is not a Faust agent)."""

from __future__ import annotations

import mode

from newsrift.runtime.indexer import Indexer, IndexerState
from newsrift.runtime.runner import Runtime


def register(rt: Runtime, state: IndexerState) -> None:
    class IndexDocuments(mode.Service):
        """A stop cancels the indexer wherever it waits (Kafka, Elasticsearch)."""

        @mode.Service.task
        async def _index(self) -> None:
            await Indexer(rt.settings, state, rt.note_dead_letter).run()

    rt.app.service(IndexDocuments)
