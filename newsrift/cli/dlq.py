"""``newsrift dlq``: see what the dead-letter topics hold and send it again once the cause is fixed.

The decisions (what a record is, what replaying it means) are in ``newsrift.dead_letters``; this module reads and
writes Kafka with kafka-python and delivers alerts through the sinks the settings configure. A record that does not
decode as an envelope is reported with the reason and left on its topic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from newsrift.dead_letters import DeadLetter, Redelivery, Republish, decode_dead_letter, plan_replay, summarise
from newsrift.errors import MessageError, NewsriftError
from newsrift.settings import Settings, get_settings
from newsrift.topics import TOPICS, dlq

__all__ = ["Record", "dlq_app", "dlq_topics", "read_records", "replay", "replay_each"]

dlq_app = typer.Typer(help="Dead-letter topics: what they hold, and replaying it.", no_args_is_help=True)
_STALL_SECONDS = 15.0


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def dlq_topics(settings: Settings) -> list[str]:
    return [settings.topic(dlq(spec.name)) for spec in TOPICS if spec.dlq]


def _topic_arg(settings: Settings, name: str) -> str:
    """``news.articles.raw.v1``, ``news.articles.raw.v1.dlq`` or the prefixed name all mean the same topic."""
    name = name if name.endswith(".dlq") else dlq(name)
    prefix = settings.topic_prefix
    return name if not prefix or name.startswith(prefix) else prefix + name


def _kafka_error(settings: Settings, e: Exception) -> NewsriftError:
    return NewsriftError(f"Kafka at {settings.kafka_bootstrap}: {type(e).__name__}: {e} (newsrift services up?)")


def _reader(settings: Settings) -> Any:
    """A consumer outside any group (it commits nothing), or a ``NewsriftError`` when Kafka cannot be reached."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        return KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                             bootstrap_timeout_ms=10000)
    except KafkaError as e:
        raise _kafka_error(settings, e) from e


def read_records(settings: Settings, topic: str, first: int = 0, last: int | None = None,
                 limit: int | None = None) -> Iterator[Record]:
    """The records of ``topic`` from offset ``first`` through ``last`` (every partition), oldest first, up to the
    end offsets at the time of the call."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    consumer = _reader(settings)
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            raise NewsriftError(f"no topic {topic} (newsrift topics creates them)")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        begins, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        stop = {tp: ends[tp] if last is None else min(ends[tp], last + 1) for tp in tps}
        pending = set()
        for tp in tps:
            start = max(first, begins[tp])
            if start < stop[tp]:
                consumer.seek(tp, start)
                pending.add(tp)
            else:
                consumer.pause(tp)
        count, quiet_since = 0, time.monotonic()
        while pending:
            batch = consumer.poll(timeout_ms=1000)
            if not batch:
                if time.monotonic() - quiet_since > _STALL_SECONDS:
                    raise NewsriftError(f"{topic}: no records for {_STALL_SECONDS:.0f}s before the end offsets")
                continue
            quiet_since = time.monotonic()
            for tp, messages in sorted(batch.items(), key=lambda kv: kv[0].partition):
                for m in messages:
                    if tp not in pending or m.offset >= stop[tp]:
                        break
                    yield Record(tp.topic, tp.partition, m.offset, m.key, m.value)
                    count += 1
                    if limit is not None and count >= limit:
                        return
                    if m.offset + 1 >= stop[tp]:
                        pending.discard(tp)
                        consumer.pause(tp)
    except KafkaError as e:
        raise _kafka_error(settings, e) from e
    finally:
        consumer.close()


def counts(settings: Settings) -> dict[str, int]:
    """Records held by each dead-letter topic (a topic not created yet holds none)."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    out: dict[str, int] = {}
    consumer = _reader(settings)
    try:
        for topic in dlq_topics(settings):
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in parts]
            begins, ends = (consumer.beginning_offsets(tps), consumer.end_offsets(tps)) if tps else ({}, {})
            out[topic] = sum(ends[tp] - begins[tp] for tp in tps)
    except KafkaError as e:
        raise _kafka_error(settings, e) from e
    finally:
        consumer.close()
    return out


def replay(settings: Settings, topic: str, first: int = 0, last: int | None = None,
           dry_run: bool = False) -> list[tuple[int, str, bool]]:
    """Send every record of ``topic`` in the range again; returns ``(offset, what happened, ok)`` per record."""
    return list(replay_each(settings, topic, first, last, dry_run))


