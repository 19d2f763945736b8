"""With `digest` times, an alert waits for the first digest time after it was queued."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from watch.alerts.step import Pending, Step, clock_time


def hold_for_digest(step: Step, pending: list[Pending]) -> list[Pending]:
    if not step.policy.digest:
        return pending
    zone = ZoneInfo(step.config.alerts.timezone)
    local = step.now.astimezone(zone)
    times = [clock_time(t) for t in step.policy.digest]
    candidates = [
        datetime.combine(local.date() - timedelta(days=back), t, tzinfo=zone)
        for back in (0, 1)
        for t in times
    ]
    last_digest = max(c for c in candidates if c <= local)
    oldest = min(p.delivery.queued_at for p in pending)
    if last_digest < oldest:
        return step.hold("waiting for the next digest")
    return pending
