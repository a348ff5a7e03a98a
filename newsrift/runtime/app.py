"""The worker's Faust app, configured from settings. Stages, tables and services are added by
``newsrift.runtime.worker.build``; this module makes nothing at import time."""

from __future__ import annotations

import faust

from newsrift.settings import Settings


def make_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        # Faust's default is "<app id>-data" in the current directory; keep worker state beside the services' instead.
        datadir=str(settings.home / "worker" / settings.app_id),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        # Faust's web server listens on every interface by default; loopback unless configured.
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        producer_acks=-1,
        producer_request_timeout=settings.producer_request_timeout_seconds,
        consumer_auto_offset_reset="earliest",
        # Faust commits the offsets the stages acked (newsrift/runtime/commits.py: only once a message's outputs are in
        # Kafka) every second, every 100 acks, and, waiting for every message a stage took, before a rebalance or a
        # stop completes.
        broker_commit_every=100,
        broker_commit_interval=1.0,
        stream_wait_empty=True,
        stream_buffer_maxsize=512,
        table_standby_replicas=0,
    )
