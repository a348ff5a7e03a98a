"""Word lists as data: the TOML files beside this module, loaded once and shared by extraction and disputes.

- ``actions.toml``: classes of acts (the extractor's act verbs and nouns, and what the dispute stage folds together);
- ``units.toml``: units after a number, their names and how they convert;
- ``parties.toml``: countries and camps and the words that name them;
- ``aliases.toml``: speakers and places written several ways, folded to one name;
- ``contrasts.toml``: questions disputed news asks about an incident, each with two opposite answers.

Each is a pure function of its file; nothing here imports the rest of the project.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ALIAS_FILE = HERE / "aliases.toml"

__all__ = ["ALIAS_FILE", "Actions", "Contrast", "Parties", "Units", "actions", "contrasts", "parties", "units"]


def _read(name: str) -> dict[str, Any]:
    with (HERE / name).open("rb") as f:
        return tomllib.load(f)


@dataclass(frozen=True)
class Actions:
    classes: dict[str, tuple[str, ...]]  # class -> every lemma and phrase folded into it
    index: dict[str, str]  # lemma or phrase -> its class
    verbs: frozenset[str]  # lemmas the extractor takes as a claim's act
    nouns: dict[str, str]  # act nouns -> the verb lemma each stands for


@dataclass(frozen=True)
class Units:
    by_word: dict[str, str]  # a unit as written after a number (one or two tokens) -> the unit's name
    signs: dict[str, str]  # a currency sign before a number -> the unit's name
    scale: dict[str, tuple[str, float]]  # any spelling or name, lower case -> (dimension, factor)


@dataclass(frozen=True)
class Parties:
    words: dict[str, str]  # a one-word name -> its party
    phrases: tuple[tuple[str, str], ...]  # names of several words -> party, longest first

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.words.values()) | frozenset(p for _, p in self.phrases)


@lru_cache(maxsize=1)
def actions() -> Actions:
    data = _read("actions.toml")
    classes = {cls: tuple(d["verbs"]) + tuple(d["other"]) for cls, d in data["classes"].items()}
    verbs = frozenset(v for d in data["classes"].values() for v in d["verbs"])
    index = {lemma: cls for cls, lemmas in classes.items() for lemma in lemmas}
    return Actions(classes, index, verbs, dict(data["nouns"]))


@lru_cache(maxsize=1)
def units() -> Units:
    data = _read("units.toml")
    by_word: dict[str, str] = {}
    scale: dict[str, tuple[str, float]] = {}
    for u in data["unit"]:
        for w in u["words"]:
            by_word[w] = u["name"]
        for w in [u["name"], *u["words"], *u["other"]]:
            scale[w.lower()] = (u["dimension"], float(u["factor"]))
    return Units(by_word, dict(data["signs"]), scale)


@lru_cache(maxsize=1)
def parties() -> Parties:
    words: dict[str, str] = {}
    phrases: list[tuple[str, str]] = []
    for party, names in _read("parties.toml").items():
        for n in names:
            if " " in n or "-" in n:
                phrases.append((n, party))
            else:
                words[n] = party
    return Parties(words, tuple(sorted(phrases, key=lambda p: -len(p[0]))))


@dataclass(frozen=True)
class Contrast:
    """One question with its two opposite answers: each pole's name and the words that give it."""

    name: str
    label: str
    poles: tuple[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]]


@lru_cache(maxsize=1)
def contrasts() -> tuple[Contrast, ...]:
    out = []
    for name, d in _read("contrasts.toml")["question"].items():
        poles = [(k, tuple(v)) for k, v in d.items() if k != "label"]
        if len(poles) != 2:
            raise ValueError(f"contrasts.toml: question {name!r} needs exactly two poles, not {len(poles)}")
        out.append(Contrast(name, d["label"], (poles[0], poles[1])))
    return tuple(out)
