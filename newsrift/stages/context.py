"""What a stage's step gets from whichever driver runs it: the ``Context`` of a message (its key, bytes, tables
and ``send``), the ``Item`` of a batch, and the step signatures. The Faust runner (``newsrift.runtime.runner``) and
the tests make them; nothing here knows Faust."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

M = TypeVar("M")

Send = Callable[..., Awaitable[None]]
"""``send(topic, key, value, wait=False)``: an output to ``topic`` (unprefixed name); ``wait`` waits until Kafka
acknowledged it (Faust's send only queues it). Either way the message in hand is acked only once Kafka
acknowledged every output it sent."""


@dataclass
class Context:
    """What a step gets besides its message."""

    send: Send
    key: bytes | None = None
    value: bytes | None = None
    partition: int = 0
    offset: int = 0
    tables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key_text(self) -> str:
        return (self.key or b"").decode("utf-8", "replace")


@dataclass(frozen=True)
class Item(Generic[M]):
    """One message of a batch, with where it came from."""

    message: M
    key: bytes | None
    partition: int
    offset: int


Step = Callable[[Context, Any], Awaitable[None]]
"""A stage's step: one decoded message, its outputs sent through ``Context.send``."""
BatchStep = Callable[[Context, list[Item[Any]]], Awaitable[list[Exception | None]]]
"""A batch stage's step: the batch's decoded messages; for each, None once its outputs are sent, or why not."""
