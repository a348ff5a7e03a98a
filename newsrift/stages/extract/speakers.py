"""Who is speaking: noun phrases to canonical speakers, with a curated alias table (``aliases.toml``) and simple
in-article resolution of pronouns and titles ("he", "the spokeswoman") to the last named person."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from spacy.tokens import Span, Token

from newsrift.lexicons import ALIAS_FILE
from newsrift.stages.extract.errors import AliasTableError
from newsrift.stages.extract.spans import ents_in

__all__ = ["AliasTable", "Speaker", "SpeakerResolver", "alias_table", "place_table"]

_PRONOUNS_PERSON = {"he", "she", "him", "her"}
_PRONOUNS_GROUP = {"they", "it", "we"}
_TITLES = {
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "minister",
    "secretary",
    "president",
    "governor",
    "mayor",
    "ambassador",
    "general",
    "commander",
    "chief",
    "director",
    "official",
    "senator",
    "prime",
    "chancellor",
    "premier",
    "envoy",
    "prosecutor",
    "sheriff",
    "captain",
    "colonel",
    "representative",
    "commissioner",
    "adviser",
    "advisor",
}
_HONORIFICS = {"mr", "mrs", "ms", "dr", "gen", "brig", "col", "lt", "sgt", "rep", "sen", "gov", "prof", "sir"}
_OFFICIALS = {"official", "officials", "officer", "officers", "authorities", "diplomat", "diplomats"}
_ANONYMOUS = {"source", "sources", "insider", "insiders", "witness", "witnesses", "people"}
_MEDIA = {
    "reporter",
    "reporters",
    "journalist",
    "journalists",
    "media",
    "newspaper",
    "outlet",
    "broadcaster",
    "correspondent",
    "correspondents",
    "television",
    "tv",
}


# Subjects of "say" that are not sources: "the report said", "the statement said" quote a document.
_NOT_SPEAKERS = {
    "report",
    "statement",
    "study",
    "document",
    "letter",
    "article",
    "story",
    "survey",
    "data",
    "figure",
    "it",
    "this",
    "that",
    "memorandum",
    "memo",
    "evidence",
    "rule",
    "regulation",
    "law",
    "proposal",
    "project",
    "analysis",
    "research",
    "finding",
    "poll",
    "record",
    "filing",
    "scope",
    "policy",
    "plan",
    "bill",
    "decision",
    "move",
    "change",
    "result",
    "number",
    "estimate",
}


@dataclass(frozen=True)
class Speaker:
    name: str
    type: str  # person | organisation | government | officials | anonymous | media | outlet
    text: str  # the phrase as written


class AliasTable:
    def __init__(self, entries: list[tuple[str, str, list[str]]]) -> None:
        self.by_alias: dict[str, tuple[str, str]] = {}
        for name, typ, aliases in entries:
            for a in [name, *aliases]:
                self.by_alias[a.casefold()] = (name, typ)
        # Longest alias first so "US Department of Defense" beats "Defense".
        alts = sorted(self.by_alias, key=len, reverse=True) or ["\x00"]
        self._re = re.compile(r"(?<![\w-])(" + "|".join(re.escape(a) for a in alts) + r")(?![\w-])", re.IGNORECASE)

    def find(self, phrase: str) -> tuple[str, str] | None:
        """The canonical (name, type) of the longest alias inside ``phrase``."""
        best: tuple[int, tuple[str, str]] | None = None
        for m in self._re.finditer(phrase):
            n = len(m.group(1))
            if best is None or n > best[0]:
                best = (n, self.by_alias[m.group(1).casefold()])
        return best[1] if best else None

    def canonical(self, name: str) -> str:
        hit = self.by_alias.get(name.casefold())
        return hit[0] if hit else name


def _load(path: Path, section: str) -> AliasTable:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        entries = [
            (str(e["name"]), str(e.get("type", "organisation")), [str(a) for a in e.get("aliases", [])])
            for e in data.get(section, [])
        ]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as e:
        raise AliasTableError(f"alias table {path} [{section}] cannot be used: {e!r}") from e
    return AliasTable(entries)


@lru_cache(maxsize=4)
def alias_table(path: Path = ALIAS_FILE) -> AliasTable:
    """Speakers and actors: "Kremlin", "Moscow" -> "Russian government" (``[[speaker]]`` entries)."""
    return _load(path, "speaker")


@lru_cache(maxsize=4)
def place_table(path: Path = ALIAS_FILE) -> AliasTable:
    """Places, kept apart from speakers so "Moscow" the city is not "Russian government" (``[[place]]``)."""
    return _load(path, "place")


def _name(tok: Token) -> str:
    """A proper name with its compound parts ("Karen Holt"), without titles or appositions."""
    parts = [c for c in tok.lefts if c.dep_ == "compound" and c.pos_ == "PROPN"]
    start = min([tok.i, *(c.i for c in parts)])
    return tok.doc[start : tok.i + 1].text


def _phrase(tok: Token) -> Span:
    """The noun phrase of a subject without relative clauses or trailing punctuation."""
    keep = [tok]
    for child in tok.children:
        if child.dep_ in ("relcl", "acl", "punct", "cc", "conj", "advcl") and child.i > tok.i:
            continue
        keep.extend(child.subtree)
    idx = sorted(t.i for t in keep)
    doc = tok.doc
    start, end = idx[0], idx[-1] + 1
    while end > start + 1 and (doc[end - 1].is_punct or doc[end - 1].dep_ == "cc"):
        end -= 1
    return doc[start:end]


_WHERE = {"in", "at", "near", "on", "inside", "outside", "across", "around", "throughout", "within"}


def _head_phrase(tok: Token) -> Span:
    """The subject's own words: its modifiers, without prepositional tails ("rescuers in Syria" -> rescuers)."""
    keep = [tok]
    for child in tok.children:
        # Modifiers, appositions ("Karen Holt, a spokeswoman") and "of"/"from"/"to" ("Secretary of Defense",
        # "reporters from the Kremlin") name the speaker; "in"/"at"/"near" tails say where they are.
        if child.dep_ in ("relcl", "acl", "punct", "cc", "conj", "advcl") and child.i > tok.i:
            continue
        if child.dep_ == "prep" and child.lower_ in _WHERE:
            continue
        keep.extend(child.subtree)
    idx = sorted(t.i for t in keep)
    return tok.doc[idx[0] : idx[-1] + 1]


