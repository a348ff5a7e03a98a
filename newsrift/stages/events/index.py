"""The event index: the live fragments, their inverted indexes, candidates and scores, and where an article joins.

A *fragment* is what online joins build (a join is never undone); an *event* is a group of fragments that a settle
formed (``settle.py``), named by its label fragment. The index keeps in memory what every decision reads: the live
fragments (those not merged, last active after the quiet cut), an inverted index over their centroids (candidates
for a join), one over their ``probe_terms`` heaviest terms (a settle's neighbours), and a catalogue of every
fragment in the store (last activity, merges, groups) so that forgetting reads no record it does not drop. All of it
is rebuilt from the store, so a restart gives the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from newsrift.stages.events.config import ClusterConfig
from newsrift.stages.events.state import EventState, Fragment, Vector
from newsrift.stages.events.vectoriser import dot, norm, same_day, top

__all__ = ["EventIndex"]


class EventIndex:
    def __init__(self, state: EventState, config: ClusterConfig) -> None:
        self.state = state
        self.cfg = config
        self.weights = dict(config.weights)
        self.live: dict[str, Fragment] = {}
        # (channel, term) -> live fragments whose centroid holds the term (join candidates).
        self.postings: dict[tuple[str, str], set[str]] = {}
        # (channel, term) -> live fragments holding it among their ``probe_terms`` heaviest (settle neighbours).
        self.tops: dict[str, tuple[tuple[str, str], ...]] = {}
        self.top_postings: dict[tuple[str, str], set[str]] = {}
        # The catalogue: last activity of every unmerged fragment in the store, where merged ones went, the groups.
        self.last: dict[str, datetime | None] = {}
        self.merged: dict[str, str] = {}
        self.groups: dict[str, list[str]] = {g: state.group(g) or [] for g in state.group_labels()}
        self.changed: set[str] = set()
        """Live fragments that took an article since the last settle."""
        self.latest: datetime | None = None
        """The latest article time known (of any fragment)."""
        clock = state.clock()
        quiet = clock.quiet_before
        for fid in state.fragment_ids():
            frag = state.fragment(fid)
            assert frag is not None
            if frag.last is not None and (self.latest is None or frag.last > self.latest):
                self.latest = frag.last
            if frag.merged_into:
                self.merged[fid] = frag.merged_into
                continue
            self.last[fid] = frag.last
            if frag.centroid and (frag.last is None or quiet is None or frag.last >= quiet):
                self.post(fid, frag)
                if frag.changed > (clock.settled_at or 0):
                    self.changed.add(fid)

    # -- the caches --------------------------------------------------------------------------------------------

    def post(self, fid: str, frag: Fragment) -> None:
        """Index a live fragment; one already indexed is re-indexed by difference (a join changes few of its
        terms, and the postings are the largest structure the index keeps)."""
        old = self.live.get(fid)
        self.live[fid] = frag
        self.last[fid] = frag.last
        for ch, vec in frag.centroid.items():
            had = old.centroid.get(ch, {}) if old is not None else {}
            for t in vec:
                if t not in had:
                    self.postings.setdefault((ch, t), set()).add(fid)
        if old is not None:
            for ch, vec in old.centroid.items():
                now = frag.centroid.get(ch, {})
                for t in vec:
                    if t not in now:
                        self._drop((ch, t), fid, self.postings)
        tops = tuple((ch, t) for ch, vec in sorted(frag.centroid.items()) for t in top(vec, self.cfg.probe_terms))
        before = set(self.tops.get(fid, ()))
        self.tops[fid] = tops
        for key in tops:
            if key not in before:
                self.top_postings.setdefault(key, set()).add(fid)
        for key in before.difference(tops):
            self._drop(key, fid, self.top_postings)

    @staticmethod
    def _drop(key: tuple[str, str], fid: str, postings: dict[tuple[str, str], set[str]]) -> None:
        s = postings.get(key)
        if s is not None:
            s.discard(fid)
            if not s:
                del postings[key]

    def unpost(self, fid: str) -> None:
        frag = self.live.pop(fid, None)
        if frag is None:
            return
        for ch, vec in frag.centroid.items():
            for t in vec:
                self._drop((ch, t), fid, self.postings)
        for key in self.tops.pop(fid, ()):
            self._drop(key, fid, self.top_postings)

    def put(self, fid: str, frag: Fragment) -> None:
        """Write a fragment record, keeping the live cache (not the inverted indexes) and the catalogue in step."""
        self.state.put_fragment(fid, frag)
        if fid in self.live:
            self.live[fid] = frag
        if frag.merged_into:
            self.merged[fid] = frag.merged_into
            self.last.pop(fid, None)
        else:
            self.last[fid] = frag.last

    def fragment(self, fid: str) -> Fragment | None:
        return self.live.get(fid) or self.state.fragment(fid)

    def put_group(self, label: str, members: list[str]) -> None:
        self.groups[label] = members
        self.state.put_group(label, members)

    def drop_group(self, label: str) -> None:
        if self.groups.pop(label, None) is not None:
            self.state.drop_group(label)

    def forget(self, fid: str) -> None:
        self.unpost(fid)
        self.state.drop_fragment(fid)
        self.last.pop(fid, None)
        self.merged.pop(fid, None)
        self.changed.discard(fid)
        self.drop_group(fid)

    # -- events and fragments ----------------------------------------------------------------------------------

    def resolve(self, fid: str) -> str:
        """Follow online merges (``merged_into``) to the surviving fragment."""
        seen: set[str] = set()
        while fid in self.merged and fid not in seen:
            seen.add(fid)
            fid = self.merged[fid]
        return fid

    def label(self, fragment: str) -> str:
        """The event a fragment belongs to: the fragment itself, or the group a settle put it in."""
        f = self.resolve(fragment)
        seen: set[str] = set()
        while f not in seen:
            seen.add(f)
            frag = self.fragment(f)
            g = (frag.group or f) if frag else f
            if g == f:
                return f
            g = self.resolve(g)
            if g == f or (g not in self.live and g not in self.last):
                return f
            f = g
        return f

    def members(self, fragment: str) -> list[str]:
        """The fragments of a fragment's current group (itself included), those still scored."""
        label = self.label(fragment)
        out = []
        for member in [label, *self.groups.get(label, ())]:
            if member not in out and member not in self.merged:
                frag = self.fragment(member)
                if frag is not None and frag.centroid:
                    out.append(member)
        return out or [fragment]

    # -- scores ------------------------------------------------------------------------------------------------

    def score(self, vec: Vector, frag: Fragment) -> float:
        """Weighted per-channel cosine with the centroid, less the conflict penalties (the article's heaviest term
        and the fragment's each absent from the other side)."""
        score = 0.0
        for ch, weight in self.weights.items():
            a, c = vec.get(ch), frag.centroid.get(ch)
            if a and c:
                score += weight * dot(a, c) / (frag.norms[ch] or 1.0)
        for ch, penalty in self.cfg.conflicts:
            a, c = vec.get(ch), frag.centroid.get(ch)
            if a and c:
                ta = max(a, key=lambda t: (a[t], t))
                tc = max(c, key=lambda t: (c[t], t))
                if ta not in c and tc not in a:
                    score -= penalty
        return score

    def fade(self, when: datetime | None, frag: Fragment, vec: Vector | None = None) -> float:
        """1 for a fragment seen just now, halving every ``half_life``; 0 once quiet for longer than ``max_gap``,
        unless the article names a calendar day the fragment names (``incident_gap``). An unknown time on either
        side (a batch article with no date anywhere) is no evidence either way: 1."""
        if when is None or frag.last is None:
            return 1.0
        return self.reach(abs(when - frag.last), vec is not None and same_day(vec.get("d"), frag.centroid.get("d")))

    def reach(self, gap: timedelta, same_day: bool) -> float:
        if gap > self.cfg.max_gap:
            if not same_day or gap > self.cfg.incident_gap:
                return 0.0
            gap = self.cfg.max_gap
        return float(0.5 ** (gap / self.cfg.half_life))

    def pair_fade(self, a: Fragment, b: Fragment) -> float:
        """The fade between two fragments: by the gap between their activity spans."""
        if a.first is None or a.last is None or b.first is None or b.last is None:
            return 1.0  # a fragment of unknown time: no evidence either way
        return self.reach(max(timedelta(0), a.first - b.last, b.first - a.last),
                          same_day(a.centroid.get("d"), b.centroid.get("d")))

    def candidates(self, vec: Vector, when: datetime | None, exclude: str | None = None) -> list[str]:
        """Live fragments within reach of ``when`` sharing the article's heaviest terms, the best ``rerank`` by
        that partial score. A term held by more than ``probe_max`` fragments is not walked: it does not tell which
        one, and walking it would make a join's cost grow with the live events. Out-of-reach fragments never take
        a slot, so the answer does not depend on which of them are still in the index."""
        partial: dict[str, float] = {}
        reach: dict[str, bool] = {}
        for ch, terms in vec.items():
            weight = self.weights.get(ch, 0.0)
            for t, w in top(terms, self.cfg.probe_terms).items():
                posting = self.postings.get((ch, t), ())
                if len(posting) > self.cfg.probe_max:
                    continue
                for fid in posting:
                    frag = self.live[fid]
                    ok = reach.get(fid)
                    if ok is None:
                        ok = reach[fid] = self.fade(when, frag, vec) > 0.0
                    if ok:
                        partial[fid] = partial.get(fid, 0.0) + weight * w * frag.centroid[ch][t] / (
                            frag.norms[ch] or 1.0)
        partial.pop(exclude or "", None)
        best = sorted(partial.items(), key=lambda kv: (-kv[1], kv[0]))[: self.cfg.rerank]
        return sorted(fid for fid, _ in best)

    # -- joins -------------------------------------------------------------------------------------------------

    def best(self, vec: Vector, when: datetime | None) -> tuple[float, str] | None:
        """The best-scoring candidate fragment (score faded by time), or None."""
        best: tuple[float, str] | None = None
        for fid in self.candidates(vec, when):
            frag = self.live[fid]
            fade = self.fade(when, frag, vec)
            if fade == 0.0:
                continue
            s = self.score(vec, frag) * fade
            if best is None or s > best[0]:
                best = (s, fid)
        return best

    def open(self, fid: str, title: str, article_id: str, vec: Vector, when: datetime | None, n: int,
             near: str | None) -> str:
        """A new fragment of one article; with ``near`` (a fragment it nearly joined) it starts in that one's event
        until the next settle decides. Returns the event it shows."""
        frag = Fragment(title=title, articles=[article_id], count=1, centroid=vec, norms={ch: 1.0 for ch in vec},
                        first=when, last=when, size=1, changed=n)
        label = fid
        if near is not None:
            label = self.label(near)
            frag.group = label
            self.put_group(label, sorted({*(self.groups.get(label) or [label]), fid}))
        self.state.put_fragment(fid, frag)
        self.post(fid, frag)
        self.changed.add(fid)
        return label

    def join(self, fid: str, article_id: str, vec: Vector, when: datetime | None,
             n: int) -> tuple[tuple[str, ...], list[tuple[str, str, list[str]]]]:
        """Add an article to a fragment, then fold in the live fragments that came close (``merge_threshold``).
        Returns the fragments merged and the moves as (from event, to event, articles)."""
        frag = self.absorbed(self.live[fid], vec, 1)  # indexed as it was until it is posted again
        self.listed(frag, [article_id], 1)
        frag.changed = n
        if when is not None:
            frag.last = max(when, frag.last or when)
            frag.first = min(when, frag.first or when)
        merged, moves = self._merge_close(fid, frag, when)
        self.state.put_fragment(fid, frag)
        self.post(fid, frag)
        self.changed.add(fid)
        return merged, moves

    def absorbed(self, frag: Fragment, vec: Vector, k: int) -> Fragment:
        """A copy of the fragment with a vector added to its centroid (an article's, or another centroid with
        ``k`` members)."""
        cent = {ch: dict(v) for ch, v in frag.centroid.items()}
        for ch, v in vec.items():
            c = cent.setdefault(ch, {})
            for t, w in v.items():
                c[t] = c.get(t, 0.0) + w
        cent = {ch: {t: round(w, 5) for t, w in top(c, self.cfg.centroid_terms).items()} for ch, c in cent.items()}
        return Fragment(title=frag.title, articles=frag.articles, count=frag.count, centroid=cent,
                        norms={ch: round(norm(c), 6) for ch, c in cent.items()}, first=frag.first, last=frag.last,
                        size=frag.size + k, changed=frag.changed, group=frag.group, merged_into=frag.merged_into)

    def listed(self, frag: Fragment, article_ids: Iterable[str], count: int) -> None:
        """Add articles to a fragment record: ``count`` more in all, the ids of the most recent kept."""
        frag.count += count
        frag.articles = [*frag.articles, *article_ids][-self.cfg.listed_articles:]

    def _merge_close(self, fid: str, frag: Fragment,
                     when: datetime | None) -> tuple[tuple[str, ...], list[tuple[str, str, list[str]]]]:
        """Fold live fragments whose centroid now comes close to this one into it (in place); the absorbed record
        the merge. A fragment grouped with others under another event is left to the next settle; a lone one that
        merges moves its articles to this fragment's event."""
        unit = {ch: top({t: w / (frag.norms[ch] or 1.0) for t, w in c.items()}, self.cfg.query_terms)
                for ch, c in frag.centroid.items()}
        merged: list[str] = []
        moves: list[tuple[str, str, list[str]]] = []
        label = self.label(fid)
        for other in self.candidates(unit, when, exclude=fid):
            o = self.live[other]
            if self.fade(when, o, unit) == 0.0:
                continue
            other_label = self.label(other)
            if other in self.groups or (other_label != label and other_label != other):
                continue  # a group's label, or a fragment of another group: the next settle decides
            if self.score(unit, o) < self.cfg.merge_threshold:
                continue
            if other_label != label:
                moves.append((other, label, list(o.articles)))
            self.unpost(other)
            grown = self.absorbed(frag, o.centroid, o.size)  # a centroid is already the sum of its members
            frag.centroid, frag.norms, frag.size = grown.centroid, grown.norms, grown.size
            self.listed(frag, o.articles, o.count)
            frag.first = _earliest(frag.first, o.first)
            frag.last = _latest(frag.last, o.last)
            # A merged fragment is never scored again: its record keeps no centroid.
            gone = Fragment(title=o.title, articles=o.articles, count=o.count, centroid={}, norms={}, first=o.first,
                            last=o.last, size=o.size, changed=o.changed, group=o.group, merged_into=fid)
            self.put(other, gone)
            self.changed.discard(other)
            merged.append(other)
        return tuple(merged), moves


def _earliest(x: datetime | None, y: datetime | None) -> datetime | None:
    return min(x, y) if x and y else (x or y)


def _latest(x: datetime | None, y: datetime | None) -> datetime | None:
    return max(x, y) if x and y else (x or y)
