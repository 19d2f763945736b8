"""The outbox: alerts, one delivery per (alert, channel), and what was sent, when and why.

`StateChange` rows are the source of truth: `watch.states` writes them in the same
transaction as the evidence that caused them, so a crash can never lose one. `decide` turns
every state change that has no `Alert` yet into an alert (or a skipped one, with the reason:
`alert_on`, too old) and one pending `Delivery` per channel, in one transaction. Deciding is
single-flight (watch.locks.one_at_a_time, taken before the undecided changes are read: an
advisory lock on PostgreSQL, the write lock on SQLite), so the daemon's threads and other
daemons never decide one change twice; a unique `Alert.key` backs that up.
Feed-health notices, reminders and the scorecard enter through `enqueue` with their own
keys, so each goes out once however often the job that spots it runs.

A delivery is pending → sent, or pending → failed (gave up: permanent error or older than
`alerts.max_age`), or pending → superseded (a later state of the same indicator replaced it
before it was sent). `retry` puts a failed one back. Nothing is ever deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from watch.clock import minute
from watch.config import Config
from watch.errors import AlreadySent, UnknownDelivery
from watch.locks import Job, one_at_a_time
from watch.schema import Alert, AlertKind, Delivery, DeliveryStatus, State, StateChange

log = logging.getLogger("watch.alerts")


def decide(session: Session, config: Config, channels: Sequence[str], now: datetime) -> list[Alert]:
    """Turn every state change without an alert into one; queue a delivery per channel."""
    one_at_a_time(session, Job.DECIDE)
    decided = select(Alert.state_change_id).where(col(Alert.state_change_id).is_not(None))
    changes = session.exec(
        select(StateChange).where(col(StateChange.id).not_in(decided)).order_by(col(StateChange.id))
    ).all()
    alerts = []
    for change in changes:
        skipped = _skip_reason(config, change, now, channels)
        alert = Alert(
            key=f"change:{change.id}",
            kind=AlertKind.CHANGE,
            subject=change.indicator_id,
            state_change_id=change.id,
            title=f"{change.indicator_id}: {change.old_state} → {change.new_state}",
            skipped=skipped,
            created_at=now,
        )
        _queue(session, alert, [] if skipped else channels, now)
        alerts.append(alert)
    return alerts


def _skip_reason(
    config: Config, change: StateChange, now: datetime, channels: Sequence[str]
) -> str | None:
    if not any(ind.id == change.indicator_id for ind in config.indicators):
        return "indicator no longer configured"
    indicator = config.indicator(change.indicator_id)
    category = alert_category(change)
    if category not in config.alert_on(indicator):
        return f"alert_on excludes {category}"
    if now - change.at > config.alerts.max_age:
        return "older than alerts.max_age when first seen"
    if not channels:
        return "no channel configured"
    return None


def alert_category(change: StateChange) -> str:
    """The word `alert_on` uses for a change: its new state, 'resolved' or 'reopened'."""
    if change.new_state == State.RESOLVED:
        return "resolved"
    if change.new_state == State.REOPENED:
        return "reopened"
    return change.new_state


def enqueue(
    session: Session,
    *,
    key: str,
    kind: AlertKind,
    subject: str,
    title: str,
    lines: Sequence[str],
    channels: Sequence[str],
    now: datetime,
    html: str | None = None,
) -> Alert | None:
    """Queue a notice under `key` unless that key was queued before; None if it was.

    `html` is a page to send as it is (the scorecard), rendered by whoever queues it.
    """
    if session.exec(select(Alert.id).where(Alert.key == key)).first() is not None:
        return None
    alert = Alert(
        key=key,
        kind=kind,
        subject=subject,
        title=title,
        body="\n".join(lines),
        html=html,
        skipped=None if channels else "no channel configured",
        created_at=now,
    )
    _queue(session, alert, channels, now)
    return alert


def _queue(session: Session, alert: Alert, channels: Sequence[str], now: datetime) -> None:
    session.add(alert)
    session.flush()
    for channel in channels:
        session.add(
            Delivery(
                alert_id=alert.id or 0,
                channel=channel,
                queued_at=now,
                next_attempt_at=now,
            )
        )
    log.info(
        "alert=%s kind=%s subject=%s queued=%d%s",
        alert.key,
        alert.kind,
        alert.subject,
        len(channels),
        f" reason={alert.skipped!r}" if alert.skipped else "",
    )
    session.flush()


def retry(session: Session, delivery_id: int, now: datetime) -> Delivery:
    """Put a failed (or superseded) delivery back in the queue, its age counted from now."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise UnknownDelivery(f"no delivery {delivery_id}")
    if delivery.status == DeliveryStatus.SENT:
        raise AlreadySent(f"delivery {delivery_id} was sent at {minute(delivery.sent_at)}")
    delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
    delivery.queued_at = delivery.next_attempt_at = now
    delivery.note = f"retried by hand at {minute(now)}"
    session.add(delivery)
    return delivery
