"""When to poll a feed next: polite polling in one function.

The rule, in order:

1. Start from the feed's `interval`.
2. Back off on failures: `interval * 2 ** consecutive_failures` (1 failure doubles it, 2
   quadruple it, ...).
3. Clamp to `[min_interval, max_interval]` (defaults 5 minutes and 24 hours): never hammer a
   server, never forget a feed for more than a day.
4. Honour `Retry-After`: the wait is never shorter than what the server asked, even beyond
   `max_interval`, since polling earlier only earns another 429/503. An ask over 7 days is read
   as 7 days, so a broken header cannot silence a feed for good.

The next poll is `now + wait`. There is no jitter: the result is a pure function of its inputs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from watch.config.model import MIN_POLL_INTERVAL

__all__ = ["MAX_RETRY_AFTER", "next_poll"]

MAX_RETRY_AFTER = timedelta(days=7)


def next_poll(
    now: datetime,
    interval: timedelta,
    *,
    consecutive_failures: int = 0,
    retry_after: timedelta | None = None,
    min_interval: timedelta = MIN_POLL_INTERVAL,
    max_interval: timedelta = timedelta(hours=24),
) -> datetime:
    """The time of the next poll of a feed polled (or tried) at `now`; see the module rule."""
    if consecutive_failures < 0:
        raise ValueError(f"consecutive_failures must be >= 0, not {consecutive_failures}")
    if min_interval > max_interval:
        raise ValueError(f"min_interval {min_interval} is over max_interval {max_interval}")
    wait = max(interval, timedelta(0))
    for _ in range(consecutive_failures):  # doubling stops at the cap: no overflow, few steps
        if wait >= max_interval or not wait:
            break
        wait *= 2
    wait = min(max(wait, min_interval), max_interval)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + wait
