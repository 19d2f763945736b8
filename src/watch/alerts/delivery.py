"""Deliver queued alerts, channel by channel: claim → stages → compose → send → record.

    claim → take over crashed claims → watch.alerts.stages (give up old → supersede
          → scorecard alone → backoff → quiet hours → rate limit → digest → group wait)
          → compose (watch.alerts.render: as many messages as the channel's limits need;
            one of them when the channel has a `min_interval`)
          → per message: count the attempt → send → record

`claim` reads the channel's pending deliveries (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`) and marks the ones it composes into messages as this worker's before the
transaction ends, so two daemons never send the same delivery. Each message is stored under
its key (`OutgoingMessage`) and its deliveries carry that key: the record of which message
carried which alert. Before a message is sent its attempt is counted and committed; after,
its deliveries are recorded: sent, or retried later with backoff (and Retry-After), or failed
on a permanent error. When a channel asks to retry, the messages after it wait too.

The guarantee is at-least-once with a tiny window: a delivery is marked sent in the same
moment the channel returns, so only a crash between the sink accepting a message and that
commit can send it again. Every re-send of a key carries the content first stored under it
(email: the same Message-ID), and a message a crash cut off goes out again alone, never
merged with newer alerts, so sinks that deduplicate see one message.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from watch.alerts.channels import Channel, Message
from watch.alerts.render import Outgoing, compose
from watch.alerts.stages import STAGES, one_message_per_interval
from watch.alerts.step import Pending, Step, Tally
from watch.clock import iso_z
from watch.config import Config
from watch.db import session_scope
from watch.errors import PermanentDelivery, RetryableDelivery
from watch.schema import Alert, Delivery, DeliveryStatus, OutgoingMessage, StateChange


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
    message_key: str | None = None  # of the last message tried
    messages: int = 0  # messages tried
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
    """Claim, stage and compose in one short transaction; then per message count the
    attempt, send with no transaction open, and record the outcome."""
    worker = worker or Worker()
    report = ChannelReport(channel.name)
    postgres = engine.dialect.name == "postgresql"
    outgoing: list[Outgoing] = []
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
            outgoing = one_message_per_interval(step, compose(step, pending, channel.fits))
            for out in outgoing:
                out.message = keep(session, channel.name, out.message, now)
                for p in out.pending:  # this worker's until recorded or given back
                    p.delivery.claimed_by, p.delivery.claimed_at = worker.id, None
                    p.delivery.message_key = out.message.key
                    session.add(p.delivery)
    step.emit_logs()
    for i, out in enumerate(outgoing):
        with session_scope(engine) as session:  # counted before the send: a crash leaves a trace
            for d in _reload(session, out.pending):
                d.attempts += 1
                d.claimed_at = d.last_attempt_at = now
        outcome = send(channel, out.message)
        with session_scope(engine) as session:
            step.session = session
            _reload(session, out.pending)
            record(step, out.pending, out.message, outcome)
        step.emit_logs()
        report.message_key, report.messages = out.message.key, report.messages + 1
        if outcome.error:
            report.errors.append(outcome.error)
        if outcome.status == "retry":
            with session_scope(engine) as session:
                give_back(session, [p for later in outgoing[i + 1 :] for p in later.pending])
            break
    report.held = step.held
    report.sent, report.failed = step.marked["sent"], step.marked["failed"]
    report.superseded, report.retrying = step.marked["superseded"], step.marked["retry"]
    report.resumed = step.marked["resumed"]
    return report


def keep(session: Session, channel: str, message: Message, now: datetime) -> Message:
    """Store `message` under its key, or, when that key was sent before, what it said then."""
    stored = session.get(OutgoingMessage, message.key)
    if stored is not None:
        return Message.from_json(stored.content)
    session.add(
        OutgoingMessage(
            key=message.key,
            channel=channel,
            subject=message.subject,
            content=message.as_json(),
            created_at=now,
        )
    )
    return message


def give_back(session: Session, pending: list[Pending]) -> None:
    """Release deliveries composed into a message that was never tried this cycle (one cut
    off by a crash keeps its message)."""
    for d in _reload(session, pending):
        d.claimed_by = None
        d.message_key = d.message_key if d.interrupted else None


def _reload(session: Session, pending: list[Pending]) -> list[Delivery]:
    """The batch's delivery rows in this session (each transaction loads its own)."""
    for p in pending:
        p.delivery = session.get_one(Delivery, p.delivery.id)
        session.add(p.delivery)
    return [p.delivery for p in pending]


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
    that they may arrive twice (the sink may have accepted them before the crash). A claim
    whose attempt had not begun (`claimed_at` unset) is simply taken back.

    A delivery ever cut off (`interrupted`) goes out again as the message it was cut off in,
    until it is sent: through retries and further crashes, not for one cycle only."""
    kept = []
    for p in pending:
        d = p.delivery
        if d.claimed_by is not None and worker.is_alive(d.claimed_by):
            continue
        if d.claimed_by is not None and d.claimed_at is None:  # composed, never tried
            d.claimed_by = None
            d.message_key = d.message_key if d.interrupted else None
            step.session.add(d)
        elif d.claimed_by is not None:
            d.interrupted += 1
            d.claimed_by = d.claimed_at = None
            d.note = "an attempt was cut off by a crash: this alert may arrive twice"
            step.session.add(d)
            step.marked["resumed"] += 1
            step.note(p, "resumed", d.note)
        p.cut_off = bool(d.interrupted and d.message_key)
        kept.append(p)
    return kept


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
    """Write what happened to every delivery of the message, and log one line per alert."""
    alerts = step.config.alerts
    for p in pending:
        d = p.delivery
        d.message_key = message.key
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
