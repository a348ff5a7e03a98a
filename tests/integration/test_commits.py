"""The commit rule on the real broker (``newsrift/runtime/commits.py``): a stage's input offset is committed only once
its outputs are in Kafka, and a message Faust fetched and never handed to a stage is fetched again. The faults are
injected into the worker's Kafka client or Faust (a ``sitecustomize`` on its path); Kafka and Elasticsearch are
real."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from newsrift.cli.demo import ingest_seeds, seed_item_count, start_worker, stop_worker, wait_for_index
from newsrift.runtime.lag import partition_offsets, wait_drained
from newsrift.settings import Settings
from newsrift.topics import ARTICLES, CLAIMS, RAW_ARTICLES, ensure_topics
from tests.integration.test_worker_outages import _wait_for_line

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAULTS = {
    # Kafka takes every message of TOPIC at once, but the producer reports it delivered only once the file GATE
    # exists (aiokafka's public AIOKafkaProducer.send returns the delivery future).
    "held": """
        import asyncio, os
        import aiokafka

        plain_send = aiokafka.AIOKafkaProducer.send

        async def send(self, topic, *args, **kwargs):
            delivery = await plain_send(self, topic, *args, **kwargs)
            if topic != TOPIC or os.path.exists(GATE):
                return delivery
            held = asyncio.get_running_loop().create_future()

            async def later():
                while not os.path.exists(GATE):
                    await asyncio.sleep(0.1)
                try:
                    held.set_result(await delivery)
                except Exception as e:
                    held.set_exception(e)

            asyncio.ensure_future(later())
            print("fault: delivery held", flush=True)
            return held

        aiokafka.AIOKafkaProducer.send = send
    """,
    # The message at offset NTH of one partition (any, for -1) is fetched and dropped, once, before any stream
    # sees it.
    "drop": """
        from faust.transport import conductor

        dropped = []
        plain_compile = conductor.Conductor._compile_message_handler

        def _compile(self):
            deliver = plain_compile(self)

            async def on_message(message):
                if (not dropped and message.topic == TOPIC and PARTITION in (-1, message.partition)
                        and message.offset == NTH):
                    dropped.append(message.offset)
                    print(f"fault: dropped {message.partition}:{message.offset}", flush=True)
                    return None
                return await deliver(message)

            return on_message

        conductor.Conductor._compile_message_handler = _compile
    """,
}


def _inject(tmp_path: Path, fault: str, topic: str, partition: int = -1, nth: int = 0) -> Path:
    where = tmp_path / "fault"
    where.mkdir()
    body = textwrap.dedent(FAULTS[fault])
    gate = str(tmp_path / "gate")
    (where / "sitecustomize.py").write_text(f"TOPIC = {topic!r}\nPARTITION = {partition}\nNTH = {nth}\n"
                                            f"GATE = {gate!r}\n{body}")
    return where


def _raw_partition_holding(settings: Settings, tmp_path: Path, least: int, most: int) -> int:
    """The seed feeds' raw messages land by key; a partition that gets between ``least`` and ``most`` of them."""
    topic = settings.topic(RAW_ARTICLES)
    probe = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "probe."})
    ensure_topics(probe)
    ingest_seeds(probe, tmp_path / "probe-state")
    books = partition_offsets(probe, [probe.topic(RAW_ARTICLES)], [probe.app_id])[probe.app_id]
    found = sorted(p for (_, p), b in books.items() if least <= b.end <= most)
    assert found, f"no raw partition of {topic} gets {least} to {most} seed items: {books}"
    return found[0]


def _committed(settings: Settings, topic: str) -> dict[int, int]:
    books = partition_offsets(settings, [topic], [settings.app_id])[settings.app_id]
    return {p: b.committed or 0 for (_, p), b in books.items()}


def test_an_offset_is_committed_only_once_the_outputs_of_its_message_are_in_kafka(
    isolated: Settings, tmp_path: Path
) -> None:
    """The analyse stage's outputs (news.articles.v1) reach the broker at once, but their delivery is reported only
    when the test opens the gate: until then no raw offset is committed, though the stage has handled the batch and
    Faust commits every second. Then every article goes through."""
    ensure_topics(isolated)
    raw, articles = isolated.topic(RAW_ARTICLES), isolated.topic(ARTICLES)
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log, {"PYTHONPATH": str(_inject(tmp_path, "held", articles))})
    try:
        _wait_for_line(log, "Worker]: Ready", 120, worker)
        assert "failed=0" in ingest_seeds(isolated, tmp_path / "state")
        _wait_for_line(log, "event=articles_analysed", 120, worker)
        _wait_for_line(log, "fault: delivery held", 30, worker)
        deadline = time.monotonic() + 8  # eight of Faust's commit intervals
        while time.monotonic() < deadline:
            assert set(_committed(isolated, raw).values()) == {0}, _committed(isolated, raw)
            time.sleep(1)
        (tmp_path / "gate").touch()
        seen = wait_for_index(isolated, seed_item_count(), 1, 120, worker)
        assert seen["articles"] == seed_item_count()
        wait_drained(isolated, 60)
        books = partition_offsets(isolated, [raw], [isolated.app_id])[isolated.app_id]
        assert sum(b.end for b in books.values()) == seed_item_count()
        assert all(b.committed == b.end for b in books.values()), books
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        stop_worker(worker)


