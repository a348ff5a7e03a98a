"""Dates from the text, unknown times in batch, and an incident's day across weeks (issue #14)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from newsrift.model import Article
from newsrift.stages.dedupe.core import ReprintIndex
from newsrift.stages.events.core import EventClusterer
from newsrift.stages.events.dates import arrival_order, day_terms, stated_time

T0 = datetime(2018, 10, 3, 12, tzinfo=timezone.utc)


def art(aid: str, text: str, when: datetime | None, title: str = "", url: str = "") -> Article:
    return Article(article_id=aid, outlet_id="o", url=url, title=title, text=text, content_hash=aid, published=when)


def test_a_dateline_or_url_states_the_date_and_days_are_normalised() -> None:
    assert stated_time("", "Friday, 03 February 2023 China said", "") == datetime(2023, 2, 3, 12, tzinfo=timezone.utc)
    assert stated_time("", "no date here", "https://x.org/2018/10/13/story") == datetime(
        2018, 10, 13, 12, tzinfo=timezone.utc)
    assert stated_time("", "3 Marines were hurt", "") is None
    assert set(day_terms("entered the consulate on Oct. 2 and on 2 October", None)) == {"oct-2"}
    assert "oct-2" in day_terms("He was last seen on Tuesday.", T0 - timedelta(days=1))  # 2018-10-02 was a Tuesday
    assert day_terms("3 Marines were hurt", None) == {}


def test_undated_articles_keep_their_place_in_the_input() -> None:
    a, b, c = art("a", "x", T0), art("b", "x", None), art("c", "x", T0 - timedelta(days=5))
    assert [x.article_id for _, x in arrival_order([(1, a), (2, b), (3, c)])] == ["c", "a", "b"]


STORY = ("Saudi journalist Jamal Khashoggi vanished after entering the Saudi consulate in Istanbul on Oct. 2. "
         "Turkish officials said Khashoggi was killed inside the consulate by a team flown in from Riyadh. ")
FOLLOW = ("Saudi prosecutors said the killing of Jamal Khashoggi inside the consulate in Istanbul on Oct. 2 was "
          "premeditated, citing Turkish evidence about the team flown in from Riyadh. ")
TWIN = ("Saudi journalist Jamal Khashoggi entered the Saudi consulate in Istanbul on Sept. 28 to obtain papers. "
        "Turkish officials said Khashoggi was told to come back later by the consulate team from Riyadh. ")


def test_an_unknown_time_neither_ages_an_event_nor_counts_as_now() -> None:
    c = EventClusterer({})
    first = c.assign(art("a", STORY, T0))
    late = c.assign(art("b", FOLLOW, None))
    assert late.event_id == first.event_id
    ev = c.event(first.event_id)
    assert ev.first_seen == T0 and ev.last_seen == T0


def test_a_follow_up_weeks_later_joins_when_it_names_the_incident_day() -> None:
    c = EventClusterer({})
    first = c.assign(art("a", STORY, T0))
    later = c.assign(art("b", FOLLOW, T0 + timedelta(days=20)))
    assert later.event_id == first.event_id
    c = EventClusterer({})
    first = c.assign(art("a", STORY, T0))
    other = c.assign(art("c", TWIN, T0 + timedelta(days=20)))  # as close in words, another day named
    assert other.event_id != first.event_id


def test_quotes_shared_by_rewrites_do_not_make_a_copy() -> None:
    quote = ('"We have no knowledge of any such operation and we reject the reports as baseless lies spread by '
             'enemies of the kingdom who want to harm our relations with our neighbours and friends," the statement '
             'said. ')
    one = "Riyadh reacted on Saturday after days of pressure from allies. " + quote + "Officials met in the capital."
    two = "The kingdom answered critics in a terse note carried by state media. " + quote + "Markets fell on Monday."
    idx = ReprintIndex({})
    for a in (art("a", one, T0), art("b", two, T0 + timedelta(hours=1))):
        d = idx.check(a)
        idx.add(a, d)
    assert idx.check_recorded("b") == (None, None)
