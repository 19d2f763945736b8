"""Deliver queued alerts, channel by channel, through one chain of stages.

    claim → give up old → supersede → scorecard alone → backoff → quiet hours
          → rate limit → digest → group wait → render → send → record

`claim` reads the channel's pending deliveries (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, the row locks held until the result is recorded, so two daemons never send the same
delivery; the server drops the locks if the process dies). Each stage has the signature
`stage(step, pending) -> pending`: it may mark rows (failed, superseded) and drops them from
the list; a stage that holds the batch (backoff, quiet hours, rate limit, digest, group
wait) returns an empty list, and the rows stay pending for a later cycle: held, never
dropped. What is left becomes one `Message` per channel (several changes grouped), is sent
once, and is recorded:
sent, or retried later with backoff (and Retry-After), or failed on a permanent error.

The guarantee is at-least-once with a tiny window: a delivery is marked sent in the same
moment the channel returns, so only a crash between the sink accepting a message and that
commit can send it again. Every retry of the same set of alerts carries the same message
key (email: the same Message-ID), so sinks that deduplicate see one message.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from watch.channels import Change, Channel, EvidenceLine, Message
from watch.config import STATES, ChannelPolicy, Config
from watch.db import session_scope
from watch.errors import PermanentDelivery, RetryableDelivery
from watch.models import Entry, Evidence, StateChange
from watch.outbox import Alert, Delivery, alert_category
from watch.states import resolve_reading

log = logging.getLogger("watch.alerts")

MAX_EVIDENCE = 5
MOVES = {state for states in STATES.values() for state in states}


@dataclass
class Pending:
    """One delivery on its way, with what it announces."""

    delivery: Delivery
    alert: Alert
    change: StateChange | None = None


@dataclass
class Step:
    """What every stage may look at: the session, the config, the channel, the clock."""

    session: Session
    config: Config
    channel: str
    policy: ChannelPolicy
    now: datetime
    flush: bool = False  # `watch run --once`: do not wait for a burst to end
    held: str | None = None  # why the batch waits, set by the stage that holds it
    marked: Counter[str] = field(default_factory=Counter)  # deliveries finished, by status
    logs: list[tuple[int, str]] = field(default_factory=list)  # emitted once committed

    def emit_logs(self) -> None:
        for level, line in self.logs:
            log.log(level, "%s", line)
        self.logs.clear()


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


Stage = Callable[[Step, list[Pending]], list[Pending]]


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
) -> list[ChannelReport]:
    """Run the chain once for every channel; one channel's trouble never stops the others."""
    worker = worker or Worker()
    return [
        deliver_channel(engine, config, channel, now, flush=flush, worker=worker)
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
) -> ChannelReport:
    """Claim and stage in one short transaction, send with none open, record in another."""
    worker = worker or Worker()
    report = ChannelReport(channel.name)
    postgres = engine.dialect.name == "postgresql"
    message = None
    with session_scope(engine) as session:
        step = Step(
            session, config, channel.name, config.alerts.policy(channel.name), now, flush=flush
        )
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
        .where(Delivery.channel == channel, Delivery.status == "pending")
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
        _log(step, p, "resumed", d.note)
        keep.append(p)
    return keep


# ---------------------------------------------------------------- stages


def give_up_old(step: Step, pending: list[Pending]) -> list[Pending]:
    """Mark failed what has waited longer than alerts.max_age: visible, never dropped."""
    limit = step.config.alerts.max_age
    keep = []
    for p in pending:
        if step.now - p.delivery.queued_at > limit:
            reason = f"gave up after {_span(limit)}"
            if p.delivery.last_error:
                reason += f"; last error: {p.delivery.last_error}"
            _finish(step, p, "failed", error=reason)
        else:
            keep.append(p)
    return keep


def supersede(step: Step, pending: list[Pending]) -> list[Pending]:
    """A later change of an indicator replaces its unsent earlier ones (confirmed > signalled)."""
    latest: dict[str, Pending] = {}
    for p in pending:
        if _is_move(p):
            latest[p.alert.subject] = p  # pending is in id order: the last one wins
    keep = []
    for p in pending:
        winner = latest.get(p.alert.subject) if _is_move(p) else None
        if winner is None or winner is p:
            keep.append(p)
            continue
        earlier = p.delivery.since_state or (p.change.old_state if p.change else None)
        if earlier and not winner.delivery.since_state:
            winner.delivery.since_state = earlier  # "quiet → confirmed", also after a restart
            step.session.add(winner.delivery)
        p.delivery.note = f"superseded by alert {winner.alert.id}"
        _finish(step, p, "superseded")
    return keep


