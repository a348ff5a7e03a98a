"""index_documents: every output topic -> Elasticsearch, in bulk, idempotently, through aliases."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pipeline import topics as names
from pipeline.app import app, reject, send_to_dlq, settings
from pipeline.errors import MessageError
from pipeline.index.core import BulkAction, IndexNames, actions_for
from pipeline.index.es import connect, ensure_indices
from pipeline.index.writer import backoff, write_bulk
from pipeline.streaming import batches, decode_json, log_event

log = logging.getLogger("newsrift.index")
index_names = IndexNames(settings.index_prefix)
KIND_BY_TOPIC = {
    settings.topic(names.ARTICLES): "articles",
    settings.topic(names.PLACEMENTS): "placements",
    settings.topic(names.CLAIMS): "claims",
    settings.topic(names.EVENTS): "events",
    settings.topic(names.DISPUTES): "disputes",
    settings.topic(names.ALERTS): "alerts",
}
index_topics = app.topic(*KIND_BY_TOPIC, key_type=bytes, value_type=bytes)


async def _install_until_ready() -> Any:
    attempt = 0
    while True:
        try:
            await asyncio.get_running_loop().run_in_executor(None, ensure_indices, settings, index_names)
            return connect(settings, asynchronous=True)
        except Exception as e:  # Elasticsearch not up yet: wait, the messages stay in Kafka meanwhile
            delay = backoff(attempt, cap=30)
            log_event(log, "index_setup_retry", logging.WARNING, error=str(e)[:200], delay=f"{delay:.1f}")
            attempt += 1
            await asyncio.sleep(delay)


@app.agent(index_topics)
async def index_documents(stream: Any) -> None:
    es = await _install_until_ready()
    # Events are acked once their batch is written (or dead-lettered): while Elasticsearch is down, write_bulk keeps
    # retrying and nothing is acked, so nothing is lost. See ``batches`` for why not take().
    manual = stream.noack()
    async for batch in batches(manual.events(), settings.index_batch, settings.index_flush_seconds):
        settled: set[int] = set()  # id() of the events already written or dead-lettered
        try:
            await _index_batch(es, batch, settled)
        except Exception as e:  # not Elasticsearch being down (write_bulk waits that out): a bug; never stall
            for event in batch:
                if id(event) not in settled:  # one dead letter per event, none for what is in Elasticsearch
                    await reject("index_documents", event, e)
        for event in batch:
            await manual.ack(event)


async def _index_batch(es: Any, batch: list[Any], settled: set[int] | None = None) -> None:
    """Write a batch; each event is added to ``settled`` once it is written or dead-lettered."""
    settled = set() if settled is None else settled
    actions: list[BulkAction] = []
    origin: dict[int, Any] = {}
    for event in batch:
        try:
            kind = KIND_BY_TOPIC[event.message.topic]
            for action in actions_for(kind, decode_json(event.value), index_names):
                origin[id(action)] = event
                actions.append(action)
        except MessageError as e:
            await send_to_dlq("index_documents", event, e)
            settled.add(id(event))
        except KeyError as e:  # a message without the fields of its kind
            await send_to_dlq("index_documents", event, MessageError(f"invalid message: missing field {e}"))
            settled.add(id(event))
        except (TypeError, ValueError) as e:
            await send_to_dlq("index_documents", event, MessageError(f"invalid message: {str(e)[:500]}"))
            settled.add(id(event))
        except Exception as e:
            await reject("index_documents", event, e)
            settled.add(id(event))
    if not actions:
        return
    failed = await write_bulk(es, actions)
    refused = {id(origin[id(action)]) for action, _ in failed}
    settled.update(id(event) for event in batch if id(event) not in refused)
    for action, why in failed:
        await send_to_dlq("index_documents", origin[id(action)], f"Elasticsearch rejected {action.index}/"
                          f"{action.doc_id}: {why}")
        settled.add(id(origin[id(action)]))
    log_event(log, "indexed", docs=len(actions) - len(failed), rejected=len(failed))
