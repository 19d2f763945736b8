"""At most one message per `min_interval` on the channel."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from watch.alerts.step import Pending, Step, span
from watch.clock import aware
from watch.schema import Delivery


def hold_rate_limit(step: Step, pending: list[Pending]) -> list[Pending]:
    interval = step.policy.min_interval
    if interval is None:
        return pending
    last = aware(
        step.session.exec(
            select(func.max(Delivery.sent_at)).where(Delivery.channel == step.channel)
        ).one()
    )
    if last is not None and step.now < last + interval:
        return step.hold(f"rate limit: one message per {span(interval)}")
    return pending
