"""Frames read what a claim states: a changed toll states its new value, counted as deaths."""

from __future__ import annotations

import dataclasses

from newsrift.model import Claim, Quantity
from newsrift.stages.disputes.frames import frame_of, speaker_key
from newsrift.stages.disputes.rules import compare
from tests.unit.disputes.helpers import claim, qty


def _with_numbers(c: Claim, cue: str, *numbers: tuple[str, float, float | None, str]) -> Claim:
    """``c`` said with ``cue``, its quantities found in its text (offsets as the extractor gives them)."""
    qs = []
    for text, low, high, approx in numbers:
        at = c.text.index(text)
        qs.append(Quantity(text=text, low=low, high=high, approx=approx, counted="bombing",
                           start=c.start + at, end=c.start + at + len(text)))
    return dataclasses.replace(c, cue=cue, quote=c.text, quantities=tuple(qs))


def test_a_revised_toll_states_the_new_value_only() -> None:
    c = _with_numbers(claim("police", "revised the toll from the bombings down to 41, from the previous figure of 60"),
                      "revise", ("41", 41, 41, "exact"), ("60", 60, 60, "exact"))
    assert [(n.cls, n.low, n.high) for n in frame_of(c).numbers] == [("deaths", 41, 41)]


def test_a_toll_raised_from_one_figure_to_another_is_the_second() -> None:
    c = _with_numbers(claim("governor", "raised the official death toll from 64 to 2,975"),
                      "raise", ("64 to 2,975", 64, 2975, "range"))
    assert [(n.cls, n.low, n.high, n.text) for n in frame_of(c).numbers] == [("deaths", 2975, 2975, "2,975")]


def test_two_sources_putting_the_toll_apart_disagree_and_the_same_toll_agrees() -> None:
    a = _with_numbers(claim("Red Crescent", "put the death toll at 31"), "put", ("31", 31, 31, "exact"))
    b = _with_numbers(claim("interior ministry", "put the death toll at 19"), "put", ("19", 19, 19, "exact"))
    same = _with_numbers(claim("hospital", "put the death toll at 31"), "put", ("31", 31, 31, "exact"))
    assert [m.kind for m in compare(frame_of(a), frame_of(b))] == ["numeric"]
    assert all(m.kind is None for m in compare(frame_of(a), frame_of(same)))


def test_a_number_in_a_plain_statement_keeps_its_own_class() -> None:
    c = _with_numbers(claim("police", "41 bombings from 2019 to 2020"), "say", ("41", 41, 41, "exact"))
    assert frame_of(c).numbers == ()  # bombings are not people: no tally class without a toll verb



def test_ages_and_no_one_are_not_counts() -> None:
    def people(c: Claim, action: str) -> Claim:
        return dataclasses.replace(c, action=action, quantities=tuple(
            dataclasses.replace(q, counted="people") for q in c.quantities))

    ages = people(_with_numbers(claim("police", "The bodies of Ann Lowe, 48, and her mother, 71, were found"),
                                "say", ("48", 48, 48, "exact"), ("71", 71, 71, "exact")), "kill")
    none = people(_with_numbers(claim("fire chief", "No one was injured in the fire"), "say",
                                ("one", 1, 1, "exact")), "injure")
    dead = people(_with_numbers(claim("police", "The bodies of 48 people were found"), "say",
                                ("48 people", 48, 48, "exact")), "kill")
    assert frame_of(ages).numbers == ()
    assert frame_of(none).numbers == ()
    assert [n.low for n in frame_of(dead).numbers] == [48]


def test_a_claim_that_calls_the_account_staged_denies_it_and_shows_as_denying() -> None:
    account = claim("rescuers", "a chemical attack on the town killed dozens of civilians", action="attack",
                    places=("Duma",))
    staged = claim("Kremlin", "the chemical attack on the town was staged by foreign agents", action="attack",
                   places=("Duma",))
    also = claim("ministry", "the chemical attack on the town was staged by foreign agents", action="attack",
                 places=("Duma",))
    assert frame_of(staged).stance == "denies"
    assert [m.kind for m in compare(frame_of(account), frame_of(staged))] == ["polarity"]
    assert all(m.kind is None for m in compare(frame_of(staged), frame_of(also)))  # two denials agree


def test_part_of_a_toll_is_not_another_answer_to_it() -> None:
    total = claim("health ministry", "253 people died", action="kill",
                  qs=[qty("253 people", 253, 253, counted="people")])
    part = claim("foreign ministry", "40 foreigners died", action="kill",
                 qs=[qty("40 foreigners", 40, 40, counted="foreigners")])
    other = claim("police", "359 people died", action="kill", qs=[qty("359 people", 359, 359, counted="people")])
    assert not any(m.kind for m in compare(frame_of(total), frame_of(part)))
    assert [m.kind for m in compare(frame_of(total), frame_of(other)) if m.kind] == ["numeric"]


def test_a_country_and_a_local_place_are_not_two_places_for_a_toll() -> None:
    a = claim("governor", "the toll in the U.S. territory is 2,975", action="kill", places=("US",),
              qs=[qty("2,975", 2975, 2975, counted="people")])
    b = claim("Trump", "on the Island they had 6 to 18 deaths", action="kill", places=("Island",),
              qs=[qty("6 to 18 deaths", 6, 18, "range", counted="deaths")])
    c = claim("mayor", "in Idlib 40 people died", action="kill", places=("Idlib",),
              qs=[qty("40 people", 40, 40, counted="people")])
    d = claim("monitor", "in Aleppo 12 people died", action="kill", places=("Aleppo",),
              qs=[qty("12 people", 12, 12, counted="people")])
    assert [m.kind for m in compare(frame_of(a), frame_of(b))] == ["numeric"]
    assert compare(frame_of(c), frame_of(d)) == []  # two towns: two tolls


