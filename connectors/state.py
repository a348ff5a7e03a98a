"""Per-feed state that survives restarts: validators, failures, when to poll next, and the items already seen."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["MAX_SEEN", "FeedState", "ItemStatus", "StateStore"]

ItemStatus = Literal["new", "updated", "skipped"]
# Enough for any real feed's window (feeds list their last 10-100 items); bounds file size and memory.
MAX_SEEN = 5000


@dataclass
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_success: str | None = None
    failures: int = 0
    last_error: str | None = None
    next_due: float = 0.0  # unix time
    interval: float | None = None
    seen: dict[str, list[Any]] = field(default_factory=dict)  # article_id -> [content hash, revision]
    # Where a permanent redirect (301/308) moved the feed: fetched instead of ``url`` from then on. ``url`` (the
    # registry's URL) stays the key of this state, so the seen items, and with them the article ids, carry over.
    moved_to: str | None = None

    @property
    def fetch_url(self) -> str:
        return self.moved_to or self.url

    def classify(self, article_id: str, content_hash: str) -> tuple[ItemStatus, int]:
        """What a poll found: a new item, an edit of a seen one (with its next revision), or a re-publication."""
        prior = self.seen.get(article_id)
        if prior is None:
            return "new", 0
        if prior[0] == content_hash:
            return "skipped", int(prior[1])
        return "updated", int(prior[1]) + 1

    def mark_seen(self, article_id: str, content_hash: str, revision: int) -> None:
        """Call only after the sink acknowledged the item: that ordering is what makes delivery at-least-once."""
        self.seen.pop(article_id, None)  # re-insert so the dict's order is recency order
        self.seen[article_id] = [content_hash, revision]
        if len(self.seen) > MAX_SEEN:
            for key in list(self.seen)[: len(self.seen) - MAX_SEEN]:
                del self.seen[key]


class StateStore:
    """One small JSON file per feed, written atomically (a crash leaves the old file, never half a new one)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, url: str) -> Path:
        return self.dir / (hashlib.sha1(url.encode()).hexdigest()[:24] + ".json")

    def load(self, url: str) -> FeedState:
        p = self.path(url)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            state = FeedState(**{k: v for k, v in data.items() if k in FeedState.__dataclass_fields__})
            if state.url != url or not isinstance(state.seen, dict):
                return FeedState(url)
            if not (isinstance(state.moved_to, str) and state.moved_to.startswith(("http://", "https://"))):
                state.moved_to = None  # only ever an http(s) redirect target; never a path to read from disk
            return state
        except FileNotFoundError:
            return FeedState(url)
        except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
            # A corrupt state file costs a re-publication (ids are deterministic, so consumers dedupe), not a crash.
            return FeedState(url)

    def save(self, state: FeedState) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(state), fh, separators=(",", ":"))
                fh.flush()
                # fsync before the rename: otherwise a power cut can leave a renamed but empty file.
                os.fsync(fh.fileno())
            os.replace(tmp, self.path(state.url))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
