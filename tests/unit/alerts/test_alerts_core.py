"""Alert ids, the record's JSON, watchlists as data and the match rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from newsrift.errors import ConfigError
from newsrift.stages.alerts import Alert, Watch, add_watch, alert_from_change, load_watches, matches, remove_watch
from newsrift.stages.disputes import DisputeDetector, EventDisputes
from tests.unit.disputes.helpers import claim, later, qty


def test_one_alert_id_per_dispute_change(make_alert: Callable[[int], Alert]) -> None:
    a, b, c = make_alert(1), make_alert(1), make_alert(2)
    assert a.alert_id == b.alert_id != c.alert_id
    assert a.change == "new" and a.kind == "non_confirmation"
    assert a.speakers == ("Kremlin-linked reporters", "James Mattis")
    assert "\u201cno knowledge of Russian fighters being killed\u201d" in a.summary
    assert Alert.from_json(json.loads(json.dumps(a.to_json()))) == a


def test_each_change_of_one_dispute_is_its_own_alert() -> None:
    det = DisputeDetector()
    state = EventDisputes()
    changes = []
    for who, n, h in [("police", 5, 0), ("hospital", 90, 1), ("Red Cross", 40, 2)]:
        c = claim(
            who,
            f"{n} killed",
            action="kill",
            cid=f"{who}-{n}",
            article=f"a-{who}-{n}",
            qs=(qty(str(n), n, counted="killed"),),
            at=later(h),
        )
        changes += det.update(state, c, later(h))
    changes += det.sweep(state, later(200))
    alerts = [alert_from_change(ch) for ch in changes]
    assert [a.change for a in alerts] == ["new", "new_side", "status:stale"]
    assert len({a.alert_id for a in alerts}) == 3


def test_watchlist_file_add_list_remove(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "watches.json"
    assert load_watches(path) == []
    add_watch(path, Watch("russia", entities=("Kremlin",), kinds=("non_confirmation", "polarity")))
    add_watch(path, Watch("numbers", kinds=("numeric",), min_confidence=0.7))
    with pytest.raises(ConfigError):
        add_watch(path, Watch("russia"))
    add_watch(path, Watch("russia", entities=("Moscow",)), replace=True)
    assert [w.name for w in load_watches(path)] == ["numbers", "russia"]
    assert load_watches(path)[1].entities == ("Moscow",)
    assert remove_watch(path, "numbers") and not remove_watch(path, "numbers")
    assert json.loads(path.read_text())["version"] == 1
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        load_watches(path)
    with pytest.raises(ConfigError):
        Watch("bad", kinds=("rumour",))


def test_matches(make_alert: Callable[[int], Alert]) -> None:
    a = make_alert(3)
    assert matches(Watch("all"), a)
    assert matches(Watch("alias", entities=("Moscow",)), a)  # "Russian nationals" in a quote folds to russia
    assert matches(Watch("who", entities=("james mattis",), kinds=("non_confirmation",)), a)
    assert not matches(Watch("kind", kinds=("numeric",)), a)
    assert not matches(Watch("conf", min_confidence=0.99), a)
    assert matches(Watch("outlet", outlets=("O-AP",)), a)
    assert not matches(Watch("outlet", outlets=("o-bbc",)), a)
    assert matches(Watch("kw", keywords=("fighters",)), a)
    assert not matches(Watch("kw", keywords=("ceasefire",)), a)
    assert not matches(Watch("both", entities=("Mattis",), keywords=("ceasefire",)), a)
