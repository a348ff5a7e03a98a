"""Attributed statements from a parsed article: speaker, cue, content, polarity, hedges, numbers, actors, action,
places and times, with exact character spans (rules over the spaCy dependency parse; no model beyond spaCy's)."""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_left
from datetime import date, datetime, timedelta

from spacy.tokens import Doc, Span, Token

from newsrift.lexicons import actions
from newsrift.model import Article, Claim, Quantity, stable_id
from newsrift.stages.extract.components import doc_is_english, doc_quantities
from newsrift.stages.extract.quantities import MONTHS, WEEKDAYS, word_number
from newsrift.stages.extract.spans import ents_in
from newsrift.stages.extract.speakers import Speaker, SpeakerResolver, alias_table, place_table

__all__ = ["CUES", "claims_from_doc", "normalise_times"]

# Reporting verbs (lemmas). Denial cues flip polarity; the rest assert unless the content says otherwise.
CUES = {
    "say",
    "tell",
    "claim",
    "confirm",
    "report",
    "acknowledge",
    "state",
    "announce",
    "insist",
    "admit",
    "allege",
    "warn",
    "add",
    "note",
    "estimate",
    "count",
    "assert",
    "maintain",
    "argue",
    "explain",
    "write",
    "declare",
    "deny",
    "reject",
    "dismiss",
    "refute",
    "disput",
    "dispute",
    "contradict",
    "accuse",
    "blame",
    "suggest",
    "reveal",
    "disclose",
    "indicate",
    "concede",
    "predict",
    "tweet",
    "testify",
}
DENY_CUES = {"deny", "reject", "dismiss", "refute", "dispute", "contradict"}
# Verbs that deny only when what they take is an allegation: "denounced these baseless allegations", "called the
# reports a fabrication" (but "denounced the attack" condemns it, and "called for calm" denies nothing).
DENOUNCE_CUES = {"denounce", "condemn", "call", "brand", "label", "describe", "slam", "decry", "ridicule"}
ALLEGATIONS = {"allegation", "accusation", "claim", "report", "charge", "rumour", "rumor", "suggestion", "assertion"}
_NO_KNOWLEDGE = re.compile(
    r"\b(no knowledge|not aware|unaware|could not confirm|cannot confirm|can't confirm|couldn't confirm|"
    r"unable to confirm|no confirmations?|not been confirmed|has not confirmed|have not confirmed|had not confirmed|"
    r"did not confirm|does not confirm|no information|no evidence|not in a position to confirm|no indication|"
    r"not given any official statement|no official (?:statement|confirmation)|no word)\b",
    re.IGNORECASE,
)
_HEDGES = [
    "may",
    "might",
    "could",
    "reportedly",
    "allegedly",
    "alleged",
    "preliminary",
    "unconfirmed",
    "possibly",
    "apparently",
    "believed",
    "suspected",
    "likely",
    "probably",
    "initial",
    "estimated",
]
_HEDGE_SET = set(_HEDGES) | {"unverified", "purportedly", "supposedly", "tentative", "provisional", "suspect"}
_MODALS = {"may", "might", "could"}
_QUOTES = {'"', "\u201c", "\u201d", "''", "``"}
# Negated verbs that mean "we were not told", i.e. a non-confirmation of what follows.
_NOT_INFORMED = {
    "give",
    "provide",
    "issue",
    "inform",
    "notify",
    "tell",
    "report",
    "publish",
    "release",
    "announce",
    "confirm",
    "receive",
}
# Act verbs and nouns come from ``newsrift/lexicons/actions.toml``, shared with the dispute stage.
_ACTION_NOUNS = actions().nouns
_ACTION_VERBS = actions().verbs
_WEEKDAYS = list(WEEKDAYS)
_MONTHS = list(MONTHS)


def _with_year(d: date, year: int) -> date | None:
    try:
        return d.replace(year=year)
    except ValueError:  # 29 February
        return None


def normalise_times(texts: list[str], published: datetime | None) -> list[str]:
    """Relative and partial dates to ISO strings against the publication date ("last week" -> 2018-W06)."""
    if published is None:
        return []
    pub = published.date()
    out: list[str] = []
    for raw in texts:
        try:
            found = _normalise_time(raw, pub)
        except (OverflowError, ValueError):  # a date past year 1 or 9999 (a published time at the calendar's edge)
            found = None
        if found and found not in out:
            out.append(found)
    return out


