"""The founding example: each of the seed article's statements, with the right speaker, polarity and numbers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from spacy.language import Language

from newsrift.model import Article, Claim, Quantity, stable_id
from newsrift.stages.extract import extract_claims

PUB = datetime(2018, 2, 14, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def seed(seed_text: str, nlp: Language) -> tuple[str, list[Claim]]:
    art = Article(
        article_id="seed",
        outlet_id="seed-desk",
        url="https://seed.invalid/1",
        title="",
        text=seed_text,
        content_hash=stable_id(seed_text),
        published=PUB,
    )
    return seed_text, extract_claims(art, nlp(seed_text))


def by(claims: list[Claim], speaker: str, **fields: object) -> Claim:
    hits = [c for c in claims if c.speaker == speaker and all(getattr(c, k) == v for k, v in fields.items())]
    assert len(hits) == 1, f"want one claim by {speaker} with {fields}: {[(c.speaker, c.polarity) for c in claims]}"
    return hits[0]


def quantity(claims: list[Claim], counted: str) -> tuple[Claim, Quantity]:
    hits = [(c, q) for c in claims for q in c.quantities if q.counted == counted]
    assert len(hits) == 1, f"want one quantity counting {counted}: {hits}"
    return hits[0]


def test_kremlin_linked_reporters_say_russians_were_killed(seed: tuple[str, list[Claim]]) -> None:
    text, claims = seed
    c = by(claims, "Kremlin-linked reporters", polarity="asserts", action="kill")
    assert c.speaker_type == "media" and c.cue == "say" and not c.direct
    assert "news reporters from the Kremlin said" in text[c.start : c.end]
    assert "Russian" in " ".join(c.actors) and "killed" in c.text
    assert c.times == ("2018-02-13",)  # "On Tuesday", the day before a Wednesday publication


def test_mattis_has_no_knowledge_of_russians_killed(seed: tuple[str, list[Claim]]) -> None:
    text, claims = seed
    c = by(claims, "James Mattis", polarity="no_knowledge")
    assert (c.speaker_type, c.cue, c.action) == ("person", "deny", "kill")
    assert "knowledge of Russian fighters" in c.text
    assert c.times == ("2018-W06",)  # "last week"
    assert "Secretary to the US Department of Defense" in text[c.start : c.end]


def test_moscow_gives_no_confirmation_of_deaths(seed: tuple[str, list[Claim]]) -> None:
    text, claims = seed
    c = by(claims, "Russian government", polarity="no_knowledge")
    assert "no confirmations from Moscow" in text[c.start : c.end]
    assert c.action == "die" and any("Russian" in a for a in c.actors)


def test_us_officials_say_moscow_gave_no_statement(seed: tuple[str, list[Claim]]) -> None:
    _, claims = seed
    c = by(claims, "US government officials", polarity="no_knowledge")
    assert c.speaker_type == "officials" and "official statement" in c.text


def test_pentagon_counts_over_500_attackers(seed: tuple[str, list[Claim]]) -> None:
    text, claims = seed
    c, q = quantity(claims, "troop")
    assert c.speaker == "US Department of Defense" and c.polarity == "asserts" and c.action == "launch"
    assert (q.text, q.low, q.high, q.approx) == ("in excess of 500", 500, None, "over")
    assert text[q.start : q.end] == q.text


def test_pentagon_account_gives_over_100_casualties(seed: tuple[str, list[Claim]]) -> None:
    text, claims = seed
    c, q = quantity(claims, "casualties")
    assert c.speaker == "US Department of Defense" and c.polarity == "asserts"
    assert (q.text, q.low, q.high, q.approx) == ("over 100 casualties", 100, None, "over")
    assert text[q.start : q.end] == q.text


def test_no_other_numbers_are_invented(seed: tuple[str, list[Claim]]) -> None:
    _, claims = seed
    # "2011" and "February 7" are dates, "counter0-attacks" is a typo: none of them is a count.
    assert sorted(q.text for c in claims for q in c.quantities) == ["in excess of 500", "over 100 casualties"]


def test_claim_ids_are_stable_and_spans_exact(seed: tuple[str, list[Claim]]) -> None:
    text, claims = seed
    assert len({c.claim_id for c in claims}) == len(claims)
    for c in claims:
        assert c.claim_id == stable_id("seed", str(c.start), str(c.end))
        assert c.text in text[c.start : c.end] and c.outlet_id == "seed-desk" and c.published == PUB
