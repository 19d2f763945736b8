"""Nothing goes out inside the channel's `quiet_hours` (local time, may span midnight)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from watch.alerts.step import Pending, Step, clock_time


def hold_quiet_hours(step: Step, pending: list[Pending]) -> list[Pending]:
    if step.policy.quiet_hours is None:
        return pending
    start, end = (clock_time(part) for part in step.policy.quiet_hours.split("-"))
    local = step.now.astimezone(ZoneInfo(step.config.alerts.timezone)).time()
    inside = start <= local < end if start <= end else (local >= start or local < end)
    if inside:
        return step.hold(f"quiet hours {step.policy.quiet_hours}")
    return pending