def _normalise_time(raw: str, pub: date) -> str | None:
    """One time expression as an ISO string (or week, month, year), or None."""
    t = raw.lower().strip()
    found: str | None = None
    if "yesterday" in t:
        found = (pub - timedelta(days=1)).isoformat()
    elif "today" in t:
        found = pub.isoformat()
    elif "last week" in t:
        y, w, _ = (pub - timedelta(days=7)).isocalendar()
        found = f"{y}-W{w:02d}"
    elif "this week" in t:
        y, w, _ = pub.isocalendar()
        found = f"{y}-W{w:02d}"
    elif "next week" in t:
        y, w, _ = (pub + timedelta(days=7)).isocalendar()
        found = f"{y}-W{w:02d}"
    elif "tomorrow" in t:
        found = (pub + timedelta(days=1)).isoformat()
    elif "last month" in t:
        found = (pub.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    elif "this month" in t:
        found = pub.strftime("%Y-%m")
    elif "last year" in t:
        found = str(pub.year - 1)
    elif "this year" in t:
        found = str(pub.year)
    elif (ago := re.fullmatch(r"(\w+) days? ago", t)) and (days := word_number(ago.group(1))) is not None:
        # "99999999 days ago" is before year 1: no date, not an OverflowError that costs the article
        if days <= (pub - date.min).days:
            found = (pub - timedelta(days=int(days))).isoformat()
    else:
        for i, wd in enumerate(_WEEKDAYS):
            if wd in t:
                if "next" in t:
                    ahead = (i - pub.weekday()) % 7 or 7
                    found = (pub + timedelta(days=ahead)).isoformat()
                else:
                    # A bare weekday in news is the latest one ("on Tuesday" in a Wednesday story);
                    # "last Tuesday" on a Tuesday is a week back.
                    back = (pub.weekday() - i) % 7 or (7 if "last" in t else 0)
                    found = (pub - timedelta(days=back)).isoformat()
                break
        else:
            m = re.search(r"(" + "|".join(_MONTHS) + r")\s+(\d{1,2})(?:,?\s+(\d{4}))?", t)
            if m:
                year = int(m.group(3)) if m.group(3) else pub.year
                try:
                    d = date(year, _MONTHS.index(m.group(1)) + 1, int(m.group(2)))
                except ValueError:
                    d = None
                if d is not None and not m.group(3):
                    # No year written: the nearest one ("December 30" in a January story is last year's).
                    d = (
                        min(
                            (_with_year(d, y) for y in (pub.year - 1, pub.year, pub.year + 1)),
                            key=lambda x: abs((x - pub).days) if x else 10**6,
                        )
                        or d
                    )
                if d is not None:
                    found = d.isoformat()
            elif re.fullmatch(r"(in )?(1[89]|20)\d\d", t):
                found = t[-4:]
    return found


_OPEN = {"\u201c", "``"}
_CLOSE = {"\u201d", "''"}


def quotations(doc: Doc) -> list[tuple[int, int]]:
    """Direct quotations as token ranges ``(open, close)`` of their marks: curly quotes pair up, straight ones
    alternate, and a quotation left open ends with its paragraph (the convention for quotes that run on)."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for tok in doc:
        para_end = "\n" in tok.whitespace_ or (tok.is_space and "\n" in tok.text)
        text = tok.text
        if start is None:
            if text in _OPEN or text == '"':
                start = tok.i
        elif text in _CLOSE or text == '"' or (text in _OPEN and tok.i > start + 1):
            out.append((start, tok.i))
            start = tok.i if text in _OPEN else None
        if para_end and start is not None:
            # The break is in the token's trailing whitespace, or a space token of its own ("\n\n").
            end = tok.i if tok.is_space else tok.i + 1
            if end > start + 1:
                out.append((start, end))
            start = None
    return out


def _own_subject(verb: Token) -> Token | None:
    """The verb's own subject. The small model sometimes gives a titled name two: "Saudi Foreign Minister Adel
    al-Jubeir told" parses as nsubj "Minister" and nsubj "Jubeir"; the one that names a person is the speaker."""
    subs = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]
    if len(subs) > 1:
        named = [c for c in subs if c.ent_type_ == "PERSON"]
        return named[-1] if named else subs[-1]
    return subs[0] if subs else None


def _subject(verb: Token) -> Token | None:
    own = _own_subject(verb)
    if own is not None:
        return own
    # Coordinated verbs share the first verb's subject: "X denied the report and said ...".
    if verb.dep_ == "conj" and verb.head.pos_ in ("VERB", "AUX"):
        return _subject(verb.head)
    return None


