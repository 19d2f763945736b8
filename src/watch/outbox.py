"""The outbox: alerts, one delivery per (alert, channel), and what was sent, when and why.

`StateChange` rows are the source of truth: `watch.states` writes them in the same
transaction as the evidence that caused them, so a crash can never lose one. `decide` turns
every state change that has no `Alert` yet into an alert (or a skipped one, with the reason:
`alert_on`, too old) and one pending `Delivery` per channel, in one transaction; a unique
`Alert.key` makes that idempotent, and on PostgreSQL an advisory lock keeps two daemons from
deciding at once. Feed-health notices, reminders and the scorecard enter through `enqueue`
with their own keys, so each goes out once however often the job that spots it runs.

A delivery is pending → sent, or pending → failed (gave up: permanent error or older than
`alerts.max_age`), or pending → superseded (a later state of the same indicator replaced it
before it was sent). `retry` puts a failed one back. Nothing is ever deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, Session, SQLModel, col, select

from watch.config import Config
from watch.models import StateChange, text_column, utc_column

log = logging.getLogger("watch.alerts")

KINDS = ("change", "feed-health", "reminder", "window", "scorecard")
STATUSES = ("pending", "sent", "failed", "superseded")
# PostgreSQL advisory lock keys: one per job that must not run in two daemons at once.
LOCKS = {
    "decide": 0x7761_0001,
    "health": 0x7761_0002,
    "reminders": 0x7761_0003,
    "scorecard": 0x7761_0004,
}


class Alert(SQLModel, table=True):
    """Something worth telling people, once: a state change, a feed's health, a reminder."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, sa_column_kwargs={"unique": True})
    kind: str = Field(max_length=20)
    subject: str = Field(max_length=2000)  # indicator id or feed URL: what supersedes what
    state_change_id: int | None = Field(
        default=None, foreign_key="statechange.id", sa_column_kwargs={"unique": True}
    )
    title: str = Field(sa_column=text_column(nullable=False))  # one line, for lists and subjects
    body: str = Field(default="", sa_column=text_column(nullable=False))  # lines, for non-changes
    skipped: str | None = Field(default=None, max_length=200)  # why no delivery was queued
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class Delivery(SQLModel, table=True):
    """One alert to one channel, and how its sending went."""

    __table_args__ = (
        UniqueConstraint("alert_id", "channel", name="uq_delivery_alert_channel"),
        Index("ix_delivery_channel_status", "channel", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    channel: str = Field(max_length=200)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    queued_at: datetime = Field(sa_column=utc_column(nullable=False))  # max_age counts from here
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_attempt_at: datetime | None = Field(default=None, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    message_key: str | None = Field(default=None, max_length=80)  # idempotency key last used
    since_state: str | None = Field(default=None, max_length=20)  # old state of what it replaced
    claimed_by: int | None = None  # the worker sending it right now (see watch.deliver)
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column())
    interrupted: int = 0  # attempts cut off by a crash: each may have reached the sink
    last_error: str | None = Field(default=None, sa_column=text_column())
    note: str | None = Field(default=None, sa_column=text_column())  # superseded by, retried...


class FeedWatch(SQLModel, table=True):
    """What the feed-health job last told people about a feed (ok, failing, silent)."""

    feed_id: int = Field(primary_key=True, foreign_key="feed.id")
    status: str = Field(default="ok", max_length=20)
    since: datetime = Field(sa_column=utc_column(nullable=False))


# ---------------------------------------------------------------- writing


def one_at_a_time(session: Session, job: str) -> None:
    """On PostgreSQL, wait until no other daemon runs `job`; released at commit or rollback.

    SQLite needs nothing: it admits one daemon per database (see watch.daemon).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCKS[job]})


def decide(session: Session, config: Config, channels: Sequence[str], now: datetime) -> list[Alert]:
    """Turn every state change without an alert into one; queue a delivery per channel."""
    one_at_a_time(session, "decide")
    decided = select(Alert.state_change_id).where(col(Alert.state_change_id).is_not(None))
    changes = session.exec(
        select(StateChange).where(col(StateChange.id).not_in(decided)).order_by(col(StateChange.id))
    ).all()
    alerts = []
    for change in changes:
        skipped = _skip_reason(config, change, now, channels)
        alert = Alert(
            key=f"change:{change.id}",
            kind="change",
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
    if change.new_state.startswith("resolved") or change.new_state in ("yes", "no"):
        return "resolved"
    if change.new_state == "reopened" or change.cause.startswith("reopen"):
        return "reopened"
    return change.new_state


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    subject: str,
    title: str,
    lines: Sequence[str],
    channels: Sequence[str],
    now: datetime,
) -> Alert | None:
    """Queue a notice under `key` unless that key was queued before; None if it was."""
    if session.exec(select(Alert.id).where(Alert.key == key)).first() is not None:
        return None
    alert = Alert(
        key=key,
        kind=kind,
        subject=subject,
        title=title,
        body="\n".join(lines),
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


class UnknownDelivery(LookupError):
    pass


def retry(session: Session, delivery_id: int, now: datetime) -> Delivery:
    """Put a failed (or superseded) delivery back in the queue, its age counted from now."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise UnknownDelivery(f"no delivery {delivery_id}")
    if delivery.status == "sent":
        raise ValueError(f"delivery {delivery_id} was sent at {delivery.sent_at:%Y-%m-%d %H:%M}")
    delivery.status, delivery.attempts = "pending", 0
    delivery.queued_at = delivery.next_attempt_at = now
    delivery.note = f"retried by hand at {now:%Y-%m-%d %H:%M}"
    session.add(delivery)
    return delivery


# ---------------------------------------------------------------- reading


@dataclass
class DeliveryView:
    id: int
    alert_id: int
    kind: str
    subject: str
    title: str
    channel: str
    status: str
    attempts: int
    queued_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    message_key: str | None
    last_error: str | None
    note: str | None

    def as_json(self) -> dict[str, Any]:
        out = dict(vars(self))
        for name in ("queued_at", "next_attempt_at", "sent_at"):
            value = out[name]
            out[name] = value.isoformat().replace("+00:00", "Z") if value else None
        return out


def list_deliveries(
    session: Session, status: str | None = None, *, limit: int | None = 100
) -> list[DeliveryView]:
    """Deliveries, newest first, optionally of one status."""
    query = (
        select(Delivery, Alert)
        .join(Alert, col(Alert.id) == Delivery.alert_id)
        .order_by(col(Delivery.id).desc())
    )
    if status:
        query = query.where(Delivery.status == status)
    if limit:
        query = query.limit(limit)
    return [
        DeliveryView(
            id=d.id or 0,
            alert_id=a.id or 0,
            kind=a.kind,
            subject=a.subject,
            title=a.title,
            channel=d.channel,
            status=d.status,
            attempts=d.attempts,
            queued_at=d.queued_at,
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            sent_at=d.sent_at,
            message_key=d.message_key,
            last_error=d.last_error,
            note=d.note,
        )
        for d, a in session.exec(query)
    ]
