"""Time, one way everywhere: aware UTC in, ISO 8601 with `Z` out, a day as [midnight, midnight).

Domain code takes `now` (or a `Clock`) from its caller, so tests move time instead of sleeping;
only the CLI and the daemon read the real clock, through `utc_now`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | str | None) -> datetime | None:
    """Aware UTC from what a database hands back outside the column type (aggregates, plain
    SQL): naive UTC, an ISO string (SQLite), or an aware time in another zone."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_z(value: datetime | date | None, *, seconds: bool = False) -> str | None:
    """'2019-04-25T06:00:00Z' (dates as '2019-04-25'); `seconds` drops the fraction."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        if seconds:
            value = value.replace(microsecond=0)
    return value.isoformat().replace("+00:00", "Z")


def start_of_day(day: date) -> datetime:
    """Midnight UTC opening `day`; windows open and close at these instants."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def last_instant_of(day: date) -> datetime:
    """The last instant of `day`: 'as of day D' sees what was published up to here."""
    return start_of_day(day + timedelta(days=1)) - timedelta(microseconds=1)


def minute(value: datetime | None, *, zone: str = "") -> str:
    """'2019-04-25 06:00' (with `zone`, e.g. ' UTC', appended), or '-' for no time."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") + zone
