"""Claim frames: the normalised view of a claim that slotting and conflict rules work on.

A frame is derived data (recomputed from the claim, never stored in state): action class, actor and place terms,
times, and every quantity as an interval in a canonical unit with the class of thing it counts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from newsrift import lexicons
from newsrift.model import Claim, Quantity
from newsrift.stages.extract.claims import TALLY_VERBS
from newsrift.stages.extract.quantities import VAGUE

__all__ = [
    "Frame",
    "NumFact",
    "action_class",
    "answers",
    "counted_class",
    "frame_of",
    "interval_of",
    "normalise_unit",
    "parties",
    "speaker_key",
    "terms",
]

# Verb lemmas that name the same act. Classes are coarse on purpose: "blew up" and "destroyed" a dam are one act
# for the question "who did it"; finer distinctions come from actors and places.
_ACTION_INDEX = lexicons.actions().index  # ``newsrift/lexicons/actions.toml``, shared with the extractor

# What a number counts. Deaths, injuries and casualties (killed or wounded) are kept apart on purpose: "30 killed"
# and "over 100 casualties" are both true in most strikes.
_DEATHS = {
    "killed",
    "kill",
    "dead",
    "death",
    "deaths",
    "death toll",
    "toll",
    "fatality",
    "fatalities",
    "died",
    "die",
    "lives",
    "life",
    "bodies",
    "body",
}
_INJURED = {"wounded", "injured", "injury", "injuries", "hurt", "wound", "injure"}
_CASUALTIES = {
    "casualty",
    "casualties",
    "killed or wounded",
    "killed and wounded",
    "dead and injured",
    "dead or injured",
    "killed or injured",
    "killed and injured",
    "dead and wounded",
    "dead or wounded",
}
# Counted nouns that say who, not what happened to them: the action tells the class ("five people were killed").
_PERSONS = {
    "people",
    "person",
    "persons",
    "civilian",
    "civilians",
    "citizen",
    "citizens",
    "national",
    "nationals",
    "mercenary",
    "mercenaries",
    "fighter",
    "fighters",
    "soldier",
    "soldiers",
    "troop",
    "troops",
    "serviceman",
    "servicemen",
    "protester",
    "protesters",
    "demonstrator",
    "demonstrators",
    "marcher",
    "marchers",
    "migrant",
    "migrants",
    "refugee",
    "refugees",
    "staff",
    "worker",
    "workers",
    "employee",
    "employees",
    "child",
    "children",
    "resident",
    "residents",
    "suspect",
    "suspects",
    "attacker",
    "attackers",
    "militant",
    "militants",
    "passenger",
    "passengers",
    "member",
    "members",
    "man",
    "men",
    "woman",
    "women",
}
# Tallies grow as a story develops; a higher figure from a later day is an update, not a contradiction.
TALLY_CLASSES = frozenset({"deaths", "injured", "casualties"})

_UNITS = lexicons.units().scale  # ``newsrift/lexicons/units.toml``: spelling or name -> (dimension, factor)

# Country and group names that outlets write in several ways (``newsrift/lexicons/parties.toml``); the extractor
# normalises speakers, but actor and place strings come as written.
_ALIASES = lexicons.parties().words
_MULTIWORD = lexicons.parties().phrases
_DEMONYMS = lexicons.parties().names

_STOP = {
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "at",
    "to",
    "and",
    "or",
    "its",
    "his",
    "her",
    "their",
    "by",
    "for",
    "with",
    "from",
    "some",
    "any",
    "that",
    "this",
    "these",
    "those",
    "who",
    "which",
    "as",
    "near",
    "into",
    "pro",
    "led",
    "backed",
    "based",
    "linked",
    "new",
    "first",
    "second",
    "local",
}
# Role and weapon nouns shared by opposite sides ("Russian forces" / "Ukrainian forces", "a Russian missile" /
# "a Ukrainian missile"); they must not make two different actors look the same.
_GENERIC = {
    "force",
    "forces",
    "fighter",
    "fighters",
    "troop",
    "troops",
    "people",
    "group",
    "groups",
    "official",
    "officials",
    "state",
    "military",
    "aircraft",
    "jet",
    "jets",
    "warplane",
    "warplanes",
    "missile",
    "missiles",
    "rocket",
    "rockets",
    "shell",
    "shells",
    "shelling",
    "strike",
    "strikes",
    "airstrike",
    "airstrikes",
    "drone",
    "drones",
    "army",
    "armed",
    "unit",
    "units",
    "soldier",
    "soldiers",
    "member",
    "members",
    "men",
    "man",
    "government",
    "authorities",
    "authority",
    "coalition",
    "allied",
    "allies",
}

_TOKEN = re.compile(r"[a-z0-9\u00c0-\u024f.$€£%]+")
_NUMBER = re.compile(r"\d[\d,]*(?:\.(\d+))?")
ABOUT_TOLERANCE = 0.2  # "about 100" covers 80..120: wide enough for rounding, narrow enough that 5 vs 100 conflicts


def _singular(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def terms(texts: Iterable[str]) -> frozenset[str]:
    """Content terms of names, with country aliases folded ("Moscow" and "Russian" both give "russia")."""
    out: set[str] = set()
    generic: set[str] = set()
    for text in texts:
        s = text.lower()
        for phrase, canon in _MULTIWORD:
            s = s.replace(phrase, f" {canon} ")
        for raw in _TOKEN.findall(s.replace("-", " ")):
            tok = raw.strip(".")
            if not tok or tok in _STOP:
                continue
            tok = _ALIASES.get(tok, tok)
            if tok in _GENERIC:
                generic.add(_singular(tok))
                continue
            out.add(_singular(tok) if tok not in _DEMONYMS else tok)
    # "government forces" has only generic words; then the generic words are all there is to tell it apart.
    if not out and generic:
        return frozenset(generic)
    return frozenset(out)


def action_class(lemma: str | None) -> str | None:
    if not lemma:
        return None
    key = " ".join(lemma.lower().replace("_", " ").split())
    if key in _ACTION_INDEX:
        return _ACTION_INDEX[key]
    head = key.split(" ")[0]
    return _ACTION_INDEX.get(head, key)


def counted_class(counted: str | None, action: str | None) -> str | None:
    """The class of thing a number counts; person nouns take their class from the action."""
    if not counted:
        return None
    c = " ".join(counted.lower().replace("-", " ").split())
    if c in _CASUALTIES or (("killed" in c or "dead" in c) and ("wounded" in c or "injured" in c)):
        return "casualties"
    if c in _DEATHS or c.endswith("death toll"):
        return "deaths"
    if c in _INJURED:
        return "injured"
    last = c.split(" ")[-1]
    if c in _PERSONS or last in _PERSONS:
        act = action_class(action)
        if act == "kill":
            return "deaths"
        if act == "injure":
            return "injured"
        return f"persons/{act or '-'}"
    return _singular(last) if " " not in c else " ".join(_singular(w) for w in c.split(" "))


def normalise_unit(unit: str | None) -> tuple[str, float]:
    """Unit to (dimension, factor to the canonical unit): 75 basis points -> 0.75 percentage points."""
    if not unit:
        return ("", 1.0)
    u = " ".join(unit.lower().replace("_", " ").split())
    if u in _UNITS:
        return _UNITS[u]
    return (u, 1.0)


def _rounding(q: Quantity, value: float) -> float:
    """Half a unit in the last written decimal: "$2.1 billion" stands for anything from 2.05 to 2.15 billion."""
    m = _NUMBER.search(q.text)
    if not m or not m.group(1):
        return 0.0
    written = float(m.group(0).replace(",", ""))
    if written == 0:
        return 0.0
    scale = value / written
    return 0.5 * 10 ** (-len(m.group(1))) * abs(scale)


def interval_of(q: Quantity, factor: float = 1.0) -> tuple[float, float] | None:
    """The closed interval a quantity allows, in canonical units; None when it says nothing usable."""
    lo, hi, approx = q.low, q.high, q.approx
    inf = math.inf
    if approx == "vague":
        if lo is None and hi is None:
            words = q.text.lower()
            for w, (a, b) in sorted(VAGUE.items(), key=lambda kv: -len(kv[0])):  # the extractor's table
                if w in words:
                    lo, hi = a, b
                    break
            else:
                return None
        interval = (lo if lo is not None else 0.0, hi if hi is not None else inf)
    elif approx in ("over", "at_least"):
        base = lo if lo is not None else hi
        if base is None:
            return None
        interval = (base, inf)
    elif approx in ("under", "at_most"):
        base = hi if hi is not None else lo
        if base is None:
            return None
        interval = (-inf if base < 0 else 0.0, base)
    elif approx == "range" or (lo is not None and hi is not None and hi != lo):
        if lo is None or hi is None:
            return None
        interval = (min(lo, hi), max(lo, hi))
    elif approx == "about":
        base = lo if lo is not None else hi
        if base is None:
            return None
        tol = max(abs(base) * ABOUT_TOLERANCE, 1.0 if float(base).is_integer() and abs(base) >= 5 else 0.0)
        interval = (base - tol, base + tol)
    else:
        base = lo if lo is not None else hi
        if base is None:
            return None
        tol = _rounding(q, base)
        interval = (base - tol, base + tol)
    return (interval[0] * factor, interval[1] * factor)


def _scope(q: Quantity) -> str:
    """Whose number it is when the quantity says so ("five Russian citizens"); "*" when it does not."""
    found = sorted(terms([q.text]) & _DEMONYMS)
    return "+".join(found) if found else "*"


_ARMED = {"troop", "troops", "soldier", "soldiers", "serviceman", "servicemen", "fighter", "fighters", "militant",
          "militants", "attacker", "attackers", "mercenary", "mercenaries", "policeman", "policemen"}


# Parts of a toll counted on their own: "40 foreigners had died" is part of "253 people", not another answer.
_SUBGROUPS = {"foreigner": "foreigners", "foreigners": "foreigners", "tourist": "foreigners", "tourists": "foreigners",
              "child": "children", "children": "children", "kid": "children", "kids": "children",
              "minor": "children", "minors": "children", "baby": "children", "babies": "children",
              "infant": "children", "infants": "children", "student": "students", "students": "students",
              "woman": "women", "women": "women"}


def _group(cls: str, q: Quantity) -> str:
    """Armed men, and parts of a toll (foreigners, children, women, students), are counted apart from everyone:
    "killed six troops" does not answer "150 people died", and "40 foreigners" is part of "253 people"."""
    words = set(re.findall(r"[a-z]+", f"{q.text} {q.counted or ''}".lower()))
    if words & _ARMED:
        return f"{cls}/armed"
    part = next((_SUBGROUPS[w] for w in sorted(words) if w in _SUBGROUPS), None)
    return f"{cls}/{part}" if part else cls


@dataclass(frozen=True)
class NumFact:
    """One quantity of a claim, ready to compare: slot key parts and the interval it allows."""

    cls: str
    dim: str
    scope: str
    low: float
    high: float
    text: str

    @property
    def key(self) -> str:
        return f"n|{self.cls}|{self.dim or '-'}|{self.scope}"


@dataclass(frozen=True)
class Frame:
    claim_id: str
    speaker: str
    polarity: str
    action: str | None
    agent: frozenset[str]
    agent_parties: frozenset[str]
    actor_terms: frozenset[str]
    place_terms: frozenset[str]
    topic: frozenset[str]
    times: tuple[str, ...]
    hedged: bool
    anonymous: bool
    numbers: tuple[NumFact, ...]
    published: datetime | None
    slots: frozenset[str] = frozenset()  # every slot family the frame can be in: a cheap pre-filter for pairs
    party: frozenset[str] = frozenset()  # the side the speaker speaks for ("Kremlin spokesman" -> russia)
    stance: str = "asserts"  # asserts | denies | accuses: what the claim does to the event's contested question
    accused: frozenset[str] = frozenset()  # parties the claim holds responsible (never the speaker's own)
    content: frozenset[str] = frozenset()  # content words of the claim, for "is it about the same thing"
    outlet_voice: bool = False  # the outlet states it in its own voice: no source to set against another
    answers: frozenset[tuple[str, str]] = frozenset()  # (question label, pole) it answers (``contrasts.toml``)


# Words that deny an account without a denial verb: "baseless allegations", "a fabrication", "Iran has no
# connection", "the reports were a blatant attempt", "staged".
_DENIAL = re.compile(
    r"\b(baseless|unfounded|groundless|fabricat\w*|staged|lies|false|fake|hoax|absurd|nonsense|untrue|not true|"
    r"not correct|incorrect|no connection|nothing to do with|no involvement|no evidence|no trace|did nothing wrong|"
    r"categorically|propaganda|slander\w*|smear|disinformation|misinformation|blatant attempt|rejects?|denie?s?|"
    r"dismiss\w*|refut\w*)\b",
    re.IGNORECASE,
)
# Words that hold someone responsible for the contested act.
_BLAME = re.compile(
    r"\b(responsib\w*|blam\w*|accus\w*|behind|sabotage|aggression|aggressor|provocation|provocative|"
    r"blew up|blow up|blown up|mined|carried out|orchestrat\w*|perpetrat\w*|attack\w*|shell\w*|strikes?|"
    r"fired|opened fire|illegal\w*|violat\w*|terror\w*|war crime|crime|occupiers?|regime|killed|murder\w*|"
    r"ordered|orders)\b",
    re.IGNORECASE,
)
_CONTENT_STOP = _STOP | {
    "said", "say", "says", "was", "were", "is", "are", "be", "been", "has", "have", "had", "it", "they", "he", "she",
    "we", "not", "no", "but", "also", "would", "will", "could", "can", "did", "does", "do", "than", "there", "what",
    "all", "after", "before", "about", "over", "more", "most", "other", "one", "two", "three",
}


def local_places(f: Frame) -> frozenset[str]:
    """The places of a frame below the level of a country: "the U.S. territory" and "the Island" are not two places
    for a toll of one event, but "Aleppo" and "Idlib" are."""
    return f.place_terms - _DEMONYMS


# "the U.S.-based dissident", "a British-born engineer": a country that describes someone, not a party to blame.
_DESCRIPTOR = re.compile(r"\b[\w.]+-(?:based|born|educated|registered|flagged|bred|raised|owned)\b", re.IGNORECASE)


def parties(texts: Iterable[str]) -> frozenset[str]:
    """The countries or groups a phrase speaks for or names ("Kremlin spokesman" -> russia)."""
    return terms(texts) & _DEMONYMS


# Words for one death, whatever the part of speech: "no deaths of Russian nationals" is about "Russians killed".
_DEATH_WORDS = frozenset({"killed", "kill", "killing", "dead", "death", "died", "die", "dying"})


def _content_words(text: str) -> frozenset[str]:
    words = (_singular(w) for w in re.findall(r"[a-z]{3,}", text.lower()))
    return frozenset("death" if w in _DEATH_WORDS else w for w in words
                     if w not in _CONTENT_STOP and w not in _GENERIC)


_INITIAL = re.compile(r"^[a-z]\.$")


def speaker_key(claim: Claim) -> str:
    """One key per source: case, spacing and a person's middle initials ("W. Mark Felt", "Dirk A. Kempthorne") do
    not make a new speaker."""
    words = claim.speaker.casefold().split()
    if claim.speaker_type == "person":
        named = [w for w in words if not _INITIAL.match(w)]
        words = named if len(named) >= 2 else words
    return " ".join(words)


_TOLL = re.compile(r"\b(?:death )?toll\b", re.IGNORECASE)


def _around(claim: Claim, q: Quantity) -> tuple[str, str] | None:
    """The claim's words before and after one of its quantities, or None when the offsets do not fit its quote."""
    quote, at = claim.quote or "", q.start - claim.start
    if not quote or not 0 <= at <= len(quote):
        return None
    return quote[:at], quote[at + len(q.text) :]


