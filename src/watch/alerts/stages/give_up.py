"""Give up on what has waited longer than `alerts.max_age`: failed, visible, never dropped."""

from __future__ import annotations

from watch.alerts.step import Pending, Step, span
from watch.schema import DeliveryStatus


def give_up_old(step: Step, pending: list[Pending]) -> list[Pending]:
    limit = step.config.alerts.max_age
    keep = []
    for p in pending:
        if step.now - p.delivery.queued_at > limit:
            reason = f"gave up after {span(limit)}"
            if p.delivery.last_error:
                reason += f"; last error: {p.delivery.last_error}"
            step.finish(p, DeliveryStatus.FAILED, error=reason)
        else:
            keep.append(p)
    return keep
