"""The settler: recent fragments regrouped into events with hindsight, and the articles that move.

A settle takes the fragments around what changed since the last one (the fragments that took articles, and those
holding a word a new article made common), their closest recent fragments by shared heaviest terms
(``settle_neighbours``), every recent fragment sharing a still-rare word with one of their articles, and the current
groups of all of these. It joins them by average link: the score of two groups is the mean score of their article
pairs (per-channel centroid dot products divided by both sizes, which is exactly that mean, plus ``rare_bonus`` for
each pair sharing a word at most ``rare_df`` articles hold now), faded by the time between them; the best pair at or
above ``settle_cut`` joins, until none is left. A group is named after its earliest dated fragment, so a group that
only grows keeps its id. Groups outside the region keep their events: they were settled on the same evidence.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timezone

from newsrift.stages.events.config import ClusterConfig
from newsrift.stages.events.index import EventIndex
from newsrift.stages.events.state import EventState, Fragment, Move
from newsrift.stages.events.vectoriser import Vectoriser, dot, top

__all__ = ["Settler"]

_UNKNOWN = datetime.max.replace(tzinfo=timezone.utc)  # sorts an unknown time after every known one


class Settler:
    def __init__(self, state: EventState, index: EventIndex, vectoriser: Vectoriser, config: ClusterConfig) -> None:
        self.state, self.index, self.vectoriser, self.cfg = state, index, vectoriser, config
        # Rare-word bucket -> articles whose placement lists it, and each article's (fragment as placed, rare
        # buckets), which never change once written.
        self.holders: dict[int, list[str]] = {}
        self._placements: dict[str, tuple[str, tuple[int, ...]]] = {}
        # Centroid dot products of fragment pairs, valid while both hold the same number of articles.
        self._dots: dict[tuple[str, str], tuple[int, int, float]] = {}
        self.new: set[str] = set()
        """Articles placed since the last settle."""
        settled = state.clock().settled_at or 0
        for aid in state.placed_ids():
            rec = state.placed(aid)
            assert rec is not None
            for b in rec.rare:
                self.holders.setdefault(b, []).append(aid)
            if rec.number > settled:
                self.new.add(aid)

    def placed(self, article_id: str, rare: list[int]) -> None:
        for b in rare:
            self.holders.setdefault(b, []).append(article_id)
        self.new.add(article_id)

    def dropped(self, article_id: str, rare: tuple[int, ...]) -> None:
        for b in rare:
            holders = self.holders.get(b)
            if holders is not None and article_id in holders:
                holders.remove(article_id)
                if not holders:
                    del self.holders[b]
        self.new.discard(article_id)
        self._placements.pop(article_id, None)

    def settle(self, n: int, last: int | None) -> list[Move]:
        """Regroup around what changed since the settle at article ``last`` (all recent fragments for the first
        settles and the first once rarity counts); ``n`` is the article count now. Returns the moves."""
        eligible = self._eligible()
        changed = None if last is None or last < self.cfg.rare_after else self._changed(eligible)
        self.new.clear()
        self.index.changed.clear()
        if not eligible:
            return []
        if changed is None:
            seeds = [f for _, f in sorted(((_time(eligible[f].last), f) for f in eligible),
                                           reverse=True)[: self.cfg.settle_max]]
        else:
            seeds = list(changed)
        frags, core = self._region(sorted(seeds), eligible, n)
        if not frags:
            return []
        ids = sorted(frags)
        pair = self.scores(frags, n, core)
        groups = self._average_link(ids, {f: frags[f].size for f in ids}, pair)
        return self._relabel(frags, groups)

    def _eligible(self) -> dict[str, Fragment]:
        """Fragments a settle may regroup: live ones active within ``settle_window`` of the latest (all of them
        when one has an unknown time, a batch without dates)."""
        live = self.index.live
        known = [f.last for f in live.values() if f.last is not None]
        if len(known) < len(live) or not known:
            return dict(live)
        cutoff = max(known) - self.cfg.settle_window
        return {fid: f for fid, f in live.items() if f.last is not None and f.last >= cutoff}

    def _changed(self, eligible: dict[str, Fragment]) -> set[str]:
        """Fragments whose score against another may have changed since the last settle: those that took articles,
        and those that a word a new article made common may have held together. That word's bonus is gone, which
        only matters between two fragments of one group (the bonus may be what joined them); between fragments
        that were settled apart a lower score keeps them apart. A word that a new article shares while still rare
        pairs that article's fragment with its holders, which ``_region`` finds."""
        seeds = {f for f in self.index.changed if f in eligible}
        for aid in sorted(self.new):
            rec = self.state.placed(aid)
            for b in rec.turned if rec is not None else ():
                held: dict[str, str] = {}  # fragment -> its event
                for other in self.holders.pop(b, ()):  # common from now on: no settle needs its holders again
                    placed = self.placement(other)
                    fid = self.index.resolve(placed[0]) if placed is not None else None
                    if fid is not None and fid in eligible:
                        held[fid] = self.index.label(fid)
                labels = list(held.values())
                seeds.update(f for f, label in held.items() if labels.count(label) > 1)
        return seeds

    def placement(self, article_id: str) -> tuple[str, tuple[int, ...]] | None:
        """An article's fragment (as placed: ``resolve`` follows merges) and rare-word buckets; cached."""
        known = self._placements.get(article_id)
        if known is None:
            rec = self.state.placed(article_id)
            if rec is None:
                return None
            known = self._placements[article_id] = (rec.fragment, rec.rare)
        return known

    def _region(self, seeds: list[str], eligible: dict[str, Fragment],
                n: int) -> tuple[dict[str, Fragment], set[str]]:
        """What a settle regroups: the seeds' groups, the recent fragments those could pair with (a shared heavy
        term or a shared rare word, within reach in time), and those fragments' groups."""
        index = self.index
        out: dict[str, Fragment] = {}

        def take(f: str) -> None:
            for member in index.members(f):
                if member not in out:
                    frag = index.fragment(member)
                    assert frag is not None
                    out[member] = frag

        for f in seeds:
            if f not in out:
                take(f)
        core = sorted(out)
        near: dict[str, float] = {}  # fragment -> its evidence (a shared rare word first, then shared terms)
        counting = n >= self.cfg.rare_after
        for f in seeds:
            frag = out[f]
            # The closest fragments by their shared heaviest terms, best ``settle_neighbours`` within reach.
            partial: dict[str, float] = {}
            for ch, t in index.tops.get(f, ()):
                holders = index.top_postings.get((ch, t), ())
                if len(holders) > self.cfg.probe_max:
                    continue  # heavy in that many fragments, the term does not tell which are close
                weight = index.weights.get(ch, 0.0)
                mine = frag.centroid[ch][t] / (frag.norms[ch] or 1.0)
                for g in holders:
                    if g in eligible and g not in out:
                        other = eligible[g]
                        partial[g] = partial.get(g, 0.0) + weight * mine * other.centroid[ch][t] / (
                            other.norms[ch] or 1.0)
            kept = 0
            for g, _ in sorted(partial.items(), key=lambda kv: (-kv[1], kv[0])):
                if kept >= self.cfg.settle_neighbours:
                    break
                if index.pair_fade(frag, eligible[g]) > 0.0:
                    near[g] = max(near.get(g, 0.0), partial[g])
                    kept += 1
            for aid in frag.articles if counting else ():
                known = self.placement(aid)
                if known is None or known[0] != f:
                    continue
                for b in known[1]:
                    if self.vectoriser.rare(b):
                        for holder in self.holders.get(b, ()):
                            placed = self.placement(holder)
                            label = index.resolve(placed[0]) if placed is not None else None
                            if label is not None and label in eligible and label not in out:
                                near[label] = float("inf")
        # Most evidence first, until the region holds ``settle_region`` fragments: a settle's cost is bounded by
        # what changed, never by how many events are live.
        for g, _ in sorted(near.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(out) >= self.cfg.settle_region:
                break
            if g not in out and any(index.pair_fade(out[f], eligible[g]) > 0.0 for f in core):
                take(g)
        return out, set(core)

    def scores(self, frags: dict[str, Fragment], n: int,
               core: set[str] | None = None) -> dict[tuple[str, str], float]:
        """Mean pair score of every two fragments that share a heavy term or a rare word (others score 0). With
        ``core``, pairs of two groups outside it are not scored again (only their own members' pairs are)."""
        index = self.index
        where: dict[str, str] = {}
        rare_posts: dict[int, list[str]] = {}
        counting = n >= self.cfg.rare_after
        for f in sorted(frags):
            for aid in frags[f].articles:
                known = self.placement(aid)
                if known is None or known[0] != f:
                    continue
                where[aid] = f
                for bucket in known[1] if counting else ():
                    if self.vectoriser.rare(bucket):
                        rare_posts.setdefault(bucket, []).append(aid)
        rare_pairs: set[tuple[str, str]] = set()
        for arts in rare_posts.values():
            for i, x in enumerate(arts):
                for y in arts[i + 1:]:
                    if where[x] != where[y]:
                        rare_pairs.add((min(x, y), max(x, y)))
        shared: dict[tuple[str, str], int] = {}
        for x, y in rare_pairs:
            fa, fb = sorted((where[x], where[y]))
            shared[(fa, fb)] = shared.get((fa, fb), 0) + 1
        postings: dict[tuple[str, str], list[str]] = {}
        for f in sorted(frags):
            tops = index.tops.get(f)
            if tops is None:  # a fragment no longer live, in a group that is
                tops = tuple((ch, t) for ch, vec in sorted(frags[f].centroid.items())
                             for t in top(vec, self.cfg.probe_terms))
            for key in tops:
                postings.setdefault(key, []).append(f)
        candidates = set(shared)
        if core is None:
            for fs in postings.values():
                if len(fs) > 1:
                    candidates.update((a, b) for i, a in enumerate(fs) for b in fs[i + 1:])
        else:
            label = {f: index.label(f) for f in frags}
            candidates = {(a, b) for a, b in candidates if a in core or b in core or label[a] == label[b]}
            for fs in postings.values():
                if len(fs) < 2:
                    continue
                inside = [f for f in fs if f in core]
                for a in inside:
                    candidates.update((min(a, b), max(a, b)) for b in fs if b != a)
                by_label: dict[str, list[str]] = {}
                for f in fs:
                    if f not in core:
                        by_label.setdefault(label[f], []).append(f)
                for members in by_label.values():
                    candidates.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
        out: dict[tuple[str, str], float] = {}
        # Dot products are kept for the next settle only if this one used them: an unchanged pair around what
        # changes is scored again, others are cheap to redo, and the cache stays the size of one settle.
        cached: dict[tuple[str, str], tuple[int, int, float]] = self._dots
        dots: dict[tuple[str, str], tuple[int, int, float]] = {}
        self._dots = dots
        for a, b in sorted(candidates):
            ea, eb = frags[a], frags[b]
            fade = index.pair_fade(ea, eb)
            if fade == 0.0:
                continue
            ka, kb = ea.size, eb.size
            kept = cached.get((a, b))
            if kept is not None and kept[:2] == (ka, kb):
                d = kept[2]
            else:
                d = 0.0
                for ch, weight in index.weights.items():
                    ca, cb = ea.centroid.get(ch), eb.centroid.get(ch)
                    if ca and cb:
                        d += weight * dot(ca, cb)
            dots[(a, b)] = (ka, kb, d)
            pairs = ka * kb
            score = d / pairs
            score += self.cfg.rare_bonus * shared.get((a, b), 0) / pairs
            score *= fade
            if score > 0:
                out[(a, b)] = score
        return out

    def _average_link(self, ids: list[str], size: dict[str, int],
                      pair: dict[tuple[str, str], float]) -> list[list[str]]:
        """Agglomerative average link over a sparse score graph (a missing pair scores 0), ties broken by id."""
        members = {f: [f] for f in ids}
        weight = dict(size)
        near: dict[str, dict[str, float]] = {f: {} for f in ids}
        for (a, b), v in pair.items():
            near[a][b] = v
            near[b][a] = v
        heap = [(-v, a, b) for (a, b), v in pair.items() if v >= self.cfg.settle_cut]
        heapq.heapify(heap)
        while heap:
            v, a, b = heapq.heappop(heap)
            if a not in members or b not in members or near[a].get(b) != -v:
                continue
            # b joins a; a's similarities become the size-weighted mean of both (average link, exact for means).
            wa, wb = weight[a], weight[b]
            merged: dict[str, float] = {}
            for c in set(near[a]) | set(near[b]):
                if c in (a, b):
                    continue
                merged[c] = (wa * near[a].get(c, 0.0) + wb * near[b].get(c, 0.0)) / (wa + wb)
            for c in near.pop(b):
                near[c].pop(b, None)
            members[a] += members.pop(b)
            weight[a] = wa + wb
            near[a] = merged
            for c, val in merged.items():
                near[c][a] = val
                if val >= self.cfg.settle_cut:
                    heapq.heappush(heap, (-val, min(a, c), max(a, c)))
        return [sorted(m) for _, m in sorted(members.items())]

    def _relabel(self, frags: dict[str, Fragment], groups: list[list[str]]) -> list[Move]:
        """Write the new groups and return the moves: for every fragment whose event changed, its articles."""
        index = self.index
        before = {f: index.label(f) for f in frags}
        old_groups = {lab for lab in before.values() if lab in index.groups}
        moved: dict[tuple[str, str], list[str]] = {}
        new_groups: dict[str, list[str]] = {}
        for group in groups:
            # The earliest dated fragment names the group (first article time, then id); undated ones come last.
            label = min(group, key=lambda f: (_time(frags[f].first), f))
            if len(group) > 1:
                new_groups[label] = group
            for f in group:
                want = None if f == label else label
                if frags[f].group != want:
                    frag = frags[f]
                    index.put(f, Fragment(title=frag.title, articles=frag.articles, count=frag.count,
                                          centroid=frag.centroid, norms=frag.norms, first=frag.first,
                                          last=frag.last, size=frag.size, changed=frag.changed, group=want,
                                          merged_into=frag.merged_into))
                if before[f] != label:
                    moved.setdefault((before[f], label), []).extend(frags[f].articles)
        for lab in sorted(old_groups - set(new_groups)):
            index.drop_group(lab)
        for lab, group in sorted(new_groups.items()):
            if index.groups.get(lab) != group:
                index.put_group(lab, group)
        return [Move(a, b, tuple(arts), self.state.claims_of(arts)) for (a, b), arts in sorted(moved.items())]


def _time(t: datetime | None) -> datetime:
    return _UNKNOWN if t is None else t
