"""New alerts wait `group_wait` after the first of them, so a burst goes out as one message."""

from __future__ import annotations

from watch.alerts.step import Pending, Step, span


def wait_for_burst(step: Step, pending: list[Pending]) -> list[Pending]:
    if step.flush or step.policy.digest:
        return pending
    wait = step.policy.group_wait or step.config.alerts.group_wait
    fresh = [p.delivery.queued_at for p in pending if p.delivery.attempts == 0]
    if fresh and step.now < min(fresh) + wait:
        return step.hold(f"group wait {span(wait)}")
    return pending
