"""detect_disputes: claims of an event (news.claims.v1, keyed by event_id) -> dispute changes (news.disputes.v1)."""

from __future__ import annotations

import copy
import logging
from datetime import datetime, timezone
from typing import Any

from pipeline.app import app, claims_topic, disputes_topic, json_table, send_to_dlq
from pipeline.disputes import DisputeDetector
from pipeline.disputes.stage import ClaimEnvelope
from pipeline.errors import NewsriftError
from pipeline.streaming import decode, encode, log_event

log = logging.getLogger("newsrift.worker")
detector = DisputeDetector()
# One JSON state per event, co-partitioned with news.claims.v1 (both keyed by event_id).
disputes_by_event = json_table("disputes-by-event")


@app.agent(claims_topic)
async def detect_disputes(stream: Any) -> None:
    async for event in stream.events():
        try:
            env = decode(event.value, ClaimEnvelope.from_json)
        except NewsriftError as e:
            await send_to_dlq("detect_disputes", event, e)
            continue
        event_id = env.claim.event_id or ""
        # Nested mutation is invisible to the changelog: update a copy, then store it whole.
        state = copy.deepcopy(disputes_by_event.get(event_id) or {})
        now = env.claim.published or datetime.now(timezone.utc)
        changes = detector.update(state, env.claim, now, carriers=env.carriers, duplicate_of=env.duplicate_of)
        disputes_by_event[event_id] = state
        for change in changes:
            await disputes_topic.send(key=change.dispute.dispute_id.encode(), value=encode(change.to_json()))
            log_event(log, "dispute_change", change=change.change, dispute_id=change.dispute.dispute_id,
                      kind=change.dispute.kind, sides=len(change.dispute.sides), event_id=event_id)
