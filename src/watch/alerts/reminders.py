"""Reminders: one notice per indicator and reading whose open window closes soon.

A reminder goes out once per indicator and reading when the reading's window closes within
`alerts.reminder_days` and its outcome is still open; the key names the window, so the job
may run as often as it likes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from watch.alerts.outbox import enqueue
from watch.config import Config
from watch.locks import Job, one_at_a_time
from watch.schema import Alert, AlertKind
from watch.states import current_period, resolve_reading


def remind_windows(
    session: Session, config: Config, channels: Sequence[str], now: datetime
) -> list[Alert]:
    """Queue one reminder per indicator and reading whose open window closes soon."""
    days = config.alerts.reminder_days
    if not days:
        return []
    one_at_a_time(session, Job.REMINDERS)
    queued = []
    for indicator in config.indicators:
        for reading in config.readings:
            closes = current_period(config, indicator, reading.id, now).end
            if not now < closes <= now + timedelta(days=days):
                continue
            if resolve_reading(session, config, indicator, reading.id, now).outcome is not None:
                continue
            left = (closes - now).days
            forecast = indicator.forecasts[reading.id]
            alert = enqueue(
                session,
                key=f"reminder:{indicator.id}:{reading.id}:{closes.date().isoformat()}",
                kind=AlertKind.REMINDER,
                subject=indicator.id,
                title=(
                    f"{indicator.id}: the window of {reading.id} closes on {closes.date()} "
                    f"(in {left} day{'s' if left != 1 else ''})"
                ),
                lines=[
                    f"{indicator.title}: still open; {reading.id} forecast {forecast.p:.2f}",
                    f"if nothing is confirmed by then and it was watched, it resolves no "
                    f"for {reading.id}",
                ],
                channels=channels,
                now=now,
            )
            if alert:
                queued.append(alert)
    return queued