def test_a_count_in_parts_agrees_with_the_whole() -> None:
    parts = claim("military", "the navy seized 12 Somali and 11 Yemeni suspects", action="arrest",
                  qs=[qty("12 Somali", 12, 12, counted="suspects"),
                      qty("11 Yemeni suspects", 11, 11, counted="suspects")])
    whole = claim("officials", "the navy captured 23 piracy suspects", action="arrest",
                  qs=[qty("23 piracy suspects", 23, 23, counted="suspects")])
    other = claim("coast guard", "the navy captured 30 suspects", action="arrest",
                  qs=[qty("30 suspects", 30, 30, counted="suspects")])
    assert not any(m.kind for m in compare(frame_of(parts), frame_of(whole)))
    assert "numeric" in [m.kind for m in compare(frame_of(parts), frame_of(other))]


def test_an_accusation_against_a_plain_account_is_no_denial() -> None:
    accuses = claim("Ukrainian navy", "six seamen were wounded when Russian coast guards opened fire on the ships in "
                    "the strait", stype="organisation")
    account = claim("Russian government", "Russia is holding 24 Ukrainian seamen from the ships in the strait",
                    stype="government")
    fa, fb = frame_of(accuses), frame_of(account)
    assert (fa.stance, fb.stance) == ("accuses", "asserts")
    assert not any(m.kind for m in compare(fa, fb))


def test_a_bare_figure_stated_as_the_toll_counts_deaths_and_a_former_estimate_does_not() -> None:
    c = _with_numbers(claim("director-general", "The death toll from the attacks is at least 253, our first "
                                                "estimates were 290"), "say",
                      ("at least 253", 253, None, "at_least"), ("290", 290, 290, "exact"))
    c = dataclasses.replace(c, quantities=tuple(dataclasses.replace(q, counted=None) for q in c.quantities))
    assert [(n.cls, n.low) for n in frame_of(c).numbers] == [("deaths", 253)]
    plain = _with_numbers(claim("ministry", "The budget was 290 million"), "say", ("290", 290, 290, "exact"))
    plain = dataclasses.replace(plain, quantities=tuple(dataclasses.replace(q, counted=None)
                                                        for q in plain.quantities))
    assert frame_of(plain).numbers == ()


def test_a_country_that_describes_someone_is_not_accused() -> None:
    described = claim("Saudi officials", "the U.S.-based dissident was killed inside the building")
    blamed = claim("Turkish officials", "U.S. forces killed him inside the building")
    assert frame_of(described).accused == frozenset()
    assert frame_of(blamed).accused == {"us"}


def test_a_person_speaks_for_the_side_their_title_names() -> None:
    """"Peskov said" after "Kremlin spokesman Dmitry Peskov": the words that introduced the person give the party;
    institutions known by their own names (State Department, FSB) speak for their countries."""
    bare = claim("Dmitry Peskov", "the blast was sabotage by Ukraine", stype="person")
    titled = dataclasses.replace(bare, speaker_text="Kremlin spokesman Dmitry Peskov")
    assert frame_of(bare).party == frozenset()
    assert frame_of(titled).party == {"russia"} and frame_of(titled).accused == {"ukraine"}
    assert frame_of(claim("State Department", "Russia bears responsibility")).party == {"us"}
    assert frame_of(claim("FSB", "the vessels entered Russian waters illegally")).party == {"russia"}


def test_finding_no_trace_denies_the_account() -> None:
    """"Experts inspected the site and found no trace of chemical weapons" answers "a chemical attack" with a no."""
    assert frame_of(claim("Sergey Lavrov", "experts inspected the site and found no trace of chemical weapons",
                          stype="person")).stance == "denies"


def test_middle_initials_do_not_make_a_second_speaker() -> None:
    def key(name: str, stype: str = "person") -> str:
        return speaker_key(claim(name, "x", stype=stype))

    assert key("W. Mark Felt") == key("Mark Felt") == "mark felt"
    assert key("Dirk A. Kempthorne") == key("Dirk Kempthorne")
    assert key("J. Smith") == "j. smith"  # an initial and a surname stay as they are
    assert key("U.S. Army", "organisation") == "u.s. army"


def test_a_non_confirmation_blames_nobody_it_names_and_deaths_are_deaths_in_any_word() -> None:
    """"No knowledge of Russian fighters killed" names Russia as the subject of the account, not as the one to
    blame; "no confirmations of any deaths of Russian nationals" is about "Russian fighters were killed"."""
    mattis = frame_of(claim("James Mattis", "no knowledge of Russian fighters killed in the strike",
                            pol="no_knowledge", stype="person"))
    moscow = frame_of(claim("Russian government", "no confirmations of any deaths of Russian nationals",
                            pol="no_knowledge"))
    reporters = frame_of(claim("Kremlin-linked reporters", "the Russian fighters were killed in the strike"))
    assert mattis.accused == frozenset()
    assert "death" in moscow.content & reporters.content
