"""Reprints, events and their composition: behaviour that must hold, and restart equivalence of the JSON state."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from newsrift.model import Article
from newsrift.stages.dedupe.core import ReprintIndex
from newsrift.stages.events.assign import Assigner
from newsrift.stages.events.core import EventClusterer
from newsrift.stages.normalize.core import content_hash

T0 = datetime(2018, 2, 13, 9, tzinfo=timezone.utc)
ECB = Path(__file__).resolve().parents[4] / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"
WIRE = ("WASHINGTON - Officials from Russia and the United States dispute claims of Russian casualties in Syria. "
        "Kremlin-linked reporters said on Tuesday that Russian mercenaries were killed in the strikes near Deir "
        "ez-Zor. Defense Secretary James Mattis said he had no knowledge of any Russians killed in the fighting. "
        "The Pentagon said more than 500 pro-government fighters attacked the SDF positions and that the American "
        "response caused over 100 casualties among the attackers. Moscow has not confirmed any deaths.")
REWRITE = ("The Pentagon chief told reporters on Wednesday he could not say whether Russian contractors died when "
           "US aircraft struck a column advancing on a base held by Kurdish-led forces east of the Euphrates. "
           "Russian outlets have said dozens of Russian citizens were among the dead; the Kremlin has not commented.")
QUAKE_A = ("A magnitude 6.1 earthquake struck northern Chile on Monday, damaging houses in the port of Iquique "
           "and cutting power to thousands. Chile's emergency office said two people were injured in Iquique.")
QUAKE_B = ("A strong earthquake of magnitude 6.4 hit the Indonesian island of Sulawesi on Friday, killing at least "
           "seven people in Palu and toppling a mosque, Indonesia's disaster agency said.")


def art(aid: str, text: str, outlet: str = "o", hours: float = 0, title: str = "") -> Article:
    return Article(article_id=aid, outlet_id=outlet, url="", title=title, text=text, content_hash=content_hash(text),
                   published=T0 + timedelta(hours=hours))


def test_wire_copy_with_new_byline_and_boilerplate_is_a_reprint() -> None:
    idx = ReprintIndex({})
    a = art("a", WIRE, "global-wire")
    idx.add(a, idx.check(a))
    copy_text = "By Metro Herald wire services\n" + WIRE + "\nCopyright Metro Herald. All rights reserved."
    b = art("b", copy_text, "metro-herald", 2)
    d = idx.check(b)
    idx.add(b, d)
    assert d.duplicate_of == "a"
    assert idx.carriers("b") == ["global-wire", "metro-herald"]
    truncated = art("c", WIRE[: len(WIRE) * 2 // 3], "third", 3)
    assert idx.check(truncated).duplicate_of == "a"


def test_a_rewrite_of_the_same_event_is_not_a_reprint() -> None:
    idx = ReprintIndex({})
    a = art("a", WIRE)
    idx.add(a, idx.check(a))
    assert idx.check(art("r", REWRITE, hours=1)).duplicate_of is None


def test_same_story_joins_and_two_quakes_stay_apart() -> None:
    c = EventClusterer({})
    first = c.assign(art("a", WIRE, title="US and Russia at odds over Russian deaths in Syria"))
    same = c.assign(art("b", REWRITE, hours=20, title="Mattis cannot confirm Russian deaths in Syria strike"))
    q1 = c.assign(art("q1", QUAKE_A, hours=1, title="Earthquake hits northern Chile"))
    q2 = c.assign(art("q2", QUAKE_B, hours=2, title="Earthquake kills seven in Sulawesi"))
    assert first.is_new and not same.is_new and same.event_id == first.event_id
    assert q1.event_id != first.event_id and q2.event_id not in (q1.event_id, first.event_id)


def test_a_quiet_event_stops_taking_articles() -> None:
    c = EventClusterer({})
    e1 = c.assign(art("a", WIRE))
    later = c.assign(art("b", WIRE + " Update.", hours=24 * 30))
    assert later.event_id != e1.event_id


def _stream(n: int = 80) -> list[Article]:
    docs = [json.loads(line) for line in ECB.read_text().splitlines()][:n]
    return [art(d["id"], d["text"], f"o{i % 5}", i * 0.1, d["title"]) for i, d in enumerate(docs)]


def test_restart_from_a_copy_of_the_state_gives_the_same_answers() -> None:
    arts = _stream()
    whole = Assigner({}, {})
    straight = [whole.place(a).to_json() for a in arts]
    rs: dict = {}
    es: dict = {}
    first = Assigner(rs, es)
    got = [first.place(a).to_json() for a in arts[:40]]
    resumed = Assigner(copy.deepcopy(rs), copy.deepcopy(es))  # a restarted worker rebuilds caches from its tables
    got += [resumed.place(a).to_json() for a in arts[40:]]
    assert got == straight


def test_redelivery_changes_nothing_and_ids_are_deterministic() -> None:
    arts = _stream(30)
    a1 = Assigner({}, {})
    once = [a1.place(a).to_json() for a in arts]
    again = [a1.place(a).to_json() for a in arts]  # at-least-once delivery replays the same articles
    assert [p["event_id"] for p in again] == [p["event_id"] for p in once]
    a2 = Assigner({}, {})
    assert [a2.place(a).to_json() for a in arts] == once
