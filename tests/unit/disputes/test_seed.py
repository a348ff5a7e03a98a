"""The seed story: the Kremlin-linked report vs Mattis's "no knowledge", and no false numeric dispute."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from newsrift.model import Claim, Polarity, Quantity
from newsrift.records import DisputeChange
from newsrift.stages.disputes import DisputeDetector, EventDisputes
from tests.unit.disputes.helpers import T0, later

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "schemas" / "dispute.v1.schema.json").read_text())


def _span(text: str, quote: str) -> tuple[int, int]:
    start = text.index(quote)
    return start, start + len(quote)


def seed_claims(text: str) -> list[Claim]:
    """What the extractor should find in the seed, with exact spans into the article text."""

    def mk(
        cid: str,
        speaker: str,
        stype: str,
        quote: str,
        pol: Polarity = "asserts",
        action: str | None = None,
        actors: tuple[str, ...] = (),
        places: tuple[str, ...] = (),
        times: tuple[str, ...] = (),
        qs: tuple[Quantity, ...] = (),
    ) -> Claim:
        start, end = _span(text, quote)
        return Claim(
            claim_id=cid,
            article_id="seed",
            outlet_id="seed-outlet",
            speaker=speaker,
            speaker_type=stype,
            cue="said",
            text=quote,
            start=start,
            end=end,
            polarity=pol,
            quantities=qs,
            actors=actors,
            action=action,
            places=places,
            times=times,
            event_id="ev-seed",
            published=T0,
        )

    return [
        mk(
            "k",
            "Kremlin-linked reporters",
            "media",
            "some Russian nationals who were serving in the Syrian conflict as mercenaries had been killed",
            action="kill",
            actors=("American backed Kurdish fighters", "Russian nationals"),
            places=("Syria",),
            times=("2018-02-13",),
        ),
        mk(
            "m",
            "James Mattis",
            "person",
            "denied having any knowledge of Russian fighters who were killed last week",
            pol="no_knowledge",
            action="kill",
            actors=("American-led coalition forces", "Russian fighters"),
            times=("2018-W06",),
        ),
        mk(
            "r",
            "Russian government",
            "government",
            "there have been no confirmations from Moscow that there have been any deaths of Russian nationals",
            pol="no_knowledge",
            action="die",
            actors=("Russian nationals",),
            places=("Syria",),
        ),
        mk(
            "t",
            "Trump administration officials",
            "officials",
            "the Russian government had not given any official statement to the US government",
            action="give",
            actors=("Russian government", "US government"),
        ),
        mk(
            "p1",
            "US Department of Defense",
            "government",
            "the pro-government troops in excess of 500, armed with heavy artillery and mortars launched an "
            "unprovoked offensive",
            action="launch",
            actors=("pro-government troops", "SDF"),
            times=("2018-02-07",),
            qs=(Quantity("in excess of 500", 500, None, "over", "troops"),),
        ),
        mk(
            "p2",
            "US Department of Defense",
            "government",
            "The Americans responded with a series of aerial offensives which resulted in over 100 casualties",
            action="result",
            actors=("Americans",),
            qs=(Quantity("over 100 casualties", 100, None, "over", "casualties"),),
        ),
    ]


@pytest.fixture()
def seed_run(seed_text: str) -> tuple[list[DisputeChange], EventDisputes]:
    det = DisputeDetector()
    state = EventDisputes()
    changes: list[DisputeChange] = []
    for i, c in enumerate(seed_claims(seed_text)):
        changes += det.update(state, c, later(i / 60))
    return changes, state


def test_seed_reports_kremlin_vs_mattis_with_exact_quotes(seed_text: str, seed_run: tuple) -> None:
    changes, state = seed_run
    disputes = DisputeDetector().disputes(state)
    assert len(disputes) == 1
    d = disputes[0]
    assert d.kind in ("non_confirmation", "polarity")
    speakers = [s.speaker for s in d.sides]
    assert speakers[:2] == ["Kremlin-linked reporters", "James Mattis"]
    assert "Russian government" in speakers  # "no confirmations from Moscow" joins as a third side
    for side in d.sides:
        assert seed_text[side.start : side.end] == side.quote
        assert side.outlets == ("seed-outlet",)
    assert {s.polarity for s in d.sides} == {"asserts", "no_knowledge"}
    assert 0.0 <= d.confidence <= 1.0
    assert [c.change for c in changes] == ["new", "new_side"]
    jsonschema.validate(d.to_json(), SCHEMA)


def test_seed_never_pits_casualties_against_attackers(seed_run: tuple) -> None:
    changes, _ = seed_run
    for ch in changes:
        assert ch.dispute.kind != "numeric"
        assert not {s.claim_id for s in ch.dispute.sides} & {"p1", "p2"}