def _tally_numbers(claim: Claim) -> list[Quantity] | None:
    """The count a claim like "raised the death toll from 64 to 2,975" or "revised the toll down to 253, from the
    previous figure of 359" states, counted as deaths: the new value only ("from" a figure is the one replaced;
    a previous figure is set aside by ``_not_a_count``). None when the claim does not change or set a toll."""
    if claim.cue not in TALLY_VERBS or not _TOLL.search(claim.text):
        return None
    out = []
    for q in claim.quantities:
        around = _around(claim, q)
        if around is not None and re.search(r"\bfrom\s*$", around[0], re.IGNORECASE):
            if q.approx != "range" or q.high is None:
                continue
            new = q.text.rsplit(" to ", 1)[-1]  # "from 64 to 2,975": the toll is now 2,975
            q = Quantity(new, q.high, q.high, "exact", "deaths", q.unit, q.end - len(new), q.end)
        out.append(Quantity(q.text, q.low, q.high, q.approx, "deaths", q.unit, q.start, q.end))
    return out


# "Robyn Mendes, 48, and ..." or "Nichols, 37, told": an age in apposition to a name; "No one was hurt": none.
_AGE_BEFORE = re.compile(r"[A-Za-z.'’],\s*$")
_AGE_AFTER = re.compile(r"^\s*(?:,|\)|-year-old|years? old)")
_NO_BEFORE = re.compile(r"\b(?:no|not a single|not|instead of|rather than)\s*$", re.IGNORECASE)
# "our first estimates were 290", "the earlier figure of 359": a figure the speaker has left behind.
_FORMER = re.compile(r"\b(?:first|earlier|previous|initial|original|old)\s+(?:estimates?|figures?|tolls?|counts?|"
                     r"tally|numbers?)\s*(?:were|was|of|at|had been|stood at)?\s*$", re.IGNORECASE)
