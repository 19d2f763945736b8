"""The Resolution table: an analyst's resolutions by hand, and windows that closed.

A manual resolution (`cause="manual"`, `reading_id=None`) settles the indicator for every
reading and wins over the evidence until it is reopened (`reopened_at` set; the row is kept
so history stays whole). A window row (`cause="window"`, one per indicator and reading, kept
unique by the constraint) records that a reading's window closed without the indicator
resolving yes inside it, so `close_windows` announces each quiet close once. Each row points
at the `StateChange` that announced it. Outcomes are always derived (see watch.states); these
rows are what the evidence cannot say.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from watch.models import text_column, utc_column


class Resolution(SQLModel, table=True):
    """An indicator resolved by hand (every reading), or one reading's window closed quiet."""

    __table_args__ = (
        # NULL reading ids (manual rows) are distinct, so only window rows are kept unique.
        UniqueConstraint("indicator_id", "reading_id", "cause", name="uq_resolution_window"),
    )
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: str = Field(max_length=80, index=True)
    reading_id: str | None = Field(default=None, max_length=80)
    outcome: bool
    cause: str = Field(max_length=20)  # manual | window
    resolved_at: datetime = Field(sa_column=utc_column(nullable=False))
    recorded_at: datetime = Field(sa_column=utc_column(nullable=False))
    note: str | None = Field(default=None, sa_column=text_column())
    state_change_id: int | None = Field(default=None, foreign_key="statechange.id")
    reopened_at: datetime | None = Field(default=None, sa_column=utc_column())
