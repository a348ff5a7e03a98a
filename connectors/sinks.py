"""Where raw articles go: Kafka (acks=all, idempotent producer) or a JSONL file for debugging and tests."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Protocol

from pipeline.errors import NewsriftError
from pipeline.model import RawArticle

__all__ = ["JsonlSink", "KafkaSink", "PublishError", "Sink"]


class PublishError(NewsriftError):
    """The sink did not acknowledge an article; the connector keeps it for the next poll."""


class Sink(Protocol):
    """``publish`` returns only once the article is durably accepted, and raises ``PublishError`` otherwise."""

    def publish(self, raw: RawArticle) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """One raw article per line (the raw-article schema); for debugging and tests."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = path.open("a", encoding="utf-8")
        except OSError as e:
            raise PublishError(f"{path}: cannot write: {e.strerror or e}") from e
        # Feeds are polled concurrently and publish from worker threads: one line must never interleave another.
        self._lock = threading.Lock()

    def publish(self, raw: RawArticle) -> None:
        line = json.dumps(raw.to_json(), ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self.fh.write(line)
                self.fh.flush()
        except OSError as e:
            raise PublishError(f"jsonl write failed: {e.strerror or e}") from e

    def close(self) -> None:
        self.fh.close()


class KafkaSink:
    """Idempotent producer, acks=all; key = article id so every revision of an article lands in one partition."""

    def __init__(self, bootstrap: str, topic: str, timeout: float = 30.0) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        self._errors = KafkaError
        self.topic = topic
        self.timeout = timeout
        try:
            self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                          retries=5, linger_ms=10, max_in_flight_requests_per_connection=5)
        except KafkaError as e:
            raise PublishError(f"Kafka at {bootstrap} is not reachable: {e}") from e

    def publish(self, raw: RawArticle) -> None:
        value = json.dumps(raw.to_json(), ensure_ascii=False).encode("utf-8")
        try:
            # Waiting for the acknowledgement is what lets the caller mark the item seen safely.
            self.producer.send(self.topic, key=raw.article_id.encode(), value=value).get(timeout=self.timeout)
        except (self._errors, TimeoutError) as e:
            raise PublishError(f"publish of {raw.article_id} to {self.topic} failed: {e}") from e

    def close(self) -> None:
        try:
            self.producer.flush(timeout=self.timeout)
        except self._errors:
            pass  # anything unflushed was never acknowledged, so it was never marked seen either
        self.producer.close(timeout=self.timeout)
