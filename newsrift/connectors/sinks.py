"""Where raw articles go: Kafka (acks=all, idempotent producer) or a JSONL file for debugging and tests.

Both write the same JSON per article, the ``raw_article`` message of ``newsrift.messages`` (its ``type`` tag and the
fields of ``schemas/raw_article.v1.schema.json``), and ``read_jsonl`` reads a JSONL file back with the raw-article
topic's decoder. ``newsrift analyze`` takes such a file as input too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from newsrift.errors import MessageError, NewsriftError
from newsrift.messages import RAW_ARTICLES, RawArticleMessage
from newsrift.model import RawArticle

__all__ = ["ArticleSink", "JsonlSink", "KafkaSink", "PublishError", "encode_raw", "publish_each", "read_jsonl"]


class PublishError(NewsriftError):
    """The sink did not acknowledge an article; the connector keeps it for the next poll."""


class ArticleSink(Protocol):
    """Where raw articles go. Both publish methods return only once articles are durably accepted.

    ``publish`` raises ``PublishError`` when its article was not acknowledged. ``publish_many`` sends a batch (one
    feed's new items) and returns one entry per article, in order: ``None`` when acknowledged, else the
    ``PublishError``; the poller marks exactly the acknowledged ones seen.
    """

    def publish(self, raw: RawArticle) -> None: ...

    def publish_many(self, raws: Sequence[RawArticle]) -> list[PublishError | None]: ...

    def close(self) -> None: ...


def encode_raw(raw: RawArticle) -> bytes:
    """The article as its ``raw_article`` message: a Kafka record's value, or a JSONL line without the newline."""
    return json.dumps(RawArticleMessage(raw).to_json(), ensure_ascii=False).encode("utf-8")


def read_jsonl(path: Path) -> Iterator[RawArticle]:
    """The articles of a file ``JsonlSink`` wrote, in order. A line that does not decode (not JSON, no or another
    ``type``, a bad field) is a ``MessageError`` naming the file, the line and why; blank lines are skipped."""
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield RAW_ARTICLES(line).raw
            except MessageError as e:
                raise MessageError(f"{path} line {n}: {e}") from e


def publish_each(sink: ArticleSink, raws: Sequence[RawArticle]) -> list[PublishError | None]:
    """``publish_many`` for sinks without a batch path: one at a time, stopping at the first failure (the rest
    would almost surely fail the same way, and each failure may cost a full timeout)."""
    out: list[PublishError | None] = []
    for i, raw in enumerate(raws):
        try:
            sink.publish(raw)
        except PublishError as e:
            out.append(e)
            out += [PublishError(f"{r.article_id}: not sent after an earlier failure") for r in raws[i + 1 :]]
            break
        out.append(None)
    return out


class JsonlSink:
    """One ``raw_article`` message per line, as ``KafkaSink`` publishes it; for debugging and tests."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = path.open("a", encoding="utf-8")
        except OSError as e:
            raise PublishError(f"{path}: cannot write: {e.strerror or e}") from e
        # Feeds are polled concurrently and publish from worker threads: one line must never interleave another.
        self._lock = threading.Lock()

    def publish(self, raw: RawArticle) -> None:
        line = encode_raw(raw).decode("utf-8") + "\n"
        try:
            with self._lock:
                self.fh.write(line)
                self.fh.flush()
        except OSError as e:
            raise PublishError(f"jsonl write failed: {e.strerror or e}") from e

    def publish_many(self, raws: Sequence[RawArticle]) -> list[PublishError | None]:
        return publish_each(self, raws)

    def close(self) -> None:
        self.fh.close()


class KafkaSink:
    """Idempotent producer, acks=all; key = article id so every revision of an article lands in one partition."""

    def __init__(self, bootstrap_servers: str, topic: str, timeout: float = 30.0) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        self._errors = KafkaError
        self.topic = topic
        self.timeout = timeout
        try:
            # Idempotence makes the producer's own retries safe (no duplicates from a retried batch); it needs
            # acks=all and at most 5 requests in flight, which also keeps per-partition order.
            self.producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True,
                                          retries=5, linger_ms=10, max_in_flight_requests_per_connection=5,
                                          max_request_size=16 * 1024 * 1024)
        except KafkaError as e:
            raise PublishError(f"Kafka at {bootstrap_servers} is not reachable: {e}") from e

    def publish(self, raw: RawArticle) -> None:
        err = self.publish_many([raw])[0]
        if err is not None:
            raise err

    def publish_many(self, raws: Sequence[RawArticle]) -> list[PublishError | None]:
        # Send the whole batch first, then wait on each future: one round trip per feed instead of one per item,
        # and an item is still reported acknowledged only when its own future resolved.
        futures: list[Any] = []  # FutureRecordMetadata, or the PublishError that send() raised
        for raw in raws:
            try:
                futures.append(self.producer.send(self.topic, key=raw.article_id.encode(), value=encode_raw(raw)))
            except (self._errors, TimeoutError, ValueError) as e:
                futures.append(PublishError(f"publish of {raw.article_id} to {self.topic} failed: {e}"))
        out: list[PublishError | None] = []
        for raw, fut in zip(raws, futures, strict=True):
            if isinstance(fut, PublishError):
                out.append(fut)
                continue
            try:
                fut.get(timeout=self.timeout)
                out.append(None)
            except (self._errors, TimeoutError) as e:
                out.append(PublishError(f"publish of {raw.article_id} to {self.topic} failed: {e}"))
        return out

    def close(self) -> None:
        try:
            self.producer.flush(timeout=self.timeout)
        except self._errors:
            pass  # anything unflushed was never acknowledged, so it was never marked seen either
        self.producer.close(timeout=self.timeout)