def _bare(phrase: Span) -> list[Token]:
    """A phrase without articles, possessive pronouns, the possessive "'s" and punctuation: "the bank's governor"
    -> bank governor, "his spokesman" -> spokesman. A possessor that is a noun stays: it says whose governor."""
    return [t for t in phrase
            if t.dep_ not in ("det", "case") and not (t.dep_ == "poss" and t.pos_ == "PRON") and not t.is_punct]


_ROLE_POS = ("PROPN", "NOUN", "ADJ")


def _role(ent: Span) -> str:
    """A person's name with the title words just before it ("Kremlin spokesman Dmitry Peskov", "Saudi Arabia's
    foreign minister Adel al-Jubeir") and a title in apposition ("Patrick Ryder, the Pentagon press secretary")."""
    sent, doc = ent.sent, ent.doc
    start = ent.start
    while start > sent.start and ent.start - start < 6 and (doc[start - 1].pos_ in _ROLE_POS
                                                             or doc[start - 1].tag_ == "POS"):
        start -= 1
    if start == ent.start and start - 2 >= sent.start and doc[start - 1].text == ",":
        # "the representative of the Ukrainian President in Crimea, Boris Babin": a title phrase, then the name.
        t, title = doc[start - 2], None
        while True:
            if t.lemma_.lower() in _TITLES:
                title = t  # the outermost title: "the representative of the Ukrainian President"
            if t.dep_ not in ("pobj", "prep", "compound", "amod") or t.head.i >= t.i or t.head.i < sent.start:
                break
            t = t.head
        if title is not None:
            start = title.left_edge.i
    end = ent.end
    appos = [c for c in ent.root.children if c.dep_ == "appos" and c.i >= ent.end]
    if appos:
        end = max(end, _phrase(appos[0]).end)
    return doc[start:end].text