# Where a statement was made, when the parser attaches its content there.
_MEDIUM = {
    "statement",
    "interview",
    "briefing",
    "communique",
    "release",
    "post",
    "tweet",
    "letter",
    "conference",
    "speech",
    "message",
    "email",
    "note",
}


def _named_subject(verb: Token) -> bool:
    """The verb has a subject of its own that is not a pronoun (a pronoun speaker is resolved by the outer cue
    instead). A subject shared through coordination does not count: in "Kiev said its vessels did nothing wrong and
    has accused Russia", the parse hangs "accused" on "did", and "vessels" is nobody's speaker."""
    subj = _own_subject(verb)
    # Passive "victims had been counted twice" reports nothing: the verb's subject is what is talked about.
    return subj is not None and subj.dep_ == "nsubj" and subj.lower_ not in _PRONOUNS


def _content(verb: Token, speaker_tok: Token | None) -> list[Token] | None:
    """Tokens of what was said: the clausal complement, else the object, else the sentence minus the speaker."""
    for dep in ("ccomp", "xcomp"):
        comps = [c for c in verb.children if c.dep_ == dep]
        if comps:
            return list(comps[0].subtree)
    for prep in (c for c in verb.children if c.dep_ == "prep"):
        # "said in a statement that ...": the small model hangs the that-clause on "statement".
        for pobj in (g for g in prep.children if g.dep_ == "pobj" and g.lemma_.lower() in _MEDIUM):
            clauses = [
                x
                for x in pobj.children
                if x.dep_ in ("acl", "ccomp", "relcl")
                and x.i > pobj.i
                and any(m.dep_ == "mark" and m.lower_ == "that" for m in x.children)
            ]
            if clauses:
                return list(clauses[0].subtree)
    if _tallies(verb):
        # "put the death toll at 49, while X said ...": the count and where it was put, not the rest of the sentence.
        keep = [verb]
        for c in verb.children:
            if c.i > verb.i and c.dep_ in ("dobj", "prep", "advmod", "npadvmod", "prt", "dative", "oprd"):
                keep.extend(c.subtree)
        return sorted(keep, key=lambda t: t.i)
    if verb.lemma_ in ("blame", "accuse"):
        # "X blamed Y for the bombing": the whole predicate is the claim (Y did it).
        exclude = set(speaker_tok.subtree) if speaker_tok is not None else set()
        return [t for t in verb.subtree if t not in exclude and t.i != verb.i] or None
    objs = [c for c in verb.children if c.dep_ in ("dobj", "attr", "oprd")]
    if objs and (verb.lemma_ in DENY_CUES | {"confirm", "report", "acknowledge", "claim", "dispute", "admit"}
                 or _denounces(verb)):
        return list(objs[0].subtree)
    # "X said" at the end of a sentence whose main clause is the content: the verb's head is the content.
    if verb.dep_ in ("parataxis", "advcl") and verb.head.pos_ in ("VERB", "AUX"):
        skip = {t.i for t in verb.subtree}
        return [t for t in verb.head.subtree if t.i not in skip]
    return None


def _trim(tokens: list[Token]) -> tuple[int, int] | None:
    """Token span without a leading complementiser or punctuation and trailing punctuation."""
    if not tokens:
        return None
    idx = sorted(t.i for t in tokens)
    doc = tokens[0].doc
    start, end = idx[0], idx[-1] + 1
    while start < end and (
        doc[start].lower_ in ("that", ",", "``", '"', "“", "'") or doc[start].is_punct or doc[start].is_space
    ):
        start += 1
    while end > start and ((doc[end - 1].is_punct and doc[end - 1].text not in ("%", ")")) or doc[end - 1].is_space):
        end -= 1
    if end - start < 2:
        return None
    return start, end


_GRAVE = ("kill", "die", "murder", "execute", "injure", "wound")


def _action(span: Span) -> Token | None:
    """The act a statement is about: a killing or wounding when one is named (the small parser often attaches
    them oddly), else the main verb when it names an act, else the first act-like verb or noun."""
    for lemma in _GRAVE:
        for t in span:
            if t.pos_ == "VERB" and t.lemma_.lower() == lemma:
                return t
    root = span.root
    if root.lemma_.lower() in _ACTION_VERBS:
        return root
    for t in span:
        if t.pos_ == "VERB" and t.lemma_.lower() in _ACTION_VERBS:
            return t
    for t in span:
        if t.pos_ == "NOUN" and t.lower_ in _ACTION_NOUNS:
            return t
    return None


