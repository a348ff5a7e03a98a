import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator

import pytest

from newsrift.errors import MessageError
from newsrift.model import RawArticle
from newsrift.streaming import batches, dead_letter, decode, encode, kv


def test_decode_reports_why() -> None:
    with pytest.raises(MessageError, match="not JSON"):
        decode(b"{nope", RawArticle.from_json)
    with pytest.raises(MessageError, match="JSON object"):
        decode(b"[1,2]", RawArticle.from_json)
    with pytest.raises(MessageError, match="missing field 'url'"):
        decode(b'{"article_id":"a","outlet_id":"o"}', RawArticle.from_json)
    with pytest.raises(MessageError, match="empty"):
        decode(None, RawArticle.from_json)


def test_decode_roundtrip() -> None:
    r = RawArticle(article_id="a", outlet_id="o", url="u", title="t")
    assert decode(encode(r.to_json()), RawArticle.from_json) == r


def test_dead_letter_keeps_the_whole_payload() -> None:
    env = dead_letter(stage="s", topic="t", partition=0, offset=7, key=b"k", value=b"\xff\xfebinary", error="bad")
    assert base64.b64decode(env["payload_b64"]) == b"\xff\xfebinary"
    env2 = dead_letter(stage="s", topic="t", partition=0, offset=7, key=None, value=b'{"a":1}',
                       error=MessageError("why"))
    assert json.loads(env2["payload"]) == {"a": 1} and env2["error_type"] == "MessageError"


def test_kv_quotes_values_with_spaces() -> None:
    assert kv(a=1, b="two words") == 'a=1 b="two words"'


class Source:
    """An async source fed by the test, like a topic: it waits (forever, if nothing comes) for the next item."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()
        self.cancelled = False

    async def feed(self, *items: int | None) -> None:
        for item in items:
            await self.queue.put(item)

    async def __aiter__(self) -> AsyncIterator[int]:
        try:
            while (item := await self.queue.get()) is not None:
                yield item
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def _collect(source: Source, max_size: int, within: float, want: int) -> list[tuple[list[int], float]]:
    out: list[tuple[list[int], float]] = []
    start = time.monotonic()
    gen = batches(source, max_size, within)
    try:
        while sum(len(b) for b, _ in out) < want:
            out.append((await asyncio.wait_for(gen.__anext__(), 5.0), time.monotonic() - start))
    finally:
        await gen.aclose()
    return out


def test_the_last_item_of_a_burst_is_not_held_back_when_the_source_goes_quiet() -> None:
    """The Faust take() bug this replaces: 5 items, batches of 4, then silence. The fifth must come out in time."""

    async def main() -> tuple[list[tuple[list[int], float]], bool]:
        src = Source()
        await src.feed(1, 2, 3, 4, 5)  # and nothing more, ever
        got = await _collect(src, 4, 0.05, 5)
        return got, src.cancelled

    got, cancelled = asyncio.run(main())
    assert [b for b, _ in got] == [[1, 2, 3, 4], [5]]
    assert got[1][1] < 1.0  # about `within` after the fifth arrived, not whenever more traffic comes
    assert cancelled  # closing the batches stops the pending read of the source


def test_a_partial_batch_waits_for_late_items_up_to_within_after_its_first() -> None:
    async def main() -> list[tuple[list[int], float]]:
        src = Source()

        async def trickle() -> None:
            await src.feed(1)
            await asyncio.sleep(0.02)
            await src.feed(2)  # inside the first batch's window
            await asyncio.sleep(0.3)
            await src.feed(3)  # long after it: a batch of its own

        task = asyncio.create_task(trickle())
        got = await _collect(src, 10, 0.1, 3)
        await task
        return got

    got = asyncio.run(main())
    assert [b for b, _ in got] == [[1, 2], [3]]
    assert got[0][1] >= 0.1  # the first batch waited its window out for more


def test_full_batches_go_at_once_and_the_end_of_the_source_flushes() -> None:
    async def main() -> list[list[int]]:
        src = Source()
        await src.feed(*range(7), None)
        return [b async for b in batches(src, 3, 60.0)]  # a window this long is never waited out

    start = time.monotonic()
    assert asyncio.run(main()) == [[0, 1, 2], [3, 4, 5], [6]]
    assert time.monotonic() - start < 5


def test_batches_refuses_nonsense_sizes() -> None:
    async def first(max_size: int, within: float) -> None:
        await batches(Source(), max_size, within).__anext__()

    with pytest.raises(ValueError, match="max_size"):
        asyncio.run(first(0, 1.0))
    with pytest.raises(ValueError, match="within"):
        asyncio.run(first(1, 0.0))


def test_restarts_double_to_the_cap_and_reset_after_progress() -> None:
    from newsrift.streaming import Restarts

    r = Restarts(first=1.0, cap=8.0)
    assert [r.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    r.reset()
    assert r.next() == 1.0


def test_failure_counts_give_up_on_the_records_that_keep_failing() -> None:
    from newsrift.streaming import FailureCounts

    f: FailureCounts[str] = FailureCounts(limit=3, keep=10)
    assert not f.add(["a", "b"]) and not f.add(["a"])
    assert f.add(["a", "c"]) and f.reached("a") and not f.reached("b")
    f.forget(["a"])
    assert not f.reached("a") and not f.add(["a"])
    f.add(str(i) for i in range(20))  # over ``keep``: forgotten at the next count, not kept forever
    assert not f.add(["b"])
    assert len(f._counts) == 1