# "the death toll was 290", "the toll stands at 12": a number the parse gives no noun counts the toll's dead.
_TOLL_IS = re.compile(r"\b(?:death )?toll\b[^.;]{0,60}$", re.IGNORECASE)


def _not_a_count(claim: Claim, q: Quantity) -> bool:
    """The quantity is an age, the "one" of "no one", or a figure the claim sets aside ("290 and not 359",
    "from the previous figure of 359"): nothing the speaker counts."""
    around = _around(claim, q)
    if around is None:
        return False
    before, after = around
    return bool(_NO_BEFORE.search(before) or _FORMER.search(before)
                or (_AGE_BEFORE.search(before) and _AGE_AFTER.match(after)))


def _toll_figure(claim: Claim, q: Quantity) -> bool:
    """A bare number stated as the toll: "the death toll from the attacks is at least 253"."""
    around = _around(claim, q)
    return q.counted is None and not q.unit and around is not None and bool(_TOLL_IS.search(around[0]))


def _pole_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alts = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])", re.IGNORECASE)


_POLES = [(c.label, tuple((name, _pole_pattern(words)) for name, words in c.poles)) for c in lexicons.contrasts()]
_NEGATED = re.compile(r"\b(?:not|no|never|n't|impossible|nor|neither|rather than|instead of)\b[^.;,]{0,25}$",
                      re.IGNORECASE)


