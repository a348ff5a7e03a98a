"""Who is speaking: noun phrases to canonical speakers, with a curated alias table (``aliases.toml``) and simple
in-article resolution of pronouns and titles ("he", "the spokeswoman") to the last named person."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from spacy.tokens import Span, Token

__all__ = ["AliasTable", "Speaker", "SpeakerResolver", "alias_table"]

ALIAS_FILE = Path(__file__).with_name("aliases.toml")
_PRONOUNS_PERSON = {"he", "she", "him", "her"}
_PRONOUNS_GROUP = {"they", "it", "we"}
_TITLES = {"spokesman", "spokeswoman", "spokesperson", "minister", "secretary", "president", "governor", "mayor",
           "ambassador", "general", "commander", "chief", "director", "official", "senator", "prime", "chancellor",
           "premier", "envoy", "prosecutor", "sheriff", "captain", "colonel"}
_OFFICIALS = {"official", "officials", "officer", "officers", "authorities", "diplomat", "diplomats"}
_ANONYMOUS = {"source", "sources", "insider", "insiders", "witness", "witnesses", "people"}
_MEDIA = {"reporter", "reporters", "journalist", "journalists", "media", "newspaper", "agency", "outlet",
          "broadcaster", "correspondent", "correspondents", "television", "tv"}


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
        alts = sorted(self.by_alias, key=len, reverse=True)
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


@lru_cache(maxsize=4)
def alias_table(path: Path = ALIAS_FILE) -> AliasTable:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return AliasTable([(e["name"], e.get("type", "organisation"), list(e.get("aliases", []))) for e in data["speaker"]])


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


class SpeakerResolver:
    """Resolves speaker phrases within one article; remembers the last named person for "he" and "the minister"."""

    def __init__(self, table: AliasTable | None = None) -> None:
        self.table = table or alias_table()
        self.last_person: Speaker | None = None
        self.last_group: Speaker | None = None
        self.surnames: dict[str, str] = {}

    def _person(self, name: str, text: str) -> Speaker:
        name = self.surnames.get(name.casefold(), name) if " " not in name else name
        if " " in name:
            self.surnames[name.split()[-1].casefold()] = name
        canon = self.table.find(name)
        sp = Speaker(canon[0] if canon and canon[1] == "person" else name, "person", text)
        self.last_person = sp
        return sp

    def resolve(self, subject: Token) -> Speaker | None:
        phrase = _phrase(subject)
        text = phrase.text
        low = subject.lower_
        if low in _PRONOUNS_PERSON:
            return Speaker(self.last_person.name, "person", text) if self.last_person else None
        if low in _PRONOUNS_GROUP:
            return Speaker(self.last_group.name, self.last_group.type, text) if self.last_group else None
        persons = [e for e in phrase.ents if e.label_ == "PERSON"]
        head_lemma = subject.lemma_.lower()
        alias = self.table.find(text)
        if persons:
            return self._person(persons[-1].text, text)
        if alias and alias[1] == "person":
            sp = Speaker(alias[0], "person", text)
            self.last_person = sp
            return sp
        if head_lemma in _TITLES and subject.pos_ == "NOUN" and self.last_person and not alias:
            # "the spokeswoman said": the last named person of the article.
            return Speaker(self.last_person.name, "person", text)
        if head_lemma in _OFFICIALS or subject.lower_ in _OFFICIALS:
            org = alias[0] if alias else self._org_text(phrase)
            sp = Speaker(f"{org} officials" if org else "officials", "officials", text)
            self.last_group = sp
            return sp
        if alias:
            sp = Speaker(alias[0], alias[1], text)
            self.last_group = sp
            return sp
        if head_lemma in _ANONYMOUS or low in _ANONYMOUS:
            return Speaker("anonymous sources", "anonymous", text)
        if head_lemma in _MEDIA:
            org = self._org_text(phrase)
            return Speaker(f"{org} {subject.lower_}" if org else subject.lower_, "media", text)
        orgs = [e for e in phrase.ents if e.label_ in ("ORG", "GPE", "NORP")]
        if orgs:
            e = orgs[-1]
            typ = "government" if e.label_ == "GPE" else "organisation"
            sp = Speaker(self.table.canonical(e.text), typ, text)
            self.last_group = sp
            return sp
        if subject.pos_ == "PROPN":
            sp = Speaker(text, "organisation", text)
            self.last_group = sp
            return sp
        return None

    def _org_text(self, phrase: Span) -> str | None:
        ents = [e for e in phrase.ents if e.label_ in ("ORG", "GPE", "NORP")]
        if not ents:
            return None
        return self.table.canonical(ents[-1].text.removeprefix("the ").strip())
