"""Deliver queued alerts, channel by channel: claim → stages → render → send → record.

    claim → take over crashed claims → watch.alerts.stages (give up old → supersede
          → scorecard alone → backoff → quiet hours → rate limit → digest → group wait)
          → render → send → record

`claim` reads the channel's pending deliveries (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, the row locks held until the result is recorded, so two daemons never send the same
delivery; the server drops the locks if the process dies). What the stages leave becomes one
`Message` per channel (watch.alerts.render), is sent once, and is recorded: sent, or retried
later with backoff (and Retry-After), or failed on a permanent error.

The guarantee is at-least-once with a tiny window: a delivery is marked sent in the same
moment the channel returns, so only a crash between the sink accepting a message and that
commit can send it again. Every retry of the same set of alerts carries the same message
key (email: the same Message-ID), so sinks that deduplicate see one message.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from watch.alerts.channels import Channel, Message
from watch.alerts.render import render
from watch.alerts.stages import STAGES
from watch.alerts.step import Pending, Step, Tally
from watch.clock import iso_z
from watch.config import Config
from watch.db import session_scope
from watch.errors import PermanentDelivery, RetryableDelivery
from watch.schema import Alert, Delivery, DeliveryStatus, StateChange


class Worker:
    """Who claims deliveries: an id stored on the rows it is sending, and a way to tell
    whether another claimer is still alive (a claim of a dead one was cut off by a crash).

    The default suits SQLite, where one daemon runs at a time: any claim found is stale.
    """

    def __init__(self, worker_id: int | None = None, alive: Callable[[int], bool] | None = None):
        self.id = worker_id if worker_id is not None else secrets.randbelow(2**31 - 1) + 1
        self._alive = alive

    def is_alive(self, other: int) -> bool:
        if other == self.id:
            return False  # this process delivers one channel at a time: its old claim is stale
        return self._alive(other) if self._alive else False


@dataclass
class Outcome:
    status: str  # sent | retry | failed
    error: str | None = None
    retry_after: float | None = None


@dataclass
class ChannelReport:
    channel: str
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    superseded: int = 0
    resumed: int = 0  # deliveries taken back after a crash cut their attempt off
    held: str | None = None
    message_key: str | None = None
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the chain


def deliver(
    engine: Engine,
    config: Config,
    channels: Sequence[Channel],
    now: datetime,
    *,
    flush: bool = False,
    worker: Worker | None = None,
    tally: Tally | None = None,
) -> list[ChannelReport]:
    """Run the chain once for every channel; one channel's trouble never stops the others."""
    worker = worker or Worker()
    return [
        deliver_channel(engine, config, channel, now, flush=flush, worker=worker, tally=tally)
        for channel in channels
    ]


def deliver_channel(
    engine: Engine,
    config: Config,
    channel: Channel,
    now: datetime,
    *,
    flush: bool = False,
    worker: Worker | None = None,
    tally: Tally | None = None,
) -> ChannelReport:
    """Claim and stage in one short transaction, send with none open, record in another."""
    worker = worker or Worker()
    report = ChannelReport(channel.name)
    postgres = engine.dialect.name == "postgresql"
    message = None
    with session_scope(engine) as session:
        policy = config.alerts.policy(channel.name)
        step = Step(session, config, channel.name, policy, now, flush=flush, tally=tally)
        pending = claim(session, channel.name, lock=postgres)
        pending = take_over(step, pending, worker)
        for stage in STAGES:
            pending = stage(step, pending)
            if not pending:
                break
        if pending:
            message = render(step, pending)
            for p in pending:  # the claim is committed before the send: a crash leaves a trace
                p.delivery.claimed_by, p.delivery.claimed_at = worker.id, now
                p.delivery.message_key = message.key
                session.add(p.delivery)
    step.emit_logs()
    if message is not None:
        outcome = send(channel, message)
        with session_scope(engine) as session:
            step.session = session
            for p in pending:
                p.delivery = session.get_one(Delivery, p.delivery.id)
            record(step, pending, message, outcome)
        step.emit_logs()
        report.message_key = message.key
        if outcome.error:
            report.errors.append(outcome.error)
    report.held = step.held
    report.sent, report.failed = step.marked["sent"], step.marked["failed"]
    report.superseded, report.retrying = step.marked["superseded"], step.marked["retry"]
    report.resumed = step.marked["resumed"]
    return report


def claim(session: Session, channel: str, *, lock: bool) -> list[Pending]:
    """The channel's pending deliveries, oldest first (locked when `lock`); whether they are
    due is for the stages to say, so that supersede sees every unsent one."""
    query = (
        select(Delivery, Alert, StateChange)
        .join(Alert, col(Alert.id) == Delivery.alert_id)
        .outerjoin(StateChange, col(StateChange.id) == Alert.state_change_id)
        .where(Delivery.channel == channel, Delivery.status == DeliveryStatus.PENDING)
        .order_by(col(Delivery.id))
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=Delivery)  # type: ignore[arg-type]
    return [Pending(d, a, c) for d, a, c in session.exec(query)]


def take_over(step: Step, pending: list[Pending], worker: Worker) -> list[Pending]:
    """Leave deliveries a live daemon is sending; take back those a crash cut off, noting
    that they may arrive twice (the sink may have accepted them before the crash)."""
    keep = []
    for p in pending:
        d = p.delivery
        if d.claimed_by is None:
            keep.append(p)
            continue
        if worker.is_alive(d.claimed_by):
            continue
        d.interrupted += 1
        d.claimed_by = d.claimed_at = None
        d.note = "an attempt was cut off by a crash: this alert may arrive twice"
        step.session.add(d)
        step.marked["resumed"] += 1
        step.note(p, "resumed", d.note)
        keep.append(p)
    return keep


def send(channel: Channel, message: Message) -> Outcome:
    """One attempt; the channel's errors say whether another is worth it."""
    try:
        channel.send(message)
    except RetryableDelivery as error:
        return Outcome("retry", str(error), error.retry_after_seconds)
    except PermanentDelivery as error:
        return Outcome("failed", str(error))
    except Exception as error:  # a channel bug: its text may hold a secret, so name it only
        return Outcome("retry", f"unexpected {type(error).__name__} in channel {channel.name}")
    return Outcome("sent")


def record(step: Step, pending: list[Pending], message: Message, outcome: Outcome) -> None:
    """Write what happened to every delivery in the batch, and log one line per alert."""
    alerts = step.config.alerts
    for p in pending:
        d = p.delivery
        d.attempts += 1
        d.last_attempt_at, d.message_key = step.now, message.key
        d.claimed_by = d.claimed_at = None
        if outcome.status == "sent":
            step.finish(p, DeliveryStatus.SENT)
            continue
        if outcome.status == "failed":
            step.finish(p, DeliveryStatus.FAILED, error=outcome.error)
            continue
        backoff = min(alerts.retry_first * 2 ** (d.attempts - 1), alerts.retry_max)
        if outcome.retry_after is not None:
            backoff = max(backoff, timedelta(seconds=outcome.retry_after))
        d.next_attempt_at, d.last_error = step.now + backoff, outcome.error
        step.session.add(d)
        step.marked["retry"] += 1
        step.note(
            p, "retry", outcome.error, f" next_attempt={iso_z(d.next_attempt_at, seconds=True)}"
        )
