"""Reprint index: copies found, rewrites kept apart, state bounded and equal across a restart."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from newsrift.model import Article
from newsrift.stages.dedupe.core import ReprintIndex
from newsrift.stages.normalize.core import content_hash

T0 = datetime(2024, 3, 1, 8, tzinfo=timezone.utc)
CASES = Path(__file__).resolve().parents[2] / "fixtures" / "reprints" / "pairs.jsonl"


def _cases() -> list[dict]:
    return [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]


def art(aid: str, text: str, outlet: str = "o", minutes: float = 0) -> Article:
    return Article(article_id=aid, outlet_id=outlet, url="", title="", text=text, content_hash=content_hash(text),
                   published=T0 + timedelta(minutes=minutes))


def _feed(idx: ReprintIndex, arts: list[Article]) -> list[tuple[str | None, float]]:
    out = []
    for a in arts:
        d = idx.check(a)
        idx.add(a, d)
        out.append((d.duplicate_of, d.similarity))
    return out


def _fixture_articles() -> list[Article]:
    return [art(c["id"], c["text"], c["outlet"], c["seq"]) for c in _cases()]


def test_every_kind_of_copy_is_found_and_no_rewrite_is_merged() -> None:
    cases = _cases()
    got = _feed(ReprintIndex({}), _fixture_articles())
    wrong_copies = [c["id"] for c, (dup, _) in zip(cases, got, strict=True) if c["expect"] and dup != c["expect"]]
    merged_rewrites = [c["id"] for c, (dup, _) in zip(cases, got, strict=True) if not c["expect"] and dup]
    assert merged_rewrites == []  # precision: a related-but-different story is never folded
    assert len(wrong_copies) <= 0.05 * sum(1 for c in cases if c["expect"])


def test_byline_boilerplate_and_cut_copies_share_one_carrier_list() -> None:
    original = next(c for c in _cases() if c["kind"] == "original" and len(c["text"]) > 1500)
    idx = ReprintIndex({})
    text = original["text"]
    _feed(idx, [art("a", text, "wire"),
                art("b", "By Staff Writer\n" + text + "\nCopyright 2024. All rights reserved.", "herald", 5),
                art("c", text[: len(text) * 2 // 3], "gazette", 9)])
    assert idx.check(art("d", text, "late", 20)).duplicate_of == "a"
    assert idx.carriers("c") == ["wire", "herald", "gazette"]


def test_restart_from_a_copy_of_the_store_gives_the_same_answers() -> None:
    arts = _fixture_articles()[:160]
    straight = _feed(ReprintIndex({}), arts)
    store: dict = {}
    got = _feed(ReprintIndex(store), arts[:80])
    got += _feed(ReprintIndex(copy.deepcopy(store)), arts[80:])
    assert got == straight
    json.dumps(store)  # the whole state is JSON, as a Faust table needs


def test_old_stories_are_evicted_so_state_stays_bounded() -> None:
    idx = ReprintIndex({}, window=timedelta(hours=1))
    text = _cases()[0]["text"]
    _feed(idx, [art(f"x{i}", f"story number {i} " + " ".join(f"w{i}_{j}" for j in range(30)), "o", i * 10)
                for i in range(400)])
    assert sum(1 for k in idx.store if k.startswith("r:")) < 30
    _feed(idx, [art("first", text, "o", 5000)])
    assert idx.check(art("late-copy", text, "p", 5030)).duplicate_of == "first"  # inside the window


# A wire alert, an independent report that renders the same ministry statement in the same words (reported speech,
# no quotation marks), and a lightly edited copy of the alert. Written for this test.
ALERT = ("The transport ministry said Monday that the freight train which left the rails near the northern border "
         "was carrying grain and fertiliser for export. The statement said the driver had reported a fault in the "
         "braking system minutes before the crash because of the cold weather. It said nobody was hurt.")
RENDERING = ("Rail services across the north were halted on Monday after a derailment. In a statement, the "
             "ministry said the train was carrying grain and fertiliser for export. The statement said the driver "
             "had reported a fault in the braking system minutes before the crash because of the cold weather. "
             "Unions have long warned about ageing rolling stock. More to follow.")
EDITED = ("NORTH BORDER (Wire) - Monday's derailment: the freight train which left the rails near the northern border "
          "was carrying grain and fertiliser for export, the transport ministry said. The statement said the "
          "driver had reported a fault in the braking system minutes before the crash because of the cold weather. "
          "It said nobody was hurt. Copyright Wire. All rights reserved.")


def test_one_statement_rendered_alike_by_two_outlets_is_not_a_copy() -> None:
    idx = ReprintIndex({})
    _feed(idx, [art("alert", ALERT, "wire")])
    shared = idx.check(art("rendering", RENDERING, "other", 5))
    # It shares most of the alert's second sentence and then some, all of it what the ministry said.
    assert shared.duplicate_of is None
    assert idx.check(art("edited", EDITED, "herald", 9)).duplicate_of == "alert"


def test_shared_narration_outside_reported_speech_still_makes_a_copy() -> None:
    idx = ReprintIndex({})
    _feed(idx, [art("alert", ALERT, "wire")])
    narrated = RENDERING.replace("In a statement, the ministry said the train was carrying grain and fertiliser for "
                                 "export.", "The freight train which left the rails near the northern border was "
                                 "carrying grain and fertiliser for export.")
    assert idx.check(art("narrated", narrated, "other", 5)).duplicate_of == "alert"
