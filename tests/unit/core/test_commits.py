"""The commit rule (``newsrift.runtime.commits``): a stage acks a message, and so lets Faust commit it, only once
every output it sent is in Kafka; an output Kafka refused dead-letters the message instead of losing it. Faust's
producer is stood in for by futures the test resolves; the integration tests run the same rule on the real broker."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from newsrift.runtime.commits import Outputs, acked_when_delivered
from newsrift.settings import Settings
from tests.unit.core.streams import FakeStream, event


def test_a_message_is_acked_only_once_its_outputs_are_delivered() -> None:
    async def scenario() -> list[int]:
        loop = asyncio.get_running_loop()
        stream, outputs = FakeStream([]), Outputs()
        first, second = loop.create_future(), loop.create_future()
        outputs.add(first)
        outputs.add(second)
        acking = asyncio.ensure_future(acked_when_delivered(stream, [event(7), event(8)], outputs))
        await asyncio.sleep(0.01)
        assert stream.acked == []  # nothing acked while Kafka has not acknowledged the outputs
        first.set_result("ok")
        await asyncio.sleep(0.01)
        assert stream.acked == []  # one of two is not enough
        second.set_result("ok")
        await acking
        return stream.acked

    assert asyncio.run(scenario()) == [7, 8]  # in the order the stage took them


def test_an_output_that_fails_leaves_the_message_unacked() -> None:
    async def scenario() -> list[int]:
        loop = asyncio.get_running_loop()
        stream, outputs = FakeStream([]), Outputs()
        failed = loop.create_future()
        failed.set_exception(RuntimeError("KafkaTimeoutError"))
        outputs.add(failed)
        with pytest.raises(RuntimeError):
            await acked_when_delivered(stream, [event(1)], outputs)
        return stream.acked

    assert asyncio.run(scenario()) == []


def test_the_runner_waits_for_a_steps_outputs_and_dead_letters_a_message_whose_output_kafka_refused() -> None:
    from newsrift import messages, topics
    from newsrift.messages import SweepTick
    from newsrift.runtime.runner import Runtime

    rt = Runtime(Settings())
    good = messages.encode(SweepTick(datetime(2020, 1, 1, tzinfo=timezone.utc)))
    deliveries: list[asyncio.Future[Any]] = []
    letters: list[tuple[bytes, str]] = []

    async def send(topic: str, key: bytes | None, value: bytes, *, wait: bool = False,
                   outputs: Outputs | None = None) -> None:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        deliveries.append(future)
        assert outputs is not None
        outputs.add(future)

    async def reject(stage: str, event: Any, error: Exception, outputs: Outputs | None = None) -> None:
        letters.append((event.key, str(error)))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result("in the .dlq")
        assert outputs is not None
        outputs.add(done)

    async def step(ctx: Any, message: Any) -> None:
        await ctx.send(topics.DISPUTES, ctx.key, b"out")

    rt.send = send  # type: ignore[method-assign]
    rt.reject = reject  # type: ignore[method-assign]
    rt.stage("sweeper", topics.CLAIMS, step)
    stream = FakeStream([event(0, good), event(1, good)])

    async def scenario() -> None:
        run = asyncio.ensure_future(rt.app.agents["sweeper"].fun(stream))
        while not deliveries:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        assert stream.acked == [] and len(deliveries) == 1  # the stage waits: the next message is not taken yet
        deliveries[0].set_result("ok")
        while len(deliveries) < 2:
            await asyncio.sleep(0.001)
        assert stream.acked == [0]
        deliveries[1].set_exception(RuntimeError("Kafka refused it"))
        await run

    asyncio.run(scenario())
    assert stream.acked == [0, 1]
    assert len(letters) == 1 and "an output was not delivered" in letters[0][1] and "Kafka refused it" in letters[0][1]
