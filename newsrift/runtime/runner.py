"""The stage runner: consume a topic, decode each message with the topic's decoder, hand it to the stage's step,
and dead-letter whatever fails, once, here, for every stage.

A stage is a name, the topic it reads, a step function and the tables it keeps. ``Runtime.stage`` runs one
message at a time; ``Runtime.batch_stage`` runs batches (spaCy's ``nlp.pipe``). A step gets a ``Context``
(the message's key and bytes, its tables, and ``send`` for its outputs) and the typed message; what it raises
sends that message to the ``.dlq`` twin of its topic with the reason, and the stage goes on with the next one.
A message is acked, and so committed, only once its outputs are in Kafka (``newsrift.runtime.commits``).
The runtime is made by ``newsrift.runtime.worker.build`` from settings; nothing here is made at import time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust

from newsrift import messages
from newsrift import topics as names
from newsrift.errors import NewsriftError, ProcessingError
from newsrift.runtime.app import make_app
from newsrift.runtime.commits import OffsetOrder, Outputs, acked_when_delivered
from newsrift.settings import Settings
from newsrift.stages.context import BatchStep, Context, Item, Send, Step
from newsrift.streaming import batches, dead_letter, encode, kv, log_event, reason

log = logging.getLogger("newsrift.worker")



class Runtime:
    """The Faust app of one worker with its topics, tables and dead-letter books, and the stage runner."""

    def __init__(self, settings: Settings, app: faust.App | None = None) -> None:
        self.settings = settings
        self.app = app if app is not None else make_app(settings)
        self.dead_lettered: Counter[str] = Counter()
        """Messages each stage dead-lettered since the worker started (``GET /health`` reports them)."""
        self.order = OffsetOrder()
        """The offsets each stage saw, and the holes it met (``newsrift.runtime.commits``)."""
        self.order.install(self.app)
        self._topics: dict[str, faust.TopicT] = {}
        self._tables: dict[str, Any] = {}
        self._dlq: dict[str, faust.TopicT] = {}

    # -- topics and tables ------------------------------------------------------------------------------------

    def topic(self, name: str) -> faust.TopicT:
        """The Faust topic of an unprefixed topic name (``news.claims.v1``, or a ``.dlq`` twin)."""
        if name not in self._topics:
            spec = next((s for s in names.TOPICS if s.name == name), None)
            parts = 1 if spec is None else spec.partitions or self.settings.partitions
            self._topics[name] = self.app.topic(self.settings.topic(name), key_type=bytes, value_type=bytes,
                                                partitions=parts)
        return self._topics[name]

    def table(self, name: str, partitions: int | None = None) -> Any:
        """A Faust table of JSON values keyed by str (the app's raw serializers are for topics, not tables)."""
        if name not in self._tables:
            schema: Any = faust.Schema(key_type=str, key_serializer="json", value_serializer="json")
            self._tables[name] = self.app.Table(name, default=None, partitions=partitions or self.settings.partitions,
                                                schema=schema)
        return self._tables[name]

    async def send(self, topic: str, key: bytes | None, value: bytes, *, wait: bool = False,
                   outputs: Outputs | None = None) -> None:
        """Send an output; ``outputs``: the message in hand waits for its delivery before it is acked."""
        sent = await self.topic(topic).send(key=key, value=value)
        if outputs is not None:
            outputs.add(sent)
        if wait:
            await sent

    def sender(self, outputs: Outputs) -> Send:
        """``send`` for a step: every output joins ``outputs``."""

        async def send(topic: str, key: bytes | None, value: bytes, *, wait: bool = False) -> None:
            await self.send(topic, key, value, wait=wait, outputs=outputs)

        return send

    # -- dead letters -----------------------------------------------------------------------------------------

    def note_dead_letter(self, stage: str, topic: str, partition: int | None, offset: int | None,
                         error: BaseException | str) -> None:
        """Count a dead letter for /health and log it (never the body)."""
        self.dead_lettered[stage] += 1
        log_event(log, "dead_lettered", logging.WARNING, stage=stage, topic=topic, partition=partition,
                  offset=offset, error_type=type(error).__name__ if isinstance(error, BaseException) else "str",
                  error=reason(error)[:300])

    async def reject(self, stage: str, event: Any, error: Exception, outputs: Outputs | None = None) -> None:
        """Dead-letter a message a stage could not handle, whatever the error: a newsrift error is an expected
        reason; anything else is a bug or an input nobody foresaw, so its traceback is logged (once, here) and the
        stage goes on with the next message. Stages catch ``Exception`` only: cancellation propagates.
        ``outputs``: the message is acked only once its dead letter is in Kafka."""
        msg = event.message
        if not isinstance(error, NewsriftError):
            log.error("event=unexpected_error %s", kv(stage=stage, topic=msg.topic, partition=msg.partition,
                                                       offset=msg.offset, error_type=type(error).__name__,
                                                       error=str(error)[:300]), exc_info=error)
        key = event.key if isinstance(event.key, bytes) else None
        env = dead_letter(stage=stage, topic=msg.topic, partition=msg.partition, offset=msg.offset, key=key,
                          value=event.value if isinstance(event.value, bytes) else None, error=error)
        self.note_dead_letter(stage, msg.topic, msg.partition, msg.offset, error)
        sent = await self.dlq_topic(msg.topic).send(key=key, value=encode(env))
        if outputs is not None:
            outputs.add(sent)

    def dlq_topic(self, source_topic: str) -> faust.TopicT:
        """The dead-letter twin of a (prefixed) source topic name."""
        name = names.dlq(source_topic)
        if name not in self._dlq:
            self._dlq[name] = self.app.topic(name, key_type=bytes, value_type=bytes, partitions=1)
        return self._dlq[name]

    # -- stages -----------------------------------------------------------------------------------------------

    def context(self, event: Any, tables: Mapping[str, Any], outputs: Outputs) -> Context:
        msg = event.message
        return Context(self.sender(outputs), event.key, event.value, msg.partition, msg.offset, tables)

    def stage(self, name: str, topic: str, step: Step, tables: Mapping[str, Any] | None = None, *,
              every: Callable[[Context], Awaitable[None]] | None = None) -> None:
        """Run ``step`` on every message of ``topic``, one at a time, in order. ``every``: housekeeping run for each
        message before it is decoded, those that do not decode included (a table written only while handling a
        message of its partition gets its turn with any message)."""
        decode, tabs = messages.decoder(topic), dict(tables or {})

        async def run(stream: Any) -> None:
            manual = stream.noack()
            async for event in manual.events():
                await self.order.see(name, event, self.app.consumer)
                outputs = Outputs()
                try:
                    ctx = self.context(event, tabs, outputs)
                    if every is not None:
                        await every(ctx)
                    await step(ctx, decode(event.value))
                except Exception as e:  # per message: dead-lettered with its reason, the stage goes on
                    await self.reject(name, event, e, outputs)
                await self.acked_when_delivered(name, manual, [event], outputs)

        run.__name__ = run.__qualname__ = name
        self.app.agent(self.topic(topic), name=name)(run)

    def batch_stage(self, name: str, topic: str, step: BatchStep, *, size: int, within: float,
                    tables: Mapping[str, Any] | None = None) -> None:
        """Run ``step`` on batches of up to ``size`` messages of ``topic`` (or what came ``within`` seconds of the
        first). Every message of a batch ends handled or dead-lettered, and the batch is acked once it is done and
        its outputs are in Kafka (``batches`` rather than Faust's ``take``, which can hold a burst's last message
        back)."""
        decode, tabs = messages.decoder(topic), dict(tables or {})

        async def run(stream: Any) -> None:
            manual = stream.noack()
            async for batch in batches(manual.events(), size, within):
                for event in batch:
                    await self.order.see(name, event, self.app.consumer)
                outputs = Outputs()
                await self.run_batch(name, decode, step, batch, tabs, outputs)
                await self.acked_when_delivered(name, manual, batch, outputs)

        run.__name__ = run.__qualname__ = name
        self.app.agent(self.topic(topic), name=name)(run)

    async def run_batch(self, name: str, decode: Callable[[Any], Any], step: BatchStep, batch: list[Any],
                        tables: Mapping[str, Any], outputs: Outputs) -> None:
        """One batch: decode each message (dead-lettering those that do not decode), step, dead-letter what the
        step says failed; a step that fails as a whole fails each of its messages."""
        events, items = [], []
        for event in batch:
            try:
                msg = event.message
                items.append(Item(decode(event.value), event.key, msg.partition, msg.offset))
                events.append(event)
            except Exception as e:
                await self.reject(name, event, e, outputs)
        if not items:
            return
        try:
            errors = await step(Context(self.sender(outputs), tables=tables), items)
        except Exception as e:
            errors = [e] * len(items)
        for event, error in zip(events, errors, strict=True):
            if error is not None:
                await self.reject(name, event, error, outputs)

    async def acked_when_delivered(self, name: str, stream: Any, events: list[Any], outputs: Outputs) -> None:
        """Ack ``events`` once their outputs are in Kafka. An output Kafka refused for good (the producer gave up
        on it) is no reason to lose the message: each event is dead-lettered with that reason, and acked once its
        dead letter is in Kafka; if that fails too, the error stops the stage and nothing is acked (the messages
        are handled again)."""
        try:
            await acked_when_delivered(stream, events, outputs)
        except Exception as e:
            retry = Outputs()
            for event in events:
                await self.reject(name, event, ProcessingError(f"an output was not delivered: {reason(e)}"), retry)
            await acked_when_delivered(stream, events, retry)

    def timer(self, seconds: float, name: str, tick: Callable[[], Awaitable[None]]) -> None:
        """``tick`` every ``seconds`` in every worker (not only the leader)."""
        self.app.timer(interval=seconds, on_leader=False, name=name)(tick)