def _action_lemma(t: Token | None, span: Span) -> str | None:
    if t is None:
        return span.root.lemma_.lower() if span.root.pos_ in ("VERB", "AUX") else None
    if t.pos_ == "NOUN":
        return _ACTION_NOUNS.get(t.lower_)
    return t.lemma_.lower()


def _np(tok: Token) -> str:
    """A compact noun phrase: modifiers before the noun, no relative clauses or prepositional tails."""
    left = [t for t in tok.lefts if t.dep_ in ("amod", "compound", "nmod", "poss", "nummod", "npadvmod")]
    start = min([tok.i, *(min(x.i for x in t.subtree) for t in left)])
    return tok.doc[start : tok.i + 1].text


def _actors(act: Token | None, floor: int = 0) -> tuple[str, ...]:
    if act is None or act.pos_ == "NOUN":
        if act is not None:
            pobj = [
                g for c in act.children if c.dep_ == "prep" and c.lower_ == "of" for g in c.children if g.dep_ == "pobj"
            ]
            return tuple(_np(p) for p in pobj)
        return ()
    agent: str | None = None
    patient: str | None = None
    for c in act.children:
        if c.dep_ == "nsubj":
            agent = _np(c)
        elif c.dep_ in ("nsubjpass", "dobj"):
            patient = _np(c)
        elif c.dep_ == "agent":
            objs = [g for g in c.children if g.dep_ == "pobj"]
            if objs:
                agent = _np(objs[0])
    if act.dep_ in ("relcl", "acl") and act.head.pos_ in ("NOUN", "PROPN"):
        # "fighters who were killed", "Russians killed in the fighting": the modified noun undergoes the act.
        if patient is None or patient.lower() in _REL_PRONOUNS:
            patient = _np(act.head)
        if agent is not None and agent.lower() in _REL_PRONOUNS:
            agent = _np(act.head)
            patient = patient if patient != agent else None
    if patient is not None and act.lemma_.lower() in _GRAVE and not _has_nationality(patient, act.sent):
        # Who died matters most for a slot: prefer the victims' phrase that names their nationality.
        better = _victims(act, floor)
        patient = better or patient
    if agent and patient:
        return (agent, patient)
    return tuple(x for x in (agent, patient) if x)


_REL_PRONOUNS = {"who", "which", "that", "whom"}
_PRONOUNS = {"he", "she", "they", "it", "we", "i"}


def _has_nationality(phrase: str, sent: Span) -> bool:
    return any(t.text in phrase for t in sent if t.ent_type_ in ("NORP", "GPE"))


# Nationality-marked nouns that are institutions, not people something happened to ("the Russian government").
_NOT_VICTIMS = {"government", "ministry", "administration", "state", "media", "embassy", "officials", "authorities"}


def _victims(act: Token, floor: int) -> str | None:
    """A person noun phrase with a nationality in the same clause ("some Russian nationals ... had been killed")."""
    for t in act.sent:
        if (
            t.pos_ == "NOUN"
            and t.i < act.i
            and act.i - t.i < 20
            and t.lower_ not in _NOT_VICTIMS
            and any(c.ent_type_ in ("NORP", "GPE") for c in t.lefts)
        ):
            return _np(t)
    return None


def _negated(tok: Token) -> bool:
    if any(c.dep_ == "neg" for c in tok.children):
        return True
    # "no Russians were killed": a "no" determiner on the subject or object.
    for c in tok.children:
        if c.dep_ in ("nsubj", "nsubjpass", "dobj") and any(g.lower_ == "no" and g.dep_ == "det" for g in c.children):
            return True
    return False


def _is_direct(content: Span, sent: Span) -> bool:
    """Quoted words: the content opens right after a quotation mark, or closes right before one."""
    doc = content.doc
    before = doc[max(sent.start, content.start - 2) : content.start]
    after = doc[content.end : min(sent.end, content.end + 2)]
    return any(t.text in _QUOTES for t in before) or any(t.text in _QUOTES for t in after)


def _hedges(span: Span) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for t in span:
        low = t.lower_
        if low not in _HEDGE_SET:
            continue
        if low in _MODALS and (t.pos_ not in ("AUX", "VERB") or any(n.dep_ == "neg" for n in t.head.children)):
            continue  # "Theresa May", and "could not confirm" is a non-confirmation, not a hedge
        if low == "likely" and t.dep_ == "neg":
            continue
        found[low] = None
    return tuple(found)


# "The governor raised the death toll to 2,975", "authorities revised the toll down to 253": whoever changes a
# count states it, even without a reporting verb.
TALLY_VERBS = {"raise", "revise", "put", "lower", "update", "increase", "reduce", "cut", "bring", "set", "lift",
               "adjust", "correct", "downgrade", "upgrade", "push"}
