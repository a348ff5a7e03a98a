"""send_alerts: dispute changes (news.disputes.v1) -> alerts (news.alerts.v1) delivered once to the configured
sinks; RetryAlerts: alerts a sink refused for now (news.alerts.retry.v1), tried again when due."""

from __future__ import annotations

from newsrift import topics
from newsrift.runtime.runner import Runtime
from newsrift.stages.alerts.runtime import retry_policy
from newsrift.stages.alerts.step import AlertStep, retrier_service


def register(rt: Runtime) -> None:
    policy = retry_policy(rt.settings)

    def count(stage: str) -> None:
        rt.dead_lettered[stage] += 1

    tables = {"sent": rt.table("alerts-by-id")}
    step = AlertStep(rt.settings, policy, count)
    rt.stage("send_alerts", topics.DISPUTES, step, tables, every=step.prune)
    rt.app.service(retrier_service(rt.settings, policy, count))
