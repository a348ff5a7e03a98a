"""What a Faust agent is given, without Faust's consumer: a fixed list of events and the acks a stage made."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


class FakeStream:
    def __init__(self, events: list[Any]) -> None:
        self.items = events
        self.acked: list[int] = []

    def noack(self) -> FakeStream:
        return self

    async def events(self) -> Any:
        for event in self.items:
            yield event

    async def ack(self, event: Any) -> bool:
        self.acked.append(event.message.offset)
        return True


def event(offset: int, value: bytes = b"{}", key: bytes = b"k") -> Any:
    """One consumed message of partition 0 of the claims topic."""
    from faust.types import TP

    tp = TP("news.claims.v1", 0)
    return SimpleNamespace(key=key, value=value,
                           message=SimpleNamespace(tp=tp, topic=tp.topic, partition=0, offset=offset))