def answers(text: str) -> frozenset[tuple[str, str]]:
    """The contrast questions a claim answers, each with its pole: "a civilian airship used for research" ->
    (civilian or military purpose, civilian). A claim giving both poles, or one only negated ("not an accident"),
    answers nothing."""
    out = set()
    for label, poles in _POLES:
        given = {name for name, pat in poles
                 if any(not _NEGATED.search(text[: m.start()]) for m in pat.finditer(text))}
        if len(given) == 1:
            out.add((label, given.pop()))
    return frozenset(out)


# "accused Russia of", "blames the Kyiv regime": a blame verb with the party it blames right after it.
_BLAMES = re.compile(r"\b(?:accus\w*|blam\w*)\s+((?:\S+\s+){0,2}\S+)", re.IGNORECASE)


def _accused(text: str, named: frozenset[str], stance: str) -> frozenset[str]:
    """Whom a claim holds responsible. A denial or a non-confirmation blames only where it says so ("did nothing
    wrong and accused Russia of aggression"); a party it names is otherwise the accuser ("rejected claims of the
    United States blaming it") or the subject of the account ("no knowledge of Russian fighters killed")."""
    if not named or not _BLAME.search(text):
        return frozenset()
    if stance in ("asserts", "accuses"):
        return named
    return frozenset(p for m in _BLAMES.finditer(text) for p in parties([m.group(1)])) & named


