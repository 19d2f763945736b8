"""Every stored table (the words its string columns hold are in watch.terms, re-exported here).

Feeds, stories, entries and evidence come from the feed pipeline (watch.feeds); indicator
states, their history and resolutions from watch.states and watch.review; alerts, deliveries
and feed watches from the alert pipeline (watch.alerts). Migrations (watch/migrations) build
exactly these tables.

Times are stored as naive UTC and handed out as aware UTC (`UTCDateTime`), so SQLite and
PostgreSQL behave the same. Counters on `IndicatorState` are kept up to date when evidence is
recorded, so `watch status` reads one small table whatever the number of entries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from watch.terms import (
    LADDERS,
    AlertKind,
    Cause,
    DeliveryStatus,
    FeedHealth,
    FeedResult,
    Kind,
    MessageKind,
    PeriodStatus,
    State,
)

__all__ = [
    "LADDERS",
    "Alert",
    "AlertKind",
    "Cause",
    "Delivery",
    "DeliveryStatus",
    "Entry",
    "Evidence",
    "Feed",
    "FeedHealth",
    "FeedResult",
    "FeedWatch",
    "IndicatorState",
    "Kind",
    "MessageKind",
    "OutgoingMessage",
    "PeriodStatus",
    "Resolution",
    "State",
    "StateChange",
    "Story",
    "UTCDateTime",
    "WatchedSpan",
]


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utc_column(*, nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def text_column(*, nullable: bool = True) -> Column[str]:
    return Column(Text, nullable=nullable)


class Feed(SQLModel, table=True):
    """A polled URL and what the last polls said (conditional GET validators, health)."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column_kwargs={"unique": True}, max_length=2000)
    name: str = Field(max_length=300)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    last_polled_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_result: str | None = Field(default=None, max_length=20)  # ok | not_modified | failed
    http_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=text_column())
    consecutive_failures: int = 0
    next_poll_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_new_entry_at: datetime | None = Field(default=None, sa_column=utc_column())
    entry_count: int = 0


class Story(SQLModel, table=True):
    """One piece of reporting, however many feeds carried it: the unit of corroboration."""

    __table_args__ = (
        Index("ix_story_canonical_link", "canonical_link"),
        Index("ix_story_fingerprint", "fingerprint"),
    )
    id: int | None = Field(default=None, primary_key=True)
    canonical_link: str | None = Field(default=None, max_length=2000)
    fingerprint: str | None = Field(default=None, max_length=64)
    source: str = Field(max_length=300)  # who reported it first
    first_seen_at: datetime = Field(sa_column=utc_column(nullable=False))


class Entry(SQLModel, table=True):
    """A feed item, stored once per feed (keyed by GUID, else link, else title + date)."""

    __table_args__ = (UniqueConstraint("feed_id", "key", name="uq_entry_feed_key"),)
    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    key: str = Field(max_length=64)
    story_id: int = Field(foreign_key="story.id", index=True)
    guid: str | None = Field(default=None, sa_column=text_column())
    link: str | None = Field(default=None, sa_column=text_column())
    title: str = Field(sa_column=text_column(nullable=False))
    summary: str = Field(sa_column=text_column(nullable=False))
    source: str = Field(max_length=300)
    published_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    fetched_at: datetime = Field(sa_column=utc_column(nullable=False))


