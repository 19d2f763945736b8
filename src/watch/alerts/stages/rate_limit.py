"""At most one message per `min_interval` on the channel: the batch waits until the interval
has passed, and when the channel's limits split it, one message goes and the rest wait."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from watch.alerts.render import Outgoing
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


def one_message_per_interval(step: Step, outgoing: list[Outgoing]) -> list[Outgoing]:
    """The messages that may go this cycle: with `min_interval`, the first one only."""
    return outgoing[:1] if step.policy.min_interval is not None else outgoing
