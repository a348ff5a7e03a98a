"""Where raw articles go: Kafka (acks=all, idempotent producer) or a JSONL file for debugging and tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from pipeline.errors import NewsriftError
from pipeline.model import RawArticle

__all__ = ["JsonlSink", "KafkaSink", "PublishError", "Sink"]


class PublishError(NewsriftError):
    """The sink did not acknowledge an article; the connector keeps it for the next poll."""


class Sink(Protocol):
    def publish(self, raw: RawArticle) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = path.open("a", encoding="utf-8")

    def publish(self, raw: RawArticle) -> None:
        self.fh.write(json.dumps(raw.to_json(), ensure_ascii=False) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


class KafkaSink:
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
        except self._errors as e:
            raise PublishError(f"publish of {raw.article_id} to {self.topic} failed: {e}") from e

    def close(self) -> None:
        self.producer.flush(timeout=self.timeout)
        self.producer.close()
