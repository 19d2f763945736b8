"""next_poll: backoff, Retry-After and clamping, as one table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watch.feeds.schedule import next_poll

NOW = datetime(2019, 3, 27, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)

CASES = [
    # (case, interval, failures, retry_after, expected wait)
    ("healthy feed waits its interval", 30 * M, 0, None, 30 * M),
    ("one failure doubles the interval", 30 * M, 1, None, 60 * M),
    ("three failures wait eight intervals", 30 * M, 3, None, 240 * M),
    ("backoff stops at the 24 h cap", 30 * M, 10, None, 24 * H),
    ("a thousand failures still wait 24 h", 30 * M, 1000, None, 24 * H),
    ("an interval under 5 min is raised to 5 min", 1 * M, 0, None, 5 * M),
    ("a zero interval is raised to 5 min", timedelta(0), 3, None, 5 * M),
    ("a short interval backs off from itself, then clamps", 1 * M, 2, None, 5 * M),
    ("an interval over a day is cut to 24 h", 3 * D, 0, None, 24 * H),
    ("retry-after longer than the backoff wins", 30 * M, 1, 2 * H, 2 * H),
    ("retry-after shorter than the interval changes nothing", 30 * M, 0, 10 * M, 30 * M),
    ("retry-after beyond the 24 h cap is honoured", 30 * M, 1, 2 * D, 2 * D),
    ("retry-after over 7 days is read as 7 days", 30 * M, 1, 90 * D, 7 * D),
    ("retry-after of zero keeps the backoff", 30 * M, 2, timedelta(0), 120 * M),
]


@pytest.mark.parametrize(
    ("interval", "failures", "retry_after", "wait"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_next_poll(
    interval: timedelta, failures: int, retry_after: timedelta | None, wait: timedelta
) -> None:
    assert (
        next_poll(NOW, interval, consecutive_failures=failures, retry_after=retry_after)
        == NOW + wait
    )


def test_next_poll_honours_custom_bounds() -> None:
    def poll(interval: timedelta, failures: int = 0) -> datetime:
        return next_poll(
            NOW, interval, consecutive_failures=failures, min_interval=M, max_interval=2 * H
        )

    assert poll(1 * M) == NOW + 1 * M
    assert poll(1 * H, failures=5) == NOW + 2 * H


@pytest.mark.parametrize(
    "kwargs",
    [
        {"consecutive_failures": -1},
        {"min_interval": 2 * H, "max_interval": 1 * H},
    ],
    ids=["negative failures", "min over max"],
)
def test_next_poll_rejects_nonsense(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        next_poll(NOW, 30 * M, **kwargs)
