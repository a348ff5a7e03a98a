"""The event clusterer's settings (``ClusterConfig``), read by the vectoriser, the event index and the settler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["ClusterConfig"]


@dataclass(frozen=True)
class ClusterConfig:
    """Tuned on ECB+ dev topics 1-20 (bench/eval_events.py); see docs/events.md."""

    threshold: float = 0.26
    """Least score for an article to join a fragment rather than open one. Above the 0.21 that was best without
    settling: fragments should be pure, since a join is never undone and settles group fragments, not articles."""
    merge_threshold: float = 0.6
    """Least centroid-to-centroid score at which two live events merge."""
    max_gap: timedelta = timedelta(days=4)
    half_life: timedelta = timedelta(days=7)
    incident_gap: timedelta = timedelta(days=30)
    """How far past ``max_gap`` an article may still join an event (online or in a settle) when the two name the
    same calendar day (the incident's date: ``oct-2``, normalised by ``newsrift.stages.events.dates``). The score is
    then faded as at ``max_gap``. Two incidents of one kind happened on different days."""
    retention: timedelta = timedelta(days=30)
    """Events quiet for longer than this are forgotten with their articles' placements, so a worker that runs for
    months keeps a bounded store. Must exceed ``max_gap`` (a forgotten event could no longer take articles anyway)
    and Kafka's redelivery horizon (a redelivered article of a forgotten event would open a new event)."""
    forget_every: int = 200
    """Articles between two sweeps for events past ``retention``."""
    title_weight: float = 2.0
    weights: tuple[tuple[str, float], ...] = (("w", 0.45), ("b", 0.2), ("p", 0.25), ("y", 0.1), ("d", 0.1))
    """Channel weights: words, bigrams, names, years, calendar dates. A channel missing on either side scores
    zero."""
    query_terms: int = 400
    """Terms per channel of an article used to score events (the heaviest ones)."""
    probe_terms: int = 15
    """Heaviest terms per channel used to find candidate events through the inverted index (rare terms have short
    posting lists, which keeps the cost flat as live events grow)."""
    probe_max: int = 20
    """A probe term held by more live fragments than this finds no candidates (it says little about which event
    an article belongs to, and walking its list would make a join's cost grow with the live events); nor does a
    heavy term held by more than this many live fragments find a settle's neighbours."""
    rerank: int = 12
    """Candidates, best first by the probe score, that get the full score."""
    centroid_terms: int = 400
    """Terms per channel an event keeps: bounds state and the inverted index."""
    prior_docs: int = 50
    fold_every: int = 4000
    """Articles whose document-frequency increments wait, one ``df+:<n>`` key per article, before they are folded
    into the ``df:<page>`` pages. A store write per article instead of one per distinct term (about 220): in the
    worker every write is a changelog message. A fold rewrites every page touched since the last one, which is
    most of them, so its size grows with the vocabulary (about 9.4 MB with 600k buckets filled); 4,000 articles
    keep that near 2.3 KiB per article and a restart replays at most 4,000 small keys."""
    listed_articles: int = 1000
    """Article ids a fragment record lists, the most recent ones; ``count`` counts them all. A story that runs for
    weeks across many feeds gathers tens of thousands of articles, and the record is one table value (Kafka
    refuses values over 1 MB; 20-character ids are 23 bytes each) that is re-sent with every article that joins."""
    conflicts: tuple[tuple[str, float], ...] = (("y", 0.1),)
    """Penalty per channel when the article's heaviest term and the event's are each absent from the other side:
    an article about 2011 and an event about 2008 are evidence of two events of one kind, not a missing match."""
    settle_every: int = 50
    """Articles between two settles (``settle``): the recent fragments are grouped again from scratch. 0 turns
    settling off, and then every fragment is its own event."""
    provisional: float = 0.21
    """An article that scores this much against an event, but less than ``threshold``, opens a fragment of its own
    that starts in that event (the first answer), and the next settle decides. Without settling it would join."""
    settle_cut: float = 0.2
    """Least average-link score (the mean pairwise score of two groups' articles) at which a settle joins them."""
    settle_window: timedelta = timedelta(days=4)
    """Fragments whose last article is older than this (in stream time) are no longer regrouped, unless a group
    still live holds them."""
    settle_max: int = 3000
    """Most fragments a settle of the whole window starts from (the most recently active first): the first settles
    of a stream and the first once rarity counts; the others start from what changed (``settle_neighbours``)."""
    settle_neighbours: int = 4
    """Fragments outside the changed groups that a settle regroups with each fragment of them: the closest by
    their shared heaviest terms (and every one sharing a rare word). Bounds a settle by what changed."""
    settle_region: int = 400
    """Most fragments a local settle regroups: past the changed groups, their neighbours come in (with their groups)
    by evidence, a shared rare word first, then the closest by shared heavy terms, until the region is this large.
    Bounds a settle's cost by what changed, whatever the number of live events."""
    rare_bonus: float = 0.15
    """Added to the score of two articles that share a word at most ``rare_df`` articles hold (counted when the
    settle runs, so with hindsight): a venue, a spokesman's name, a detail of this event rather than of its kind."""
    rare_df: int = 3
    rare_after: int = 30
    """Articles seen before rarity counts: in the first few hundred articles nearly every word is in at most
    ``rare_df`` of them, and settles that early would group fragments on words that are merely new."""
    rare_keep: int = 200
    """Most rare-word buckets an article's placement record keeps (the words rare when it arrived)."""