TALLIES = {"toll", "figure", "number", "count", "tally", "estimate"}


def _tallies(verb: Token) -> bool:
    """``verb`` states a count by changing or setting it: "put the death toll at 49"."""
    return verb.lemma_.lower() in TALLY_VERBS and any(
        c.dep_ == "dobj" and c.lemma_.lower() in TALLIES for c in verb.children
    )


def _denounces(verb: Token) -> bool:
    """``verb`` is a denial of an allegation it takes as object: "dismissed as lies the reports that ..."."""
    return verb.lemma_.lower() in DENOUNCE_CUES and any(
        c.dep_ in ("dobj", "nsubjpass") and c.lemma_.lower() in ALLEGATIONS for c in verb.children
    )


_WH = {"what", "who", "whom", "whether", "how", "why", "when", "where", "which", "if"}


def _polarity(cue: Token | None, content: Span, act: Token | None) -> str:
    text = content.text
    cue_neg = cue is not None and _negated(cue)
    if _NO_KNOWLEDGE.search(text) or (cue is not None and cue.lemma_ == "confirm" and cue_neg):
        return "no_knowledge"
    if cue is not None and cue.lemma_ == "deny" and re.search(r"\bknowledge\b|\baware\b", text, re.IGNORECASE):
        return "no_knowledge"
    root = content.root
    if root.lemma_.lower() in _NOT_INFORMED and _negated(root) and act is not None and act.i != root.i:
        return "no_knowledge"
    negated = act is not None and act.pos_ != "NOUN" and _negated(act)
    if cue is not None and (cue.lemma_ in DENY_CUES or _denounces(cue)):
        return "asserts" if negated or cue_neg else "denies"  # "did not deny that he fired" concedes it
    return "denies" if negated or (cue is not None and cue_neg and cue.lemma_ in ("say", "claim")) else "asserts"


