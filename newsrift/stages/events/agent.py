"""route_articles and assign_events: analysed articles (news.articles.v1) -> one ordered partition
(news.assign.v1) -> placements, events and claims keyed by event; settle_events ticks the regrouping."""

from __future__ import annotations

from functools import partial
from typing import Any

from newsrift import topics
from newsrift.runtime.runner import Runtime
from newsrift.stages.events.step import AssignStep, route, settle_tick


def register(rt: Runtime) -> None:
    rt.stage("route_articles", topics.ARTICLES, route)
    # One partition, like news.assign.v1: the whole recent history in one place (docs/architecture.md).
    tables = {"reprints": rt.table("reprints-store", partitions=1), "events": rt.table("events-store", partitions=1)}
    assign = AssignStep()

    def rebalanced(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        assign.rebalanced()

    rt.app.on_partitions_revoked.connect(rebalanced)  # type: ignore[arg-type]  # mode's type rejects any def
    rt.stage("assign_events", topics.ASSIGN, assign, tables)
    rt.timer(rt.settings.settle_seconds, "settle_events", partial(settle_tick, rt.send))
