"""Elasticsearch documents and bulk actions from pipeline values (pure), plus template and alias installation.

Writes go through aliases (``<prefix>-articles`` -> ``<prefix>-articles-v1``) so a mapping change is a reindex into
``-v2`` and an alias flip. Document ids are the records' deterministic ids, so re-delivery never duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from newsrift.errors import MessageError
from newsrift.messages import (
    AlertMessage,
    AnalysedArticle,
    ClaimMessage,
    DisputeChangeMessage,
    EventMessage,
    HandoverMessage,
    Message,
    MoveMessage,
    PlacementMessage,
    SweepTick,
)
from newsrift.model import Article, Claim, Dispute, Event, format_time

__all__ = [
    "INDEX_KINDS",
    "TEMPLATE_DIR",
    "BulkAction",
    "IndexNames",
    "article_action",
    "claim_action",
    "dispute_action",
    "event_action",
    "install_templates",
    "load_template",
    "placement_action",
]

TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "schemas" / "elasticsearch"
INDEX_KINDS = ("articles", "claims", "events", "disputes", "alerts")


@dataclass(frozen=True)
class IndexNames:
    prefix: str = "newsrift"
    version: int = 1

    def alias(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def index(self, kind: str) -> str:
        return f"{self.prefix}-{kind}-v{self.version}"


@dataclass(frozen=True)
class BulkAction:
    """One bulk operation: ``op`` is index (whole document), update (partial, created when missing) or patch
    (partial, only where the document exists: Elasticsearch answers 404 otherwise, which ``write_bulk`` takes as
    done)."""

    op: str
    index: str
    doc_id: str
    doc: Mapping[str, Any]

    def lines(self) -> list[dict[str, Any]]:
        if self.op == "update":
            return [{"update": {"_index": self.index, "_id": self.doc_id}}, {"doc": self.doc, "doc_as_upsert": True}]
        if self.op == "patch":
            return [{"update": {"_index": self.index, "_id": self.doc_id}}, {"doc": self.doc}]
        return [{"index": {"_index": self.index, "_id": self.doc_id}}, dict(self.doc)]


def load_template(kind: str) -> dict[str, Any]:
    data = json.loads((TEMPLATE_DIR / f"{kind}.json").read_text())
    assert isinstance(data, dict)
    return data


def _ts(*candidates: datetime | None) -> str | None:
    for c in candidates:
        if c is not None:
            return format_time(c)
    return None


def article_action(names: IndexNames, article: Article, claim_count: int) -> BulkAction:
    doc = article.to_json()
    doc["entities"] = [{"text": e.text, "label": e.label} for e in article.entities]
    doc["claim_count"] = claim_count
    doc["@timestamp"] = _ts(article.published, article.ingested_at)
    # Partial update: the placement (event, duplicate_of) may already be there from the assign stage.
    return BulkAction("update", names.alias("articles"), article.article_id, doc)


def placement_action(names: IndexNames, placement: Mapping[str, Any]) -> BulkAction:
    doc = {
        "article_id": placement["article_id"],
        "event_id": placement["event_id"],
        "duplicate_of": placement.get("duplicate_of"),
        "carriers": list(placement.get("carriers") or []),
    }
    if placement.get("similarity") is not None:
        doc["similarity"] = placement["similarity"]
    return BulkAction("update", names.alias("articles"), placement["article_id"], doc)


def claim_action(names: IndexNames, claim: Claim) -> BulkAction:
    doc = claim.to_json()
    doc["@timestamp"] = _ts(claim.published)
    return BulkAction("index", names.alias("claims"), claim.claim_id, doc)


def event_action(names: IndexNames, event: Event) -> BulkAction:
    doc = event.to_json()
    doc["article_count"] = event.article_count or len(event.article_ids)
    doc["@timestamp"] = _ts(event.last_seen, event.first_seen)
    return BulkAction("index", names.alias("events"), event.event_id, doc)


def dispute_action(names: IndexNames, dispute: Dispute) -> BulkAction:
    doc = dispute.to_json()
    doc["side_count"] = len(dispute.sides)
    doc["speakers"] = sorted({s.speaker for s in dispute.sides})
    doc["outlets"] = sorted({o for s in dispute.sides for o in s.outlets})
    doc["@timestamp"] = _ts(dispute.last_updated, dispute.first_seen)
    return BulkAction("index", names.alias("disputes"), dispute.dispute_id, doc)


def bulk_body(actions: Iterable[BulkAction]) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = []
    for a in actions:
        body.extend(a.lines())
    return body


def install_templates(es: Any, names: IndexNames, kinds: Iterable[str] = INDEX_KINDS) -> list[str]:
    """Put every index template, then make sure each alias points at its versioned index; safe to repeat."""
    created: list[str] = []
    for kind in kinds:
        if not (TEMPLATE_DIR / f"{kind}.json").exists():
            continue
        tpl = load_template(kind)
        es.indices.put_index_template(
            name=names.alias(kind),
            index_patterns=[f"{names.alias(kind)}-v*"],
            template=tpl["template"],
            priority=100,
            meta=tpl.get("_meta"),
        )
        index = names.index(kind)
        if es.indices.exists(index=index):
            # A field added since the index was made (mappings are strict): adding fields is always allowed, so an
            # index from before an upgrade takes them; a changed field type needs a new index version.
            es.indices.put_mapping(index=index, properties=tpl["template"]["mappings"]["properties"])
        else:
            try:
                es.indices.create(index=index, aliases={names.alias(kind): {"is_write_index": True}})
                created.append(index)
            except Exception as e:  # another worker created it first
                if "resource_already_exists" not in str(e):
                    raise
    return created


def actions_for(message: Message, names: IndexNames) -> list[BulkAction]:
    """The bulk actions for one message of an indexed topic; messages meant for a stage alone give none."""
    if isinstance(message, AnalysedArticle):
        return [article_action(names, message.article, len(message.claims))]
    if isinstance(message, PlacementMessage):
        return [placement_action(names, message.body())]
    if isinstance(message, ClaimMessage):
        return [claim_action(names, message.claim)]
    if isinstance(message, MoveMessage):  # a settle moved these claims' articles: the claim documents follow
        return [BulkAction("patch", names.alias("claims"), cid, {"event_id": message.to_event})
                for cid in message.claim_ids]
    if isinstance(message, (HandoverMessage, SweepTick)):  # for the dispute stage; a move's patches point the claims
        return []
    if isinstance(message, EventMessage):
        return [event_action(names, message.event)]
    if isinstance(message, DisputeChangeMessage):
        return [dispute_action(names, message.change.dispute)]
    if isinstance(message, AlertMessage):
        doc = message.body()
        doc["@timestamp"] = doc.get("created")
        return [BulkAction("index", names.alias("alerts"), message.record["alert_id"], doc)]
    raise MessageError(f"no index takes {message.TYPE} messages")