class _Extractor:
    def __init__(self, article: Article, doc: Doc) -> None:
        self.article = article
        self.doc = doc
        self.resolver = SpeakerResolver(alias_table())
        self.claims: list[Claim] = []
        self.used: set[tuple[int, int]] = set()
        self.quantities = sorted(doc_quantities(doc), key=lambda q: q.start)
        self.q_starts = [q.start for q in self.quantities]
        # The speaker of the last attributed sentence and its last token (for sentences that continue it).
        self.voice: tuple[Speaker, int] | None = None
        self.quotes = quotations(doc)
        self.owners: dict[tuple[int, int], tuple[Speaker, Token] | None] = {}
        # The owner of the quotation just before, while no narration came between.
        self.quote_voice: tuple[Speaker, Token] | None = None

    def quantities_between(self, start: int, end: int) -> list[Quantity]:
        i = bisect_left(self.q_starts, start)
        out = []
        while i < len(self.quantities) and self.quantities[i].start < end:
            if self.quantities[i].end <= end:
                out.append(self.quantities[i])
            i += 1
        return out

    def claim(
        self,
        speaker: Speaker,
        cue: str,
        start_tok: int,
        end_tok: int,
        sent: Span,
        cue_tok: Token | None,
        carrier: str | None = None,
        statement: tuple[int, int] | None = None,
    ) -> None:
        """One claim: ``start_tok:end_tok`` is what was said (analysed for polarity, actors, action); the quote
        and its span are the whole ``statement`` (speaker, cue and content) so a reader sees who said it."""
        doc = self.doc
        span = doc[start_tok:end_tok]
        quote = doc[statement[0] : statement[1]] if statement else span
        start, end = quote.start_char, quote.end_char
        if (start, end) in self.used:
            return
        if cue_tok is not None and _negated(cue_tok) and span[0].lower_ in _WH:
            return  # "did not say what he was treated for", "would not reveal who": declined to say, claims nothing
        self.used.add((start, end))
        act = _action(span)
        table = alias_table()
        places = tuple(
            dict.fromkeys(
                place_table().canonical(e.text.removeprefix("the ")) for e in ents_in(span, ("GPE", "LOC", "FAC"))
            )
        )
        dates = [e.text for e in ents_in(sent, ("DATE",))]
        times = tuple(normalise_times(dates, self.article.published))
        self.claims.append(
            Claim(
                claim_id=stable_id(self.article.article_id, str(start), str(end)),
                article_id=self.article.article_id,
                outlet_id=self.article.outlet_id,
                speaker=speaker.name,
                speaker_type=speaker.type,
                speaker_text=speaker.text,
                carrier=carrier,
                cue=cue,
                text=span.text,
                start=start,
                end=end,
                polarity=_polarity(cue_tok, span, act),  # type: ignore[arg-type]
                direct=_is_direct(span, sent),
                hedges=_hedges(quote),
                quantities=tuple(self.quantities_between(start, end)),
                actors=tuple(table.canonical(a) for a in _actors(act, start_tok)),
                action=_action_lemma(act, span),
                places=places,
                times=times,
                published=self.article.published,
                quote=self.article.text[start:end],
            )
        )

    def _quote_of(self, sent: Span) -> tuple[int, int] | None:
        """The quotation holding most of this sentence's words, when it holds at least half of them."""
        words = [t.i for t in sent if not (t.is_punct or t.is_space)]
        if not words:
            return None
        for q in self.quotes:
            inside = sum(1 for i in words if q[0] < i < q[1])
            if inside * 2 >= len(words):
                return q
        return None

    def _owner(self, q: tuple[int, int]) -> tuple[Speaker, Token] | None:
        """Who a quotation belongs to: the reporting verb right after it ("...," Muzhenko said) or right before it
        (Zelensky said, "..."; he stated: "..."), outside the quotation marks."""
        if q in self.owners:
            return self.owners[q]
        doc = self.doc
        found: tuple[Speaker, Token] | None = None
        close_sent = doc[min(q[1], len(doc) - 1)].sent
        open_sent = doc[q[0]].sent
        after = [t for t in doc[q[1] : close_sent.end] if t.pos_ in ("VERB", "AUX") and t.lemma_.lower() in CUES]
        before = [t for t in doc[open_sent.start : q[0]] if t.pos_ in ("VERB", "AUX") and t.lemma_.lower() in CUES]
        if not before and q[0] == open_sent.start and open_sent.start > 0:
            prev = doc[open_sent.start - 1].sent
            if prev.text.rstrip().endswith(":"):
                before = [t for t in prev if t.pos_ in ("VERB", "AUX") and t.lemma_.lower() in CUES]
        for verb in [*after[:2], *reversed(before)]:
            subj = _subject(verb)
            if subj is None or q[0] < subj.i < q[1]:
                continue
            speaker = self.resolver.resolve(subj)
            if speaker is not None:
                found = (speaker, verb)
                break
        self.owners[q] = found
        return found

    def quoted(self, sent: Span) -> bool:
        """A sentence inside a direct quotation is its owner's claim, whatever reporting verbs it holds itself
        ("Our crew said the ship was attacked," Katada told reporters: Katada's words)."""
        q = self._quote_of(sent)
        if q is None:
            return False
        # A quotation with no reporting verb of its own, right after another speaker's quotation, is theirs: a
        # paper names a new voice, so the words run on ("...," said the State Department. / "Russia bears ...").
        owner = self._owner(q) or self.quote_voice
        if owner is None:
            return False
        speaker, verb = owner
        span = _trim([t for t in sent if q[0] < t.i < q[1]])
        if span is None:
            return False
        # The reader sees who said it when the attribution is in this sentence ("...," said Ahmed Karimi).
        whole = _trim(list(sent)) if sent.start <= verb.i < sent.end else None
        statement = (min(whole[0], span[0]), max(whole[1], span[1])) if whole else None
        self.claim(speaker, verb.lemma_.lower(), span[0], span[1], sent, None, statement=statement)
        self.voice = (speaker, self._last_tok(sent))
        self.quote_voice = (speaker, verb)
        return True

    def _participle(self, sent: Span, verb: Token) -> bool:
        """A reporting participle with no subject of its own: "X issued a statement saying ...", "Interfax cited X as
        saying ...", "X was quoted as saying ...". Returns whether it made a claim."""
        if verb.tag_ != "VBG" or _subject(verb) is not None:
            return False
        comps = [list(c.subtree) for c in verb.children if c.dep_ in ("ccomp", "xcomp")]
        speaker_tok: Token | None = None
        content: list[Token] = []
        citer = next((a for a in verb.ancestors if a.lemma_.lower() in ("cite", "quote") and a.pos_ == "VERB"), None)
        if citer is not None:
            # The one cited speaks; what they said is the participle's clause, or the clause the citing verb hangs on.
            speaker_tok = next((c for c in citer.children if c.dep_ in ("dobj", "nsubjpass")), None)
            outer = [list(c.subtree) for c in citer.children if c.dep_ == "ccomp" and c.i < citer.i]
            content = (comps or outer or [[]])[0]
        else:
            issuer = next((t for t in reversed(list(self.doc[sent.start : verb.i]))
                           if t.pos_ == "VERB" and t.lemma_.lower() in ("issue", "release", "publish", "post", "put")
                           and any(c.dep_ == "dobj" and c.lemma_.lower() in _MEDIUM for c in t.children)), None)
            if issuer is not None:
                # "... a statement stating total death toll was 290": the clause, or what follows the participle.
                speaker_tok = _subject(issuer)
                content = comps[0] if comps else list(self.doc[verb.i + 1 : sent.end])
        speaker = self.resolver.resolve(speaker_tok) if speaker_tok is not None else None
        span = _trim(content)
        if speaker is None or span is None:
            return False
        self.claim(speaker, verb.lemma_.lower(), span[0], span[1], sent, verb)
        return True

    def _cited(self, verb: Token) -> Speaker | None:
        """"A report, citing two Turkish sources, said ...": a document speaks for the source it cites."""
        for c in verb.children:
            if c.dep_ == "advcl" and c.lemma_.lower() in ("cite", "quote"):
                obj = next((o for o in c.children if o.dep_ == "dobj"), None)
                if obj is not None:
                    return self.resolver.resolve(obj)
        return None

    def sentence(self, sent: Span) -> None:
        if self.quoted(sent):
            return
        if any(not (t.is_punct or t.is_space) for t in sent):
            self.quote_voice = None  # narration between two quotations: the second needs its own owner
        found = False
        cues = [t for t in sent
                if t.pos_ in ("VERB", "AUX") and (t.lemma_.lower() in CUES or _denounces(t) or _tallies(t))]
        for verb in cues:
            # A reporting verb inside another one's content is the inner statement: the outer subject carries it.
            # Verbs coordinated with each other are sibling statements ("denied the report and said ..."): the
            # outer one is what encloses the first of them.
            first = verb
            while first.dep_ == "conj" and first.head.pos_ in ("VERB", "AUX"):
                first = first.head
            outer = next((a for a in first.ancestors if a in cues), None)
            subj = _subject(verb)
            if subj is None:
                continue
            outer_subj = _subject(outer) if outer is not None else None
            if subj.lower_ in _PRONOUNS and outer_subj is not None and outer_subj.lower_ not in _PRONOUNS:
                continue  # "X said he could not confirm": X's statement, claimed once by the outer cue
            if outer_subj is not None and _own_subject(verb) is None:
                continue  # a subject borrowed by coordination inside another statement: the outer one claims it
            if verb.lemma_.lower() in ("count", "estimate") and not any(
                    c.dep_ in ("dobj", "ccomp", "attr") for c in verb.children):
                continue  # "after many body parts counted": a tally taken, not a statement
            speaker = self.resolver.resolve(subj) or self._cited(verb)
            if speaker is None:
                continue
            content = _content(verb, subj)
            if content is None:
                continue
            span = _trim(content)
            if span is None:
                continue
            inner = [t for t in self.doc[span[0] : span[1]] if t in cues and t.i != verb.i and _named_subject(t)]
            if inner:
                continue  # the inner cue gives the claim, with this speaker as carrier
            carrier = None
            if outer_subj is not None:
                outer_sp = self.resolver.resolve(outer_subj)
                carrier = outer_sp.name if outer_sp else None
            subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")] or [subj]
            subj_toks = [t.i for x in subjects for t in x.subtree if not t.is_punct]
            bounds = _trim([self.doc[i] for i in (*subj_toks, verb.i, span[0], span[1] - 1)])
            self.claim(
                speaker,
                verb.lemma_.lower(),
                span[0],
                span[1],
                sent,
                verb,
                carrier,
                statement=(min(bounds[0], span[0]), max(bounds[1], span[1])) if bounds else None,
            )
            found = True
        for verb in cues:
            found = self._participle(sent, verb) or found
        # "according to X, ..." attributes the rest of the sentence to X.
        for t in sent:
            if t.lower_ == "according" and t.i + 1 < sent.end and self.doc[t.i + 1].lower_ == "to":
                pobj = [c for c in self.doc[t.i + 1].children if c.dep_ == "pobj"]
                if pobj:
                    speaker = self.resolver.resolve(pobj[0])
                    phrase_end = max(x.i for x in pobj[0].subtree) + 1
                    rest = [x for x in sent if x.i < t.i or x.i >= phrase_end]
                    span = _trim(rest)
                    if speaker and span:
                        self.claim(speaker, "according to", span[0], span[1], sent, None)
                        found = True
        # "There have been no confirmations from Moscow that ...": the source of the (non-)confirmation speaks.
        for t in sent:
            if t.lemma_.lower() in ("confirmation", "denial", "statement", "report") and not found:
                src = [
                    g
                    for c in t.children
                    if c.dep_ == "prep" and c.lower_ == "from"
                    for g in c.children
                    if g.dep_ == "pobj"
                ]
                if src:
                    speaker = self.resolver.resolve(src[0])
                    span = _trim(list(sent))
                    if speaker and span:
                        self.claim(speaker, t.lemma_.lower(), span[0], span[1], sent, None)
                        found = True
        if not found:
            qs = self.quantities_between(sent.start_char, sent.end_char)
            if any(q.counted or q.unit for q in qs):
                span = _trim(list(sent))
                if span:
                    voice = self.voice
                    if voice is not None and not self._paragraph_break(voice[1], sent):
                        # Reported speech runs on: an unattributed sentence right after a statement, in the same
                        # paragraph, continues that speaker's account ("The Pentagon said ... The Americans
                        # responded with strikes which resulted in over 100 casualties.").
                        self.claim(voice[0], "continues", span[0], span[1], sent, None)
                        self.voice = (voice[0], self._last_tok(sent))
                    else:
                        # The outlet's own voice: unattributed sentences that state numbers are claims too.
                        sp = Speaker(self.article.outlet_id, "outlet", self.article.outlet_id)
                        self.claim(sp, "states", span[0], span[1], sent, None)
                    return
        if found and self.claims and self.claims[-1].speaker_type != "outlet":
            last = self.claims[-1]
            speaker = Speaker(last.speaker, last.speaker_type, last.speaker_text or last.speaker)
            self.voice = (speaker, self._last_tok(sent))
        elif not found:
            self.voice = None

    @staticmethod
    def _last_tok(sent: Span) -> int:
        return sent.end - 1

    def _paragraph_break(self, after: int, sent: Span) -> bool:
        """A line break between token ``after`` and the first word of ``sent`` (looked up token by token:
        ``doc.text`` would rebuild the whole document)."""
        i = after
        while i < sent.end:
            t = self.doc[i]
            if "\n" in t.whitespace_ or (t.is_space and "\n" in t.text):
                return True
            if i >= sent.start and not t.is_space:
                return False
            i += 1
        return False

    def run(self) -> list[Claim]:
        if not doc_is_english(self.doc):
            return []
        for sent in self.doc.sents:
            if _title_case(sent):
                continue  # "Japanese Tanker Owner Disputes U.S. Account": the tagger reads every word as a name
            try:
                self.sentence(sent)
            except (IndexError, ValueError):  # a parse too odd for the rules: skip the sentence, keep the article
                pass
            self.resolver.note(sent)
        return _referents(self.claims)


