"""The worker's offset watch against the two stuck states Faust can leave a partition in, on the real broker: a
commit refused as a rebalance refuses it (Faust moves its own books on anyway), and a raw message fetched and never
handed to a stage. The faults are injected into the worker's Faust (a ``sitecustomize`` on its path); Kafka and
Elasticsearch are real. Without the watch both leave the raw topic behind for good (the seed e2e test saw one in CI).
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from newsrift.demo import ingest_seeds, seed_item_count, start_worker, stop_worker, wait_for_index
from pipeline.lag import partition_offsets, wait_drained
from pipeline.settings import Settings
from pipeline.topics import CLAIMS, RAW_ARTICLES, ensure_topics
from tests.integration.test_worker_outages import _wait_for_line

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAULTS = {
    # The first commit that covers the raw topic "fails" the way a commit under a rebalance fails: aiokafka's
    # CommitFailedError("... already rebalanced"), which Faust's driver turns into False.
    "commit": """
        from faust.transport.drivers import aiokafka as driver

        refused = []
        plain_commit = driver.AIOKafkaConsumerThread._commit

        async def _commit(self, offsets):
            if not refused and any(tp.topic == TOPIC for tp in offsets):
                refused.append(offsets)
                print(f"fault: commit refused {sorted((tp.partition, o) for tp, o in offsets.items())}", flush=True)
                return False
            return await plain_commit(self, offsets)

        driver.AIOKafkaConsumerThread._commit = _commit
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


def _inject(tmp_path: Path, fault: str, topic: str, partition: int, nth: int) -> Path:
    where = tmp_path / "fault"
    where.mkdir()
    body = textwrap.dedent(FAULTS[fault])
    (where / "sitecustomize.py").write_text(f"TOPIC = {topic!r}\nPARTITION = {partition}\nNTH = {nth}\n{body}")
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


@pytest.mark.parametrize("fault,action", [("commit", "commit"), ("drop", "seek")])
def test_a_stuck_raw_partition_is_repaired_and_every_article_goes_through(
    isolated: Settings, tmp_path: Path, fault: str, action: str
) -> None:
    settings = isolated.model_copy(update={"stuck_offset_seconds": 4.0, "offset_check_seconds": 1.0})
    ensure_topics(settings)
    topic = settings.topic(RAW_ARTICLES)
    # The dropped message is its partition's only one: nothing comes after it, so the partition stays behind.
    partition = _raw_partition_holding(settings, tmp_path, 1, 1) if fault == "drop" else -1
    log = tmp_path / "worker.log"
    worker: subprocess.Popen[bytes] = start_worker(settings, log, {"PYTHONPATH": str(_inject(tmp_path, fault, topic,
                                                                                             partition, 0))})
    try:
        _wait_for_line(log, "Worker]: Ready", 120, worker)
        summary = ingest_seeds(settings, tmp_path / "state")
        assert "failed=0" in summary, summary
        _wait_for_line(log, "fault: ", 120, worker)  # the fault did happen
        _wait_for_line(log, "event=offsets_repaired", 120, worker)
        wait_drained(settings, 120)
        seen = wait_for_index(settings, seed_item_count(), 0, 120, worker)
        assert seen["articles"] == seed_item_count()
        text = log.read_text(errors="replace")
        repairs = [line for line in text.splitlines() if "event=offsets_repaired" in line]
        # The refused commit may have covered other stage topics too: each of them is repaired the same way.
        assert any(f"topic={topic} " in line for line in repairs), repairs
        assert all(f"action={action} " in line for line in repairs), repairs
        if fault == "drop":
            assert all(f"topic={topic} partition={partition} " in line for line in repairs), repairs
        assert "event=offset_watch_failed" not in text
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        stop_worker(worker)


@pytest.mark.parametrize("stage", ["analyse_articles", "detect_disputes"])
def test_a_message_dropped_before_others_of_its_partition_is_fetched_again(
    isolated: Settings, tmp_path: Path, stage: str
) -> None:
    """Faust would commit over this hole (one message, the next acked) and leave no lag: the stage sees the offset
    jump, logs the hole and fetches the partition again until the message comes. The watch's wait is out of reach.
    On the raw topic the stage batches (its fetch is in hand before the seek); on the claims topic the dispute
    stage takes one message at a time with the rest of the fetch behind it, which Faust hands out after the seek
    and which moves its read offset past the hole again."""
    settings = isolated.model_copy(update={"stuck_offset_seconds": 3600.0})
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
        for bad in ("event=offsets_repaired", "offset_hole_check_failed", "offset_hole_lost", "offset_hole_unfilled"):
            assert bad not in text, bad
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        stop_worker(worker)
