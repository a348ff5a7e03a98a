"""Per-feed state that survives restarts: validators, failures, when to poll next, and the items already seen."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FeedState", "StateStore"]


@dataclass
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_success: str | None = None
    failures: int = 0
    last_error: str | None = None
    next_due: float = 0.0
    interval: float | None = None
    seen: dict[str, list[Any]] = field(default_factory=dict)  # article_id -> [item hash, revision]


class StateStore:
    """One small JSON file per feed, written atomically (a crash leaves the old file, never half a new one)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, url: str) -> Path:
        return self.dir / (hashlib.sha1(url.encode()).hexdigest()[:24] + ".json")

    def load(self, url: str) -> FeedState:
        p = self._path(url)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            return FeedState(**{k: v for k, v in data.items() if k in FeedState.__dataclass_fields__})
        except FileNotFoundError:
            return FeedState(url)
        except (ValueError, TypeError):
            # A corrupt state file costs a re-poll (items are deduplicated downstream by id), not a crash.
            return FeedState(url)

    def save(self, state: FeedState) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(state), fh)
        os.replace(tmp, self._path(state.url))
