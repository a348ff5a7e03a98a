"""Contract tests: what the code writes is what schemas/ describes, and the schemas reject what they should."""

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from newsrift.errors import MessageError
from newsrift.messages import (
    CLAIMS,
    AlertMessage,
    AnalysedArticle,
    ClaimMessage,
    EventMessage,
    HandoverMessage,
    MoveMessage,
    SweepTick,
)
from newsrift.model import Article, Claim, Dispute, DisputeSide, Entity, Event, Quantity, RawArticle
from newsrift.records import DisputeRecord, Handover
from newsrift.stages.index.core import IndexNames, actions_for, load_template

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
T = datetime(2018, 2, 14, 12, tzinfo=timezone.utc)


def _registry() -> Registry:
    reg = Registry()
    for p in SCHEMAS.glob("*.schema.json"):
        reg = reg.with_resource(p.name, Resource.from_contents(json.loads(p.read_text())))
    return reg


def validate(name: str, doc: object) -> None:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    checker = jsonschema.FormatChecker()
    jsonschema.Draft202012Validator(schema, registry=_registry(), format_checker=checker).validate(doc)


CLAIM = Claim(
    claim_id="c1", article_id="a1", outlet_id="o1", speaker="US Department of Defense", speaker_type="government",
    cue="said", text="over 100 casualties", start=3, end=40, quantities=(
        Quantity(text="over 100 casualties", low=100, high=None, approx="over", counted="casualties"),),
    published=T,
)
ARTICLE = Article(article_id="a1", outlet_id="o1", url="u", title="t", text="some text", content_hash="h",
                  published=T, entities=(Entity("Pentagon", "ORG", 0, 8),))
DISPUTE = Dispute(dispute_id="d1", event_id="e1", kind="non_confirmation", topic="Russian deaths", confidence=0.7,
                  sides=(DisputeSide("c1", "a1", "Kremlin reporters", "q1", 0, 2, ("o1",)),
                         DisputeSide("c2", "a2", "James Mattis", "q2", 0, 2, ("o2",), "no_knowledge")))


@pytest.mark.parametrize(("schema", "doc"), [
    ("raw_article.v1", RawArticle(article_id="a", outlet_id="o", url="u", title="t", published=T).to_json()),
    ("article.v1", ARTICLE.to_json()),
    ("claim.v1", CLAIM.to_json()),
    ("event.v1", Event("e1", "title", ("a1",), T, T).to_json()),
    ("dispute.v1", DISPUTE.to_json()),
    ("analyzed_article.v1", AnalysedArticle(ARTICLE, (CLAIM,)).to_json()),
])
def test_records_match_their_schema(schema: str, doc: dict) -> None:
    validate(schema, doc)


def test_schemas_reject_unknown_fields_and_bad_enums() -> None:
    bad = CLAIM.to_json() | {"surprise": 1}
    with pytest.raises(jsonschema.ValidationError):
        validate("claim.v1", bad)
    with pytest.raises(jsonschema.ValidationError):
        validate("claim.v1", CLAIM.to_json() | {"polarity": "maybe"})
    with pytest.raises(jsonschema.ValidationError):
        validate("dispute.v1", DISPUTE.to_json() | {"sides": DISPUTE.to_json()["sides"][:1]})


def test_records_roundtrip_through_json() -> None:
    assert Claim.from_json(json.loads(json.dumps(CLAIM.to_json()))) == CLAIM
    assert Article.from_json(json.loads(json.dumps(ARTICLE.to_json()))) == ARTICLE


def _mapping_fields(props: dict, prefix: str = "") -> set[str]:
    out = set()
    for name, spec in props.items():
        out.add(prefix + name)
        if "properties" in spec:
            out |= _mapping_fields(spec["properties"], prefix + name + ".")
    return out


