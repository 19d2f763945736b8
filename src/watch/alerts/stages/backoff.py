"""While a failed attempt waits for its retry time (backoff, Retry-After), the channel waits:
new alerts join that retry rather than hammering a sink that is down."""

from __future__ import annotations

from watch.alerts.step import Pending, Step
from watch.clock import iso_z


def hold_backoff(step: Step, pending: list[Pending]) -> list[Pending]:
    waiting = [p.delivery.next_attempt_at for p in pending if p.delivery.attempts]
    if waiting and step.now < max(waiting):
        return step.hold(f"retrying at {iso_z(max(waiting), seconds=True)}")
    return pending