def frame_of(claim: Claim, speaker: str | None = None) -> Frame:
    numbers: list[NumFact] = []
    tally = _tally_numbers(claim)
    for q in claim.quantities if tally is None else tally:
        if _not_a_count(claim, q):
            continue
        cls = counted_class(q.counted, claim.action) or ("deaths" if _toll_figure(claim, q) else None)
        dim, factor = normalise_unit(q.unit)
        if cls is None and not dim:
            continue
        if q.approx == "vague" or not (cls in TALLY_CLASSES or (cls or "").startswith("persons/")):
            # Numbers people dispute in news are counts of people (dead, wounded, detained, on board); scores,
            # rates, distances and durations differ between reports for reasons that are not disagreement.
            continue
        iv = interval_of(q, factor)
        if iv is None:
            continue
        numbers.append(NumFact(_group(cls or "-", q), dim, "*", iv[0], iv[1], q.text))
    # The agent is only known when the extractor gave agent and patient (actors[0] first); a lone actor may be
    # either, and guessing would split one proposition into two.
    agent = terms([claim.actors[0]]) if len(claim.actors) >= 2 else frozenset()
    actor_terms = terms(claim.actors)
    place_terms = terms(claim.places)
    party = parties([claim.speaker, claim.speaker_text or ""]) if claim.speaker_type != "outlet" else frozenset()
    named = parties([_DESCRIPTOR.sub(" ", claim.text)]) - party
    if claim.polarity != "asserts" or _DENIAL.search(claim.text):
        stance = "denies" if claim.polarity != "no_knowledge" else "no_knowledge"
    elif named and _BLAME.search(claim.text):
        stance = "accuses"
    else:
        stance = "asserts"
    given = answers(claim.text) if stance != "denies" else frozenset()  # a denial's pole is what it denies
    return Frame(
        claim_id=claim.claim_id,
        speaker=speaker if speaker is not None else speaker_key(claim),
        polarity=claim.polarity,
        action=action_class(claim.action),
        agent=agent,
        agent_parties=agent & _DEMONYMS,
        actor_terms=actor_terms,
        place_terms=place_terms,
        topic=actor_terms | place_terms,
        times=tuple(t for t in claim.times if t),
        hedged=bool(claim.hedges),
        anonymous=claim.speaker_type == "anonymous",
        numbers=tuple(numbers),
        published=claim.published,
        slots=frozenset([n.key for n in numbers] + ([f"a|{act}"] if (act := action_class(claim.action)) else [])
                        + (["stance"] if party else [])
                        + [f"c|{label}" for label, _ in given]),
        party=party,
        stance=stance,
        accused=_accused(claim.text, named, stance),
        content=_content_words(f"{claim.text} {claim.refers_to or ''}"),
        outlet_voice=claim.speaker_type == "outlet",
        answers=given,
    )