def _is_move(p: Pending) -> bool:
    """A change along the evidence ladder (not a resolution or a reopening: those stand)."""
    return p.change is not None and alert_category(p.change) in MOVES


def scorecard_alone(step: Step, pending: list[Pending]) -> list[Pending]:
    """A scorecard goes out in a message of its own (its HTML page is the mail); the rest
    wait for the next cycle."""
    cards = [p for p in pending if p.alert.kind == "scorecard"]
    return cards or pending


def hold_backoff(step: Step, pending: list[Pending]) -> list[Pending]:
    """While a failed attempt waits for its retry time (backoff, Retry-After), the channel
    waits: new alerts join that retry rather than hammering a sink that is down."""
    waiting = [p.delivery.next_attempt_at for p in pending if p.delivery.attempts]
    if waiting and step.now < max(waiting):
        return _hold(step, f"retrying at {_iso(max(waiting))}")
    return pending


def hold_quiet_hours(step: Step, pending: list[Pending]) -> list[Pending]:
    if step.policy.quiet_hours is None:
        return pending
    start, end = (_clock(part) for part in step.policy.quiet_hours.split("-"))
    local = step.now.astimezone(ZoneInfo(step.config.alerts.timezone)).time()
    inside = start <= local < end if start <= end else (local >= start or local < end)
    if inside:
        return _hold(step, f"quiet hours {step.policy.quiet_hours}")
    return pending


def hold_rate_limit(step: Step, pending: list[Pending]) -> list[Pending]:
    interval = step.policy.min_interval
    if interval is None:
        return pending
    last = step.session.exec(
        select(func.max(Delivery.sent_at)).where(Delivery.channel == step.channel)
    ).one()
    last = _aware(last)
    if last is not None and step.now < last + interval:
        return _hold(step, f"rate limit: one message per {_span(interval)}")
    return pending


def hold_for_digest(step: Step, pending: list[Pending]) -> list[Pending]:
    """With `digest` times, an alert waits for the first digest time after it was queued."""
    if not step.policy.digest:
        return pending
    zone = ZoneInfo(step.config.alerts.timezone)
    local = step.now.astimezone(zone)
    times = [_clock(t) for t in step.policy.digest]
    candidates = [
        datetime.combine(local.date() - timedelta(days=back), t, tzinfo=zone)
        for back in (0, 1)
        for t in times
    ]
    last_digest = max(c for c in candidates if c <= local)
    oldest = min(p.delivery.queued_at for p in pending)
    if last_digest < oldest:
        return _hold(step, "waiting for the next digest")
    return pending


def wait_for_burst(step: Step, pending: list[Pending]) -> list[Pending]:
    """New alerts wait `group_wait` after the first of them, so a burst goes out as one."""
    if step.flush or step.policy.digest:
        return pending
    wait = step.policy.group_wait or step.config.alerts.group_wait
    fresh = [p.delivery.queued_at for p in pending if p.delivery.attempts == 0]
    if fresh and step.now < min(fresh) + wait:
        return _hold(step, f"group wait {_span(wait)}")
    return pending


STAGES: list[Stage] = [
    give_up_old,
    supersede,
    scorecard_alone,
    hold_backoff,
    hold_quiet_hours,
    hold_rate_limit,
    hold_for_digest,
    wait_for_burst,
]


def _hold(step: Step, reason: str) -> list[Pending]:
    step.held = reason
    log.debug("channel=%s held reason=%r", step.channel, reason)
    return []


# ---------------------------------------------------------------- render, send, record


def message_key(channel: str, alert_ids: Sequence[int]) -> str:
    """The idempotency key: the same for every attempt at the same alerts on one channel."""
    joined = ",".join(str(i) for i in sorted(alert_ids))
    return "watch-" + hashlib.sha256(f"{channel}|{joined}".encode()).hexdigest()[:32]


