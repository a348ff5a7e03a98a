"""Per-feed state that survives restarts: validators, failures, when to poll next, and the items already seen."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["MAX_SEEN", "FeedState", "ItemStatus", "StateStore", "jsonl_state_dir", "kafka_state_dir",
           "migrate_legacy_state"]

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
    # Since when (unix time) the feed has failed without a success in between; None while it works.
    failing_since: float | None = None
    # When the feed was found dead (no success for PollConfig.dead_after); None while it is alive.
    dead_since: float | None = None
    # "disallowed" while the host's robots.txt disallows the feed for our agent (it is skipped, not fetched).
    robots: str | None = None
    # What the feed has cost in all: requests made for it (robots.txt, feed, full-text pages) and how many failed.
    requests: int = 0
    request_failures: int = 0

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
            for name in ("failing_since", "dead_since"):
                if not isinstance(getattr(state, name), (int, float, type(None))):
                    setattr(state, name, None)
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


# Kafka's own rule for topic names (at most 249 of these characters, not "." or ".."): safe as a folder name too.
_TOPIC_RE = re.compile(r"[A-Za-z0-9._-]{1,249}")
_LEGACY_FILE = re.compile(r"[0-9a-f]{24}\.json")


def kafka_state_dir(state_dir: Path, topic: str) -> Path:
    """Where the feed state of runs publishing to ``topic`` lives: ``<state_dir>/kafka/<topic>/``.

    State is kept per destination: items seen (and ETags stored) by a run into one topic or file say nothing about
    what another destination has received. ``ValueError`` for a name that is no Kafka topic name.
    """
    if not _TOPIC_RE.fullmatch(topic) or topic in (".", ".."):
        raise ValueError(f"{topic!r} is not a Kafka topic name (1-249 of A-Z a-z 0-9 . _ -, not '.' or '..')")
    return state_dir / "kafka" / topic


def jsonl_state_dir(state_dir: Path, path: Path) -> Path:
    """``<state_dir>/jsonl/<file name>-<hash of its resolved path>/``: one folder per output file, the same for
    every spelling of its path (relative, absolute, through a symlinked folder)."""
    resolved = str(path.expanduser().resolve())
    name = re.sub(r"[^A-Za-z0-9._-]", "_", path.name).strip(".")[:60] or "out"
    return state_dir / "jsonl" / f"{name}-{hashlib.sha1(resolved.encode()).hexdigest()[:10]}"


def migrate_legacy_state(state_dir: Path, target: Path) -> int:
    """Move per-feed state files that sit directly in ``state_dir`` (the layout before state was kept per
    destination) into ``target``, unless ``target`` exists already. Returns how many files moved.

    The files go to a temporary sibling folder first, which is renamed to ``target`` at the end: a crash half-way
    leaves the rest at the top level and the temporary folder, and the next call carries on from there.
    """
    if target.exists() or not state_dir.is_dir():
        return 0
    legacy = [p for p in state_dir.iterdir() if _LEGACY_FILE.fullmatch(p.name) and p.is_file()]
    staging = target.with_name(f".{target.name}.migrating")
    if not legacy and not staging.exists():
        return 0
    staging.mkdir(parents=True, exist_ok=True)
    for p in legacy:
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            os.replace(p, staging / p.name)
    try:
        os.rename(staging, target)
    except OSError:
        if not target.exists():
            raise
        for p in staging.iterdir():  # another process finished first: add ours to its folder
            if not (target / p.name).exists():
                os.replace(p, target / p.name)
        with contextlib.suppress(OSError):
            os.rmdir(staging)
    return len(legacy)
