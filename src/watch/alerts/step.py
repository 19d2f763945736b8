"""What every delivery stage works on: the batch (`Pending`) and the channel's `Step`.

A stage has one signature, `stage(step, pending) -> pending`. It may finish rows (failed,
superseded) and drop them from the list; a stage that holds the batch (backoff, quiet hours,
rate limit, digest, group wait) calls `step.hold(reason)`, which returns an empty list: the
rows stay pending for a later cycle, held, never dropped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlmodel import Session

from watch.config import ChannelPolicy, Config
from watch.schema import Alert, Delivery, DeliveryStatus, StateChange

log = logging.getLogger("watch.alerts")

# The posterior of each reading (None before any outcome), for the "current tally" line of
# change messages. The daemon passes one in from watch.scoring; delivery never imports scoring.
Tally = Callable[[Session, Config, datetime], dict[str, float] | None]


@dataclass
class Pending:
    """One delivery on its way, with what it announces."""

    delivery: Delivery
    alert: Alert
    change: StateChange | None = None
    # a crash cut an attempt off: it goes out again as that same message, unchanged, until sent
    cut_off: bool = False


@dataclass
class Step:
    """What every stage may look at: the session, the config, the channel, the clock."""

    session: Session
    config: Config
    channel: str
    policy: ChannelPolicy
    now: datetime
    flush: bool = False  # `watch run --once`: do not wait for a burst to end
    tally: Tally | None = None
    held: str | None = None  # why the batch waits, set by the stage that holds it
    marked: Counter[str] = field(default_factory=Counter)  # deliveries finished, by status
    logs: list[tuple[int, str]] = field(default_factory=list)  # emitted once committed

    def hold(self, reason: str) -> list[Pending]:
        """Keep the whole batch pending for a later cycle, saying why."""
        self.held = reason
        log.debug("channel=%s held reason=%r", self.channel, reason)
        return []

    def finish(self, p: Pending, status: DeliveryStatus, *, error: str | None = None) -> None:
        d = p.delivery
        d.status = status
        if status == DeliveryStatus.SENT:
            d.sent_at = self.now
        if error is not None:
            d.last_error = error
        self.session.add(d)
        self.marked[status] += 1
        self.note(p, status, error if status == DeliveryStatus.FAILED else d.note)

    def note(self, p: Pending, status: str, reason: str | None, extra: str = "") -> None:
        """One log line per alert and channel, written once the transaction commits."""
        level = logging.WARNING if status in ("failed", "retry", "resumed") else logging.INFO
        change = p.change
        indicator = f" indicator={change.indicator_id} state={change.new_state}" if change else ""
        reason_text = f" reason={reason!r}" if reason else ""
        self.logs.append(
            (
                level,
                f"alert={p.alert.id} kind={p.alert.kind}{indicator} channel={self.channel} "
                f"status={status} attempts={p.delivery.attempts}{reason_text}{extra}",
            )
        )

    def emit_logs(self) -> None:
        for level, line in self.logs:
            log.log(level, "%s", line)
        self.logs.clear()


Stage = Callable[[Step, list[Pending]], list[Pending]]


def clock_time(text: str) -> time:
    """'07:30' → 07:30."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def span(delta: timedelta) -> str:
    """A duration as people write it: '90s', '15m', '2h', '1d'."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