def render(step: Step, pending: list[Pending]) -> Message:
    """One message for the batch: the changes, then the notices as lines."""
    config = step.config
    changes = [_change(step, p) for p in pending if p.change is not None]
    notices = [p.alert for p in pending if p.change is None]
    lines: list[str] = []
    for alert in notices:
        lines.append(alert.title)
        lines.extend(f"  {line}" for line in alert.body.splitlines() if line.strip())
    key = message_key(step.channel, [p.alert.id or 0 for p in pending])
    if changes:
        message = Message.for_changes(
            key, changes, tally=current_tally(step.session, config, step.now), url=config.alerts.url
        )
        if lines:
            subject = f"{message.subject} and {len(notices)} notice(s)"
            message = Message(
                key=key,
                subject=subject,
                kind="changes",
                changes=message.changes,
                tally=message.tally,
                lines=lines,
                url=message.url,
            )
        return message
    kinds = {a.kind for a in notices}
    kind = kinds.pop() if len(kinds) == 1 else "feed-health"
    subject = notices[0].title if len(notices) == 1 else f"{len(notices)} notices"
    html = None
    if kind == "scorecard":
        from watch.scorecard import build_scorecard
        from watch.scorecard import render as render_scorecard

        subject = notices[-1].title
        lines = notices[-1].body.splitlines()
        html = render_scorecard(build_scorecard(step.session, config, step.now), "html")
    return Message(
        key=key, subject=subject, kind=kind, lines=lines, html=html, url=config.alerts.url
    )


def _change(step: Step, p: Pending) -> Change:
    change = p.change
    assert change is not None
    config = step.config
    indicator = next((i for i in config.indicators if i.id == change.indicator_id), None)
    forecasts = {r: f.p for r, f in indicator.forecasts.items()} if indicator else {}
    agrees: dict[str, bool | None] = {}
    if indicator:
        for reading_id, p_yes in forecasts.items():
            outcome = resolve_reading(step.session, config, indicator, reading_id, step.now)
            agrees[reading_id] = (
                None if outcome.outcome is None else (p_yes >= 0.5) == outcome.outcome
            )
    cause = change.cause
    if change.note and change.cause != "evidence":
        cause = f"{change.cause}: {change.note}"
    return Change(
        indicator_id=change.indicator_id,
        indicator_title=indicator.title if indicator else change.indicator_id,
        old_state=p.delivery.since_state or change.old_state,
        new_state=change.new_state,
        forecasts=forecasts,
        agrees=agrees,
        evidence=evidence_lines(step.session, change),
        cause=cause,
    )


def evidence_lines(session: Session, change: StateChange) -> list[EvidenceLine]:
    """The evidence behind a change: the one that caused it first, then the newest."""
    rows = session.exec(
        select(Evidence, Entry)
        .join(Entry, col(Entry.id) == Evidence.entry_id)
        .where(
            Evidence.indicator_id == change.indicator_id,
            col(Evidence.rejected).is_(False),
            col(Evidence.retracted).is_(False),
        )
        .order_by(col(Evidence.published_at).desc(), col(Evidence.id).desc())
        .limit(50)
    ).all()
    rows = sorted(rows, key=lambda row: row[0].id != change.evidence_id)
    return [
        EvidenceLine(
            title=entry.title, source=ev.source, published=ev.published_at, link=entry.link
        )
        for ev, entry in rows[:MAX_EVIDENCE]
    ]


def current_tally(session: Session, config: Config, now: datetime) -> dict[str, float] | None:
    """The posterior of each reading, as the scorecard has it; None before any outcome."""
    from watch.scorecard import build_scorecard

    comparison = build_scorecard(session, config, now).comparison
    return dict(comparison.posterior) if comparison.n else None


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
            _finish(step, p, "sent")
            continue
        if outcome.status == "failed":
            _finish(step, p, "failed", error=outcome.error)
            continue
        backoff = min(alerts.retry_first * 2 ** (d.attempts - 1), alerts.retry_max)
        if outcome.retry_after is not None:
            backoff = max(backoff, timedelta(seconds=outcome.retry_after))
        d.next_attempt_at, d.last_error = step.now + backoff, outcome.error
        step.session.add(d)
        step.marked["retry"] += 1
        _log(step, p, "retry", outcome.error, f" next_attempt={_iso(d.next_attempt_at)}")


def _finish(step: Step, p: Pending, status: str, *, error: str | None = None) -> None:
    d = p.delivery
    d.status = status
    if status == "sent":
        d.sent_at = step.now
    if error is not None:
        d.last_error = error
    step.session.add(d)
    step.marked[status] += 1
    _log(step, p, status, error if status == "failed" else d.note)


def _log(step: Step, p: Pending, status: str, reason: str | None, extra: str = "") -> None:
    """One line per alert and channel, written to the log once the transaction commits."""
    level = logging.WARNING if status in ("failed", "retry", "resumed") else logging.INFO
    indicator = f" indicator={p.change.indicator_id} state={p.change.new_state}" if p.change else ""
    reason_text = f" reason={reason!r}" if reason else ""
    step.logs.append(
        (
            level,
            f"alert={p.alert.id} kind={p.alert.kind}{indicator} channel={step.channel} "
            f"status={status} attempts={p.delivery.attempts}{reason_text}{extra}",
        )
    )


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _aware(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