# "Denounced these baseless allegations", "rejected the claims": a denial of what the article just reported.
_BARE_REFERENCE = re.compile(
    r"^(?:these|those|the|such|this|that|its|their)\s+(?:\w+\s+){0,2}?"
    r"(?:allegations?|claims?|reports?|accusations?|charges?|assertions?|rumou?rs?|accounts?|suggestions?)$",
    re.IGNORECASE,
)


def _referents(claims: list[Claim]) -> list[Claim]:
    """A denial that only points back ("these baseless allegations") denies the account reported just before it by
    someone else: it ``refers_to`` that account's words, so it can be set against the account wherever it is
    told."""
    out: list[Claim] = []
    for c in claims:
        if c.polarity == "denies" and _BARE_REFERENCE.match(c.text.strip()):
            before = [p for p in out if p.speaker != c.speaker and p.polarity == "asserts" and p.end <= c.start
                      and c.start - p.end < 600]
            if before:
                c = dataclasses.replace(c, refers_to=before[-1].text)
        out.append(c)
    return out


_SMALL_WORDS = {"a", "an", "the", "and", "or", "but", "of", "in", "on", "at", "to", "for", "by", "with", "from", "as",
                "vs", "is", "are", "was"}


def _title_case(sent: Span) -> bool:
    """A headline in title case: four or more words, every word but the small ones capitalised, no full stop."""
    words = [t for t in sent if t.is_alpha]
    if len(words) < 4 or sent.text.rstrip().endswith((".", "!", "?", '"', "\u201d")):
        return False
    big = [t for t in words if t.lower_ not in _SMALL_WORDS]
    return len(big) >= 4 and all(t.text[0].isupper() for t in big)


def claims_from_doc(article: Article, doc: Doc) -> list[Claim]:
    return _Extractor(article, doc).run()