class SpeakerResolver:
    """Resolves speaker phrases within one article; remembers the last named person for "he" and "the minister"."""

    def __init__(self, table: AliasTable | None = None) -> None:
        self.table = table or alias_table()
        self.last_person: Speaker | None = None
        self.last_group: Speaker | None = None
        self.surnames: dict[str, str] = {}
        self.by_head: dict[str, Speaker] = {}
        self.roles: dict[str, str] = {}  # person -> the longest phrase that introduced them

    def _person(self, name: str, text: str, role: str = "") -> Speaker:
        """A named person, with the words that say who they are wherever the article said it ("Saudi Foreign
        Minister Adel al-Jubeir" first, "al-Jubeir" later): whose side a person speaks for comes from there."""
        words = name.split()
        while len(words) > 1 and words[0].casefold().rstrip(".") in _TITLES | _HONORIFICS:
            words = words[1:]  # "Spokesperson Maria Zakharova" (a title inside the tagged name) is Maria Zakharova
        name = " ".join(words)
        name = self.surnames.get(name.casefold(), name) if " " not in name else name
        if " " in name:
            self.surnames[name.split()[-1].casefold()] = name
        canon = self.table.find(name)
        name = canon[0] if canon and canon[1] == "person" else name
        if not role or role in text:
            said = text
        elif text in role:
            said = role  # "Kremlin spokesman Dmitry Peskov" for "Peskov"
        else:
            said = f"{role} {text}"
        if len(said) > len(self.roles.get(name, name)):
            self.roles[name] = said
        sp = Speaker(name, "person", self.roles.get(name, said))
        self.last_person = sp
        return sp

    def _again(self, person: Speaker, text: str) -> Speaker:
        """A person referred to again ("he", "the spokeswoman"): the words that introduced them stay theirs."""
        return Speaker(person.name, "person", self.roles.get(person.name, text))

    def note(self, sent: Span) -> None:
        """Remember people a sentence mentions, so a later "she" or "the minister" can refer to them."""
        found = [(e.start, e.text, _role(e)) for e in ents_in(sent, ("PERSON",))]
        # "Karen Holt, a spokeswoman for ...": a title in apposition makes a person even when NER says ORG.
        found += [
            (t.head.i, _name(t.head), _phrase(t.head).text)
            for t in sent
            if t.dep_ == "appos" and t.lemma_.lower() in _TITLES and t.head.pos_ == "PROPN"
        ]
        for _, name, role in sorted(found):
            self._person(name, name, role)  # the last one named stays the one "he" refers to
        for e in ents_in(sent, ("ORG",)):
            # "a revised report by the Health Ministry": a later "the ministry said" is that ministry.
            head = e.root.lemma_.lower()
            if len(e) > 1 and e.root.pos_ in ("NOUN", "PROPN") and head not in self.by_head:
                self.by_head[head] = Speaker(e.text.removeprefix("the ").strip(), "organisation", e.text)

    def resolve(self, subject: Token) -> Speaker | None:
        """The canonical speaker of a subject phrase, or None when it is not a source ("the report said")."""
        sp = self._resolve(subject)
        if sp is None:
            return None
        name = " ".join(sp.name.split())  # a line break inside a name is layout, not part of it
        if "(" in name and ")" not in name:
            name = name.split("(")[0].strip()  # "Hatice (Khadija": the parse cut a bracketed alias in half
        if name.casefold().startswith("the "):
            name = name[4:]
        return Speaker(name, sp.type, sp.text) if name else None

    def _resolve(self, subject: Token) -> Speaker | None:
        phrase = _phrase(subject)
        text = phrase.text
        low = subject.lower_
        if low in _PRONOUNS_PERSON:
            # "..., Patrick Ryder, held a briefing where he stated": a person named earlier in the same sentence
            # comes before anyone the article named before it.
            here = [e for e in ents_in(subject.doc[subject.sent.start : subject.i], ("PERSON",))]
            if here:
                return self._person(here[-1].text, text, _role(here[-1]))
            return self._again(self.last_person, text) if self.last_person else None
        if low in _PRONOUNS_GROUP:
            return Speaker(self.last_group.name, self.last_group.type, text) if self.last_group else None
        if subject.pos_ == "PROPN" and (
            text.casefold() in self.surnames
            or any(c.dep_ == "appos" and c.lemma_.lower() in _TITLES for c in subject.children)
        ):
            # "Varga said", after "Prime Minister Elena Varga": a surname already met; "Holt, a spokeswoman".
            return self._person(_name(subject), text)
        named = [c for c in subject.children if c.dep_ == "appos" and c.ent_type_ == "ORG" and c.pos_ == "PROPN"]
        if subject.pos_ == "NOUN" and named and subject.lemma_.lower() not in _NOT_SPEAKERS:
            # "Ukraine's hydropower company, Ukrhydroenergo, said": the name in apposition is who speaks.
            ent = next((e for e in subject.doc.ents if e.start <= named[0].i < e.end), None)
            name = ent.text if ent is not None else named[0].text
            found = self.table.find(name)
            sp = Speaker(found[0] if found else name, found[1] if found else "organisation", text)
            self._remember(subject, sp)
            return sp
        persons = list(ents_in(phrase, ("PERSON",)))
        if subject.ent_type_ == "PERSON":
            # The whole name even where the parse splits it: "Adel al-Jubeir told" hangs "al-" on the verb.
            whole = next((e for e in subject.doc.ents if e.start <= subject.i < e.end), None)
            if whole is not None and whole not in persons:
                persons.append(whole)
        head_lemma = subject.lemma_.lower()
        head = _head_phrase(subject)
        alias = self._alias(head)
        if head_lemma in _NOT_SPEAKERS and subject.pos_ == "NOUN":
            # "the Chinese statement said", "a Foreign Ministry statement said": the document speaks for its owner.
            owner = [e for e in ents_in(head, ("ORG", "NORP", "GPE", "PERSON")) if e.end <= subject.i]
            if owner:
                found = self._alias(owner[-1])
                if found is None and owner[-1].label_ == "NORP":
                    found = self.table.find(f"{owner[-1].text} government")  # "the Chinese statement said"
                name = found[0] if found else owner[-1].text.removeprefix("the ").strip()
                sp = Speaker(name, found[1] if found else "organisation", text)
                self.last_group = sp
                return sp
        if persons and (found := self.table.find(persons[-1].text)) is not None and found[1] != "person":
            persons = []  # the alias table knows the name better than the tagger: "Kiev said" is not a person
        if subject.pos_ == "NOUN" and persons and all(e.root.dep_ == "compound" for e in persons):
            # "Sri Lankan authorities" (tagged PERSON), "Trump administration officials": a modifier, not a person.
            persons = []
        if persons:
            return self._person(persons[-1].text, text, _role(persons[-1]))
        if alias and alias[1] == "person":
            sp = Speaker(alias[0], "person", text)
            self.last_person = sp
            return sp
        if head_lemma in _TITLES and subject.pos_ == "NOUN" and not alias and head_lemma != "official":
            # "the spokeswoman said": the last named person of the article; unnamed otherwise.
            if self.last_person and any(t.dep_ == "det" and t.lower_ == "the" for t in subject.children):
                return self._again(self.last_person, text)
            words = [t.text for t in _bare(phrase)]
            return Speaker(" ".join(words).lower(), "person", text)
        if head_lemma in _OFFICIALS or subject.lower_ in _OFFICIALS:
            org = alias[0] if alias else self._org_text(phrase) or self._modifiers(subject)
            sp = Speaker(f"{org} officials" if org else "officials", "officials", text)
            self.last_group = sp
            return sp
        if alias:
            sp = Speaker(alias[0], alias[1], text)
            self.last_group = sp
            return sp
        if head_lemma in _ANONYMOUS or low in _ANONYMOUS:
            # "two Turkish sources", "US sources": unnamed, but whose side they speak from is said.
            whose = [e.text for e in ents_in(head, ("NORP", "GPE", "ORG")) if e.end <= subject.i]
            return Speaker(f"{whose[-1]} sources" if whose else "anonymous sources", "anonymous", text)
        if head_lemma in _MEDIA:
            org = self._org_text(phrase)
            definite = any(c.dep_ == "det" and c.lower_ in ("the", "these", "those") for c in subject.children)
            if org is None and definite and self.last_group is not None and self.last_group.type == "media":
                # "The reporters said ..." after "Kremlin-linked reporters said ...": the same source again.
                return Speaker(self.last_group.name, "media", text)
            sp = Speaker(f"{org} {subject.lower_}" if org else subject.lower_, "media", text)
            if org is not None:
                self.last_group = sp
            return sp
        orgs = list(ents_in(head, ("ORG", "GPE", "NORP")))
        if orgs:
            e = orgs[-1]
            typ = "government" if e.label_ == "GPE" else "organisation"
            name = self.table.canonical(e.text)
            if e.label_ in ("NORP", "GPE") and e.end <= subject.i and subject.pos_ == "NOUN":
                # "Syrian opposition activists", "the Ukrainian navy", "Peru's health ministry": the country
                # qualifies who speaks.
                name = " ".join([e.text, *(t.lower_ for t in subject.doc[e.end : subject.i + 1]
                                           if not t.is_punct and t.dep_ != "case")])
            sp = Speaker(name, typ, text)
            self._remember(subject, sp)
            return sp
        if subject.pos_ == "PROPN":
            sp = Speaker(text, "organisation", text)
            self.last_group = sp
            return sp
        if subject.pos_ == "NOUN" and head_lemma not in _NOT_SPEAKERS:
            # "The ministry said", "the army said": an institution named by a common noun; "the ministry" alone,
            # after "the health ministry said", is that ministry again.
            toks = _bare(phrase)
            definite = any(c.dep_ == "det" and c.lower_ == "the" for c in subject.children)
            if definite and len(toks) == 1 and head_lemma in self.by_head:
                return Speaker(self.by_head[head_lemma].name, self.by_head[head_lemma].type, text)
            name = " ".join(t.lower_ if t.pos_ != "PROPN" else t.text for t in toks) or subject.lower_
            sp = Speaker(name, "organisation", text)
            self._remember(subject, sp)
            return sp
        return None

    def _remember(self, subject: Token, sp: Speaker) -> None:
        """The last group speaker, and the last one per head noun for a later "the ministry"."""
        self.last_group = sp
        if len(sp.name.split()) > 1:
            self.by_head[subject.lemma_.lower()] = sp

    def _alias(self, phrase: Span) -> tuple[str, str] | None:
        """The alias table's speaker for a phrase, unless the alias is only part of a longer name: "Washington"
        inside "the Washington Post" names the newspaper, not the US government."""
        found = self.table.find(phrase.text)
        if found is None:
            return None
        for ent in ents_in(phrase, ("ORG", "PERSON", "FAC", "WORK_OF_ART")):
            inner = self.table.find(ent.text)
            name = ent.text.casefold()
            whole = self.table.by_alias.get(name[4:] if name.startswith("the ") else name)
            if inner == found and whole is None:
                return None
        return found

    @staticmethod
    def _modifiers(subject: Token) -> str | None:
        """Proper-noun modifiers of a common noun: "Sri Lankan authorities" -> Sri Lankan."""
        mods = [t for t in subject.lefts if t.dep_ in ("compound", "amod") and t.pos_ == "PROPN"]
        if not mods:
            return None
        start = min(x.i for t in mods for x in t.subtree)
        return subject.doc[start : subject.i].text

    def _org_text(self, phrase: Span) -> str | None:
        ents = list(ents_in(phrase, ("ORG", "GPE", "NORP")))
        if not ents:
            return None
        return self.table.canonical(ents[-1].text.removeprefix("the ").strip())