class Evidence(SQLModel, table=True):
    """An entry that matched an indicator, with the rule and the words that matched."""

    __table_args__ = (
        UniqueConstraint("indicator_id", "entry_id", name="uq_evidence_indicator_entry"),
        Index("ix_evidence_indicator_published", "indicator_id", "published_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: str = Field(max_length=80)
    entry_id: int = Field(foreign_key="entry.id", index=True)
    story_id: int = Field(foreign_key="story.id")
    source: str = Field(max_length=300)  # the story's first source: what corroboration counts
    rule: str = Field(max_length=80)
    matched: str = Field(sa_column=text_column(nullable=False))
    published_at: datetime = Field(sa_column=utc_column(nullable=False))
    recorded_at: datetime = Field(sa_column=utc_column(nullable=False))
    rejected: bool = False  # an analyst's verdict: a false positive
    retracted: bool = False  # the current rules no longer match it (see `watch rematch`)
    rejected_note: str | None = Field(default=None, sa_column=text_column())


class IndicatorState(SQLModel, table=True):
    """Where an indicator stands now; rewritten on every change, history in StateChange."""

    indicator_id: str = Field(primary_key=True, max_length=80)
    kind: str = Field(max_length=20)
    state: str = Field(max_length=20)
    changed_at: datetime = Field(sa_column=utc_column(nullable=False))
    evidence_count: int = 0
    sources: int = 0
    last_evidence_at: datetime | None = Field(default=None, sa_column=utc_column())


class StateChange(SQLModel, table=True):
    """One change of an indicator's state and what caused it."""

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: str = Field(max_length=80, index=True)
    old_state: str | None = Field(default=None, max_length=20)
    new_state: str = Field(max_length=20)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    cause: str = Field(max_length=40)  # evidence | rematch | reject | manual | window | ...
    evidence_id: int | None = Field(default=None, foreign_key="evidence.id")
    note: str | None = Field(default=None, sa_column=text_column())


class Resolution(SQLModel, table=True):
    """An indicator resolved by hand, or one period of a reading's window closed quiet.

    A resolution by hand is either undated (the old call: it holds the state at "resolved"
    and decides the period it was made in) or dated: yes on `span_from`'s day, or no over
    [span_from, span_to); a dated one decides every period of every reading its dates fall in.
    """

    __table_args__ = (
        # NULL reading ids (manual rows) are distinct, so only window rows are kept unique.
        UniqueConstraint(
            "indicator_id", "reading_id", "cause", "period", name="uq_resolution_window"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: str = Field(max_length=80, index=True)
    reading_id: str | None = Field(default=None, max_length=80)
    period: int = 0  # which period of the reading's window (window rows)
    outcome: bool
    cause: str = Field(max_length=20)  # manual | window
    span_from: datetime | None = Field(default=None, sa_column=utc_column())  # dated: from
    span_to: datetime | None = Field(default=None, sa_column=utc_column())  # dated "no": until
    source: str | None = Field(default=None, sa_column=text_column())  # a URL for a dated one
    resolved_at: datetime = Field(sa_column=utc_column(nullable=False))
    recorded_at: datetime = Field(sa_column=utc_column(nullable=False))
    note: str | None = Field(default=None, sa_column=text_column())
    state_change_id: int | None = Field(default=None, foreign_key="statechange.id")
    reopened_at: datetime | None = Field(default=None, sa_column=utc_column())


class WatchedSpan(SQLModel, table=True):
    """A stretch of time during which a feed was watched (live polls) or an archive covers.

    Silence decides a period "no" only where these spans cover it (watch.coverage).
    """

    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(max_length=2000, index=True)  # a feed URL or "archive:<file>"
    start: datetime = Field(sa_column=utc_column(nullable=False))
    end: datetime = Field(sa_column=utc_column(nullable=False, index=True))


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
    html: str | None = Field(default=None, sa_column=text_column())  # a page sent as it is
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
    # the message that carried it (OutgoingMessage.key); set when that message is first tried
    message_key: str | None = Field(default=None, max_length=80, index=True)
    since_state: str | None = Field(default=None, max_length=20)  # old state of what it replaced
    claimed_by: int | None = None  # the worker sending it right now (see watch.alerts.delivery)
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column())
    interrupted: int = 0  # attempts cut off by a crash: each may have reached the sink
    last_error: str | None = Field(default=None, sa_column=text_column())
    note: str | None = Field(default=None, sa_column=text_column())  # superseded by, retried...


class OutgoingMessage(SQLModel, table=True):
    """A message as first sent to a channel. Its deliveries carry its key; a re-send (after
    an error or a crash) repeats this content under this key, so a sink sees one message."""

    __tablename__ = "message"  # type: ignore[assignment]

    key: str = Field(primary_key=True, max_length=80)
    channel: str = Field(max_length=200)
    subject: str = Field(sa_column=text_column(nullable=False))
    content: str = Field(sa_column=text_column(nullable=False))  # the Message, as JSON
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class FeedWatch(SQLModel, table=True):
    """What the feed-health job last told people about a feed (ok, failing, silent)."""

    feed_id: int = Field(primary_key=True, foreign_key="feed.id")
    status: str = Field(default="ok", max_length=20)
    since: datetime = Field(sa_column=utc_column(nullable=False))