@pytest.mark.parametrize("kind", ["articles", "claims", "events", "disputes"])
def test_index_documents_only_use_mapped_fields(kind: str) -> None:
    """Mappings are dynamic:strict, so a field the code writes but the template lacks would be rejected."""
    tpl = load_template(kind)["template"]["mappings"]
    assert tpl["dynamic"] == "strict"
    fields = _mapping_fields(tpl["properties"])
    names = IndexNames("x")
    from newsrift.messages import DisputeChangeMessage
    from newsrift.records import DisputeChange

    msg = {
        "articles": AnalysedArticle(ARTICLE, (CLAIM,)),
        "claims": ClaimMessage(CLAIM),
        "events": EventMessage(Event("e1", "t", ("a1",), T, T)),
        "disputes": DisputeChangeMessage(DisputeChange(DISPUTE, "new")),
    }[kind]
    (action,) = actions_for(msg, names)
    assert action.index == f"x-{kind}"
    for action in actions_for(msg, names):
        def walk(d: dict, prefix: str = "") -> None:
            for k, v in d.items():
                assert prefix + k in fields, f"{kind}: {prefix + k} is not in the template"
                if isinstance(v, dict):
                    walk(v, prefix + k + ".")
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    for item in v:
                        walk(item, prefix + k + ".")
        walk(dict(action.doc))


def test_alert_record_matches_schema_and_template() -> None:
    from newsrift.records import DisputeChange
    from newsrift.stages.alerts import alert_from_change

    alert = alert_from_change(DisputeChange(DISPUTE, "new"))
    record = alert.to_json() | {"watchlists": ["syria"]}
    validate("alert.v1", record)
    tpl = load_template("alerts")["template"]["mappings"]["properties"]
    validate("alert.v1", AlertMessage(record).to_json())
    (action,) = actions_for(AlertMessage(record), IndexNames("x"))
    assert "type" not in action.doc
    assert set(action.doc) <= set(tpl)
    assert action.doc_id == alert.alert_id


def test_sweep_nudges_on_the_claims_topic_are_not_indexed() -> None:
    assert actions_for(SweepTick(T), IndexNames("x")) == []


def test_a_move_on_the_claims_topic_points_each_named_claim_at_the_new_event() -> None:
    move = MoveMessage("ev-new", ("a1", "a2"), ("c1", "c2"))
    msg = move.to_json()
    validate("claim_move.v1", msg)
    actions = actions_for(move, IndexNames("x"))
    assert [(a.op, a.doc_id, dict(a.doc)) for a in actions] == [
        ("patch", "c1", {"event_id": "ev-new"}), ("patch", "c2", {"event_id": "ev-new"})]
    # A patch never creates a document: a claim Elasticsearch never took stays absent, not a stub with an id.
    assert actions[0].lines()[1] == {"doc": {"event_id": "ev-new"}}
    assert CLAIMS(json.dumps(msg)) == move
    with pytest.raises(MessageError, match="target event"):
        CLAIMS(json.dumps({"type": "move", "claims": ["c1"]}))


def test_a_handover_follows_its_contract_and_is_not_indexed() -> None:
    record = DisputeRecord("s|account", "kill", ["c1", "c9"], ["polarity"], "polarity", "new", 0.8, T, T)
    handover = HandoverMessage(Handover([(dataclasses.replace(CLAIM, event_id="ev2"), ["o1", "o2"])],
                                        {"d1": record}))
    msg = handover.to_json()
    validate("claim_handover.v1", msg)
    decoded = CLAIMS(json.dumps(msg))
    assert isinstance(decoded, HandoverMessage)
    assert decoded.handover.claims[0][0] == dataclasses.replace(CLAIM, event_id="ev2")
    assert decoded.handover.disputes == {"d1": record}
    with pytest.raises(MessageError, match="missing field"):  # a dispute record is read whole or not at all
        CLAIMS(json.dumps({**msg, "disputes": {"d1": {"members": ["c1"]}}}))
    assert actions_for(handover, IndexNames("x")) == []
    with pytest.raises(MessageError, match="event_id"):
        CLAIMS(json.dumps(HandoverMessage(Handover([(dataclasses.replace(CLAIM, event_id=None), [])])).to_json()))
