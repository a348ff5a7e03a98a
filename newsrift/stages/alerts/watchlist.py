"""Watchlists: saved searches stored as data (one JSON file), and the match rule.

File shape: ``{"version": 1, "watches": [{"name": ..., "entities": [...], "keywords": [...], "outlets": [...],
"kinds": [...], "min_confidence": 0.0, "notify": [...]}]}``. ``newsrift watch add|list|remove`` wraps
``add_watch``, ``load_watches`` and ``remove_watch``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsrift.errors import ConfigError
from newsrift.model import _Json
from newsrift.stages.alerts.model import Alert
from newsrift.stages.disputes.frames import terms

__all__ = ["SINK_NAMES", "Watch", "add_watch", "check_new_watch", "load_watches", "matches", "remove_watch",
           "save_watches"]

FILE_VERSION = 1
_KINDS = {"numeric", "polarity", "attribution", "non_confirmation", "other"}
# The names of the alert sinks (newsrift/stages/alerts/sinks.py: WebhookSink, EmailSink); a watch notifying
# anything else would never deliver.
SINK_NAMES = ("webhook", "email")


@dataclass(frozen=True)
class Watch(_Json):
    """A saved search. Empty criteria match everything; given criteria must all hold (any value within one)."""

    name: str
    entities: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    min_confidence: float = 0.0
    notify: tuple[str, ...] = ()  # sink names; empty = every configured sink

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ConfigError("a watch needs a name")
        if bad := set(self.kinds) - _KINDS:
            raise ConfigError(f"watch {self.name!r}: unknown dispute kinds {sorted(bad)}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"watch {self.name!r}: min_confidence must be within [0, 1]")

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Watch:
        def strs(key: str) -> tuple[str, ...]:
            v = d.get(key, ())
            if isinstance(v, str) or not isinstance(v, Sequence):
                raise ConfigError(f"watch field {key!r} must be a list of strings")
            return tuple(str(x) for x in v)

        return cls(
            name=str(d["name"]),
            entities=strs("entities"),
            keywords=strs("keywords"),
            outlets=strs("outlets"),
            kinds=strs("kinds"),
            min_confidence=float(d.get("min_confidence", 0.0)),
            notify=strs("notify"),
        )


def matches(watch: Watch, alert: Alert) -> bool:
    if watch.kinds and alert.kind not in watch.kinds:
        return False
    if alert.confidence < watch.min_confidence:
        return False
    if watch.outlets and not {o.casefold() for o in watch.outlets} & {o.casefold() for o in alert.outlets}:
        return False
    quotes = [s.quote for s in alert.dispute.sides]
    haystack = " \n".join([alert.topic, alert.summary, *alert.speakers, *quotes]).casefold()
    if watch.entities:
        # Aliases fold as in dispute slotting: a watch on "Kremlin" sees "Russian government" and "Moscow".
        found = terms([*alert.speakers, *quotes, alert.topic])
        if not any(e.casefold() in haystack or (terms([e]) and terms([e]) <= found) for e in watch.entities):
            return False
    return not (watch.keywords and not any(k.casefold() in haystack for k in watch.keywords))


def load_watches(path: Path) -> list[Watch]:
    """All watches in the file; a missing file is an empty list, a broken one a ConfigError."""
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("version") != FILE_VERSION:
            raise ConfigError(f"{path}: unsupported watchlist version {doc.get('version')!r}")
        return [Watch.from_json(w) for w in doc["watches"]]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"{path}: not a newsrift watchlist: {e}") from e


def save_watches(path: Path, watches: Sequence[Watch]) -> None:
    """Write atomically, so a crash never leaves half a watchlist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"version": FILE_VERSION, "watches": [w.to_json() for w in sorted(watches, key=lambda w: w.name)]}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_new_watch(watch: Watch) -> None:
    """What a new watch must not contain (``ConfigError``): an empty entity or keyword (it would match every
    alert), an empty outlet (it would match none), or a sink name no sink has (it would never deliver). Files
    already written are read as they are."""
    for field, label in (("entities", "entity"), ("keywords", "keyword"), ("outlets", "outlet")):
        if any(not v.strip() for v in getattr(watch, field)):
            raise ConfigError(f"watch {watch.name!r}: an empty {label} is not allowed (it would match "
                              f"{'nothing' if field == 'outlets' else 'every alert'})")
    if bad := sorted(set(watch.notify) - set(SINK_NAMES)):
        raise ConfigError(f"watch {watch.name!r}: unknown sink(s) {', '.join(bad)} in notify; "
                          f"choose from {', '.join(SINK_NAMES)}")


def add_watch(path: Path, watch: Watch, *, replace: bool = False) -> None:
    check_new_watch(watch)
    watches = load_watches(path)
    if any(w.name == watch.name for w in watches) and not replace:
        raise ConfigError(f"a watch named {watch.name!r} exists (use --replace to overwrite it)")
    save_watches(path, [w for w in watches if w.name != watch.name] + [watch])


def remove_watch(path: Path, name: str) -> bool:
    """Remove by name; False when there was none."""
    watches = load_watches(path)
    kept = [w for w in watches if w.name != name]
    if len(kept) == len(watches):
        return False
    save_watches(path, kept)
    return True
