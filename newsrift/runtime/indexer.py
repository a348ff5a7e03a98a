"""The indexer: every indexed topic -> Elasticsearch, in bulk, idempotently, through aliases.

The indexer is not a Faust agent: it reads with a Kafka consumer of its own (group ``<app id>-index``) and commits a
batch's offsets once Elasticsearch holds the batch (or its refused documents are dead-lettered). Faust finishes a
rebalance or a stop only once every message in flight is acked. While Elasticsearch was down a Faust indexer could
not ack, so a rebalance stalled every stage of the worker, alerts included, and a SIGTERM hung until the SIGKILL
(``tests/integration/test_worker_outages.py``). Here a stop or a lost partition drops the uncommitted batch; whoever
reads the partition next writes it again, and every write is idempotent (document ids, see ``index/core.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from newsrift import messages
from newsrift import topics as names
from newsrift.errors import MessageError, NewsriftError
from newsrift.runtime.bulk import backoff, write_bulk
from newsrift.runtime.es import connect, ensure_indices
from newsrift.settings import Settings
from newsrift.stages.index.core import BulkAction, IndexNames, actions_for
from newsrift.streaming import FailureCounts, Restarts, batches, dead_letter, encode, kv, log_event

log = logging.getLogger("newsrift.index")
STAGE = "index_documents"
_CLOSE_TIMEOUT = 10.0
"""Seconds a stop waits for each Kafka client to close (leave the group, flush dead letters)."""

DeadLetter = Callable[[Any, BaseException | str], Awaitable[None]]
"""Dead-letters one record (``topic``, ``partition``, ``offset``, ``key``, ``value``) with its reason."""


def decoders(settings: Settings) -> dict[str, Callable[[Any], messages.Message]]:
    """The decoder of each indexed topic, by its prefixed name."""
    return {settings.topic(spec.name): messages.decoder(spec.name) for spec in names.TOPICS if spec.indexed}


async def install_until_ready(settings: Settings) -> Any:
    """Templates and aliases installed, then an Elasticsearch client; waits (with backoff) until it can."""
    attempt = 0
    while True:
        try:
            await asyncio.get_running_loop().run_in_executor(None, ensure_indices, settings,
                                                             IndexNames(settings.index_prefix))
            return connect(settings, asynchronous=True)
        except Exception as e:  # Elasticsearch not up yet: wait, the messages stay in Kafka meanwhile
            delay = backoff(attempt, cap=30)
            log_event(log, "index_setup_retry", logging.WARNING, error=str(e)[:200], delay=f"{delay:.1f}")
            attempt += 1
            await asyncio.sleep(delay)


async def index_batch(es: Any, batch: list[Any], dead: DeadLetter, decode: Mapping[str, Callable[[Any], Any]],
                      index_names: IndexNames, settled: set[int] | None = None) -> None:
    """Write a batch of records; each is added to ``settled`` (by ``id()``) once it is written or dead-lettered.
    While Elasticsearch is unreachable this keeps retrying (``write_bulk``), and the offsets wait with it."""
    settled = set() if settled is None else settled
    actions: list[BulkAction] = []
    origin: dict[int, Any] = {}
    for record in batch:
        try:
            decoder = decode.get(record.topic)
            if decoder is None:
                raise MessageError(f"no index takes topic {record.topic}")
            for action in actions_for(decoder(record.value), index_names):
                origin[id(action)] = record
                actions.append(action)
        except MessageError as e:
            await dead(record, e)
            settled.add(id(record))
        except KeyError as e:  # a message without the fields of its kind
            await dead(record, MessageError(f"invalid message: missing field {e}"))
            settled.add(id(record))
        except (TypeError, ValueError) as e:
            await dead(record, MessageError(f"invalid message: {str(e)[:500]}"))
            settled.add(id(record))
        except Exception as e:
            _log_unexpected(record, e)
            await dead(record, e)
            settled.add(id(record))
    if not actions:
        return
    failed = await write_bulk(es, actions)
    refused = {id(origin[id(action)]) for action, _ in failed}
    settled.update(id(record) for record in batch if id(record) not in refused)
    for action, why in failed:
        await dead(origin[id(action)], f"Elasticsearch rejected {action.index}/{action.doc_id}: {why}")
        settled.add(id(origin[id(action)]))
    log_event(log, "indexed", docs=len(actions) - len(failed), rejected=len(failed))


def _log_unexpected(record: Any, error: Exception) -> None:
    if not isinstance(error, NewsriftError):
        log.error("event=unexpected_error %s", kv(stage=STAGE, topic=record.topic, partition=record.partition,
                                                   offset=record.offset, error_type=type(error).__name__,
                                                   error=str(error)[:300]), exc_info=error)


@dataclass
class IndexerState:
    """What ``GET /health`` reports of the indexer (``newsrift.runtime.health.indexer_check``)."""

    running: bool = False
    """Its Kafka clients are started (false while it waits to start over)."""
    error: str | None = None
    """Why it last started over, until a batch is committed again."""


class Indexer:
    """``run()`` until cancelled: consume, write, commit; a failure that is not one document's starts the consumer
    over from the last committed offsets after a backoff (1 s doubling to 60 s, back to 1 s once a batch commits).

    A batch that fails ``MAX_FAILURES`` times for the same records and not because Kafka is away (a bug, a dead
    letter Kafka refuses) has its unsettled records dead-lettered and is committed, as one bad document is: indexing
    must not stop for every partition behind one batch."""

    MAX_FAILURES = 5

    def __init__(self, settings: Settings, state: IndexerState,
                 on_dead_letter: Callable[[str, str, int, int, BaseException | str], None],
                 connect_es: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.settings = settings
        self.connect_es = connect_es or (lambda: install_until_ready(settings))
        self.group_id = settings.app_id + names.INDEX_GROUP_SUFFIX
        self.state = state
        self.on_dead_letter = on_dead_letter
        self.decode = decoders(settings)
        self.index_names = IndexNames(settings.index_prefix)
        self.restarts = Restarts()
        self._failures: FailureCounts[tuple[str, int, int]] = FailureCounts(self.MAX_FAILURES)  # (topic, part., offset)

    async def run(self) -> None:
        while True:
            try:
                await self._run()
                error = "the consumer stopped"
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Kafka unreachable, a commit refused, or a bug: start over from the commits
                error = f"{type(e).__name__}: {str(e)[:300]}"
                log.error("event=indexer_error error=%s", error,
                          exc_info=not isinstance(e, (NewsriftError, KafkaError)))
            self.state.running, self.state.error = False, error
            await asyncio.sleep(self.restarts.next())

    async def _run(self) -> None:
        settings = self.settings
        clients: list[Any] = []
        es: Any = None
        try:
            es = await self.connect_es()
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, client_id=self.group_id,
                                        acks="all")
            clients.append(producer)
            consumer = AIOKafkaConsumer(
                *self.decode, bootstrap_servers=settings.kafka_bootstrap, group_id=self.group_id,
                client_id=self.group_id, enable_auto_commit=False, auto_offset_reset="earliest",
                max_poll_records=settings.index_batch,
                # Elasticsearch can be down for longer than Kafka's default 5 minutes between polls; the group
                # would then hand the partitions on, and the batch would be written twice (harmless, but noisy).
                max_poll_interval_ms=3_600_000,
            )
            clients.append(consumer)
            for client in clients:  # listed before start: a start that fails half-way is still stopped
                await client.start()
            self.state.running = True
            log_event(log, "indexer_ready", group=self.group_id, topics=len(self.decode))

            async def dead(record: Any, error: BaseException | str) -> None:
                env = dead_letter(stage=STAGE, topic=record.topic, partition=record.partition,
                                  offset=record.offset, key=record.key, value=record.value, error=error)
                self.on_dead_letter(STAGE, record.topic, record.partition, record.offset, error)
                await producer.send_and_wait(names.dlq(record.topic), key=record.key, value=encode(env))

            async for batch in batches(consumer, settings.index_batch, settings.index_flush_seconds):
                # A record read before a rebalance took its partition away is the new reader's to write.
                owned = consumer.assignment()
                batch = [r for r in batch if TopicPartition(r.topic, r.partition) in owned]
                if not batch:
                    continue
                await self._write(es, batch, dead)
                await self._commit(consumer, batch)
        finally:
            try:
                for client in reversed(clients):
                    try:
                        await asyncio.wait_for(client.stop(), _CLOSE_TIMEOUT)
                    except Exception as e:  # closing is best effort; what was not committed is read again
                        log_event(log, "indexer_close_failed", logging.WARNING,
                                  error=f"{type(e).__name__}: {e}"[:200])
            finally:
                if es is not None:
                    await es.close()

    async def _write(self, es: Any, batch: list[Any], dead: DeadLetter) -> None:
        settled: set[int] = set()
        try:
            await index_batch(es, batch, dead, self.decode, self.index_names, settled)
        except Exception as e:
            if isinstance(e, KafkaError):
                raise  # Kafka away: start over, the records are not to blame
            unsettled = [r for r in batch if id(r) not in settled]
            if not self._failures.add((r.topic, r.partition, r.offset) for r in unsettled):
                raise
            for r in unsettled:  # one dead letter each; what is in Elasticsearch gets none
                _log_unexpected(r, e)
                await dead(r, e)

    async def _commit(self, consumer: Any, batch: list[Any]) -> None:
        offsets: dict[Any, int] = {}
        for record in batch:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        owned = consumer.assignment()
        offsets = {tp: offset for tp, offset in offsets.items() if tp in owned}
        try:
            if offsets:
                await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as e:
            # The group moved the partitions on while the batch was written: the new reader writes it again.
            log_event(log, "index_commit_skipped", logging.WARNING, records=len(batch), error=str(e)[:200])
            return
        self._failures.forget((r.topic, r.partition, r.offset) for r in batch)
        self.restarts.reset()
        self.state.error = None