def test_a_message_dropped_alone_is_never_committed_and_the_next_worker_handles_it(
    isolated: Settings, tmp_path: Path
) -> None:
    """A raw message fetched and dropped, the only one of its partition: no later ack lets Faust commit over it, so
    the partition stays behind in Kafka's books (nothing repairs it from outside), and the next worker, which reads
    from the committed offset, analyses and indexes it."""
    ensure_topics(isolated)
    topic = isolated.topic(RAW_ARTICLES)
    partition = _raw_partition_holding(isolated, tmp_path, 1, 1)
    log = tmp_path / "worker.log"
    worker = start_worker(isolated, log, {"PYTHONPATH": str(_inject(tmp_path, "drop", topic, partition, 0))})
    try:
        _wait_for_line(log, "Worker]: Ready", 120, worker)
        assert "failed=0" in ingest_seeds(isolated, tmp_path / "state")
        _wait_for_line(log, "fault: dropped ", 120, worker)
        wait_for_index(isolated, seed_item_count() - 1, 0, 120, worker)
        time.sleep(5)  # five of Faust's commit intervals
        books = partition_offsets(isolated, [topic], [isolated.app_id])[isolated.app_id]
        assert books[(topic, partition)].behind == 1, books
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        stop_worker(worker)
    worker = start_worker(isolated, tmp_path / "worker2.log")
    try:
        seen = wait_for_index(isolated, seed_item_count(), 1, 180, worker)
        assert seen["articles"] == seed_item_count()
        wait_drained(isolated, 60)
    except BaseException:
        print((tmp_path / "worker2.log").read_text(errors="replace")[-6000:])
        raise
    finally:
        stop_worker(worker)


@pytest.mark.parametrize("stage", ["analyse_articles", "detect_disputes"])
def test_a_message_dropped_before_others_of_its_partition_is_fetched_again(
    isolated: Settings, tmp_path: Path, stage: str
) -> None:
    """Faust would commit over this hole (one message, the next acked) and leave no lag: the stage sees the offset
    jump, logs the hole and fetches the partition again until the message comes.
    On the raw topic the stage batches (its fetch is in hand before the seek); on the claims topic the dispute
    stage takes one message at a time with the rest of the fetch behind it, which Faust hands out after the seek
    and which moves its read offset past the hole again."""
    settings = isolated
    ensure_topics(settings)
    if stage == "analyse_articles":
        topic, partition, nth = settings.topic(RAW_ARTICLES), _raw_partition_holding(settings, tmp_path, 3, 100), 1
    else:
        # The seed story's claims (about 19) share a partition, keyed by their event, which is not known ahead:
        # offset 3 is reached there first, with the rest of the claims behind it.
        topic, partition, nth = settings.topic(CLAIMS), -1, 3
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log, {"PYTHONPATH": str(_inject(tmp_path, "drop", topic, partition, nth))})
    try:
        _wait_for_line(log, "Worker]: Ready", 120, worker)
        assert "failed=0" in ingest_seeds(settings, tmp_path / "state")
        _wait_for_line(log, "fault: dropped ", 120, worker)
        dropped = log.read_text(errors="replace").split("fault: dropped ", 1)[1].split()[0]
        partition = int(dropped.split(":")[0])
        assert dropped == f"{partition}:{nth}", dropped
        _wait_for_line(log, f"event=offset_hole_filled stage={stage} topic={topic} partition={partition} "
                            f"offset={nth}", 120, worker)
        seen = wait_for_index(settings, seed_item_count(), 1, 120, worker)
        assert seen["articles"] == seed_item_count()  # the dropped article is there too
        wait_drained(settings, 60)
        text = log.read_text(errors="replace")
        holes = [line for line in text.splitlines() if "event=offset_hole " in line]
        assert len(holes) == 1, holes
        assert f"stage={stage} topic={topic} partition={partition} missing={nth}-{nth} at={nth + 1}" in holes[0], holes
        for bad in ("offset_hole_check_failed", "offset_hole_lost", "offset_hole_unfilled"):
            assert bad not in text, bad
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        stop_worker(worker)
