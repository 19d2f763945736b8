"""The stored data: feeds, stories, entries, evidence, indicator states and their history.

Times are stored as naive UTC and handed out as aware UTC (`UTCDateTime`), so SQLite and
PostgreSQL behave the same. Counters on `IndicatorState` are kept up to date when evidence is
recorded, so `watch status` reads one small table whatever the number of entries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


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