def replay_each(settings: Settings, topic: str, first: int = 0, last: int | None = None,
                dry_run: bool = False) -> Iterator[tuple[int, str, bool]]:
    """``replay``, one ``(offset, what happened, ok)`` as each record is sent: a Kafka error partway still leaves
    the caller knowing what was sent before it."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from newsrift.stages.alerts.runtime import build_sinks

    producer: Any = None
    sinks = {s.name: s for s in build_sinks(settings)}
    try:
        for rec in read_records(settings, topic, first, last):
            try:
                action = plan_replay(decode_dead_letter(rec.value))
            except MessageError as e:
                yield rec.offset, f"not replayed: {e}", False
                continue
            if isinstance(action, Republish):
                if not dry_run:
                    if producer is None:
                        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                                 max_block_ms=15000, retries=5)
                    producer.send(action.topic, key=action.key, value=action.value).get(timeout=30)
                yield rec.offset, f"republished to {action.topic}", True
                continue
            yield _redeliver(action, sinks, dry_run, rec.offset)
    except KafkaError as e:
        raise _kafka_error(settings, e) from e
    finally:
        if producer is not None:
            producer.close()
        for sink in sinks.values():
            sink.close()


def _redeliver(action: Redelivery, sinks: dict[str, Any], dry_run: bool, offset: int) -> tuple[int, str, bool]:
    """One alert to the sink that refused it, even though it is marked done there: tried 5 times over about 15 s
    (1, 2, 4, 8 s apart), since whoever runs the replay is waiting for the answer."""
    from newsrift.stages.alerts import AlertDedupe, Deliverer
    from newsrift.stages.alerts.model import Alert

    sink = sinks.get(action.sink)
    if sink is None:
        configured = ", ".join(sorted(sinks)) or "none"
        return offset, f"not replayed: sink {action.sink} is not configured here (configured: {configured})", False
    try:
        alert = Alert.from_json(action.alert)
    except (KeyError, TypeError, ValueError) as e:
        return offset, f"not replayed: the alert does not parse: {e}", False
    if dry_run:
        return offset, f"would deliver alert {alert.alert_id} to {action.sink}", True
    errors: list[str] = []
    deliverer = Deliverer(sink, dedupe=AlertDedupe({}), dead_letter=lambda a, n, err: errors.append(str(err)),
                          retries=4, backoff=1.0, backoff_max=8.0)
    outcome = deliverer.deliver(alert, redrive=True)
    if outcome == "delivered":
        return offset, f"delivered alert {alert.alert_id} to {action.sink}", True
    return offset, f"not delivered to {action.sink}: {errors[-1] if errors else outcome}", False


# ----------------------------------------------------------------------------------------------------------- CLI


def _fail(e: Exception) -> None:
    typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@dlq_app.command("list")
def list_cmd() -> None:
    """Each dead-letter topic with its record count and, for those holding any, the commonest reasons."""
    settings = get_settings()
    try:
        held = counts(settings)
        for topic, n in held.items():
            typer.echo(f"{topic}\t{n} records")
            if n:
                tally = summarise(_decoded(read_records(settings, topic, limit=10000)))
                for (stage, why), k in tally.most_common(5):
                    typer.echo(f"    {k:>6}  stage={stage}  {why}")
    except NewsriftError as e:
        _fail(e)


def _decoded(records: Iterator[Record]) -> Iterator[DeadLetter | MessageError]:
    for rec in records:
        try:
            yield decode_dead_letter(rec.value)
        except MessageError as e:
            yield e


@dlq_app.command("show")
def show_cmd(
    topic: Annotated[str, typer.Argument(help="A .dlq topic (or its source topic), as `newsrift dlq list` names it.")],
    first: Annotated[int, typer.Option("--from", min=0, help="First offset.")] = 0,
    limit: Annotated[int, typer.Option(min=1, help="Records to print at most.")] = 20,
    full: Annotated[bool, typer.Option("--full", help="Print whole payloads (cut to 200 characters otherwise).")]
    = False,
) -> None:
    """Print records as JSON lines: the record's own offset (dlq_offset), its type, stage, reason, the topic,
    partition and offset the message came from, and its payload. A record that is not an envelope is printed as
    ``unreadable`` (why) and ``raw`` (its value as text)."""
    settings = get_settings()
    try:
        for rec in read_records(settings, _topic_arg(settings, topic), first, limit=limit):
            try:
                data = decode_dead_letter(rec.value).to_json()
            except MessageError as e:
                raw = None if rec.value is None else rec.value.decode("utf-8", "backslashreplace")
                data = {"unreadable": str(e), "raw": raw}
            if not full:
                for field in ("payload", "payload_b64", "raw"):
                    if isinstance(data.get(field), str) and len(data[field]) > 200:
                        data[field] = data[field][:200] + "…"
            typer.echo(json.dumps({"dlq_offset": rec.offset, **data}, ensure_ascii=False))
    except NewsriftError as e:
        _fail(e)


@dlq_app.command("replay")
def replay_cmd(
    topic: Annotated[str, typer.Argument(help="A .dlq topic (or its source topic), as `newsrift dlq list` names it.")],
    first: Annotated[int, typer.Option("--from", min=0, help="First offset.")] = 0,
    last: Annotated[int | None, typer.Option("--to", min=0, help="Last offset (inclusive); default: the end.")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be sent; send nothing.")] = False,
) -> None:
    """Send records again: a stage's message back to its source topic (every stage reading it sees it again, and
    stages are idempotent by id), an alert back to the sink that refused it. Exits 1 if any record was not sent."""
    settings = get_settings()
    results: list[bool] = []
    error: NewsriftError | None = None
    try:
        for offset, what, ok in replay_each(settings, _topic_arg(settings, topic), first, last, dry_run):
            typer.echo(f"offset {offset}: {what}")
            results.append(ok)
    except NewsriftError as e:
        error = e
    sent = sum(results)
    typer.echo(f"{sent} of {len(results)} records {'would be ' if dry_run else ''}sent again"
               + (" before the error below" if error else ""))
    if error is not None:
        _fail(error)
    if sent < len(results):
        raise typer.Exit(1)
