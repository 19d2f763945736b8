"""The words watch stores and reads: indicator kinds and states, causes of a change, feed
results and health, alert kinds and delivery statuses.

They are StrEnums, so they compare equal to the plain strings in the database, the tracker
file and JSON. This module imports nothing heavy: the tracker file's schema uses it too.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What an indicator watches for: an event that may happen, or a condition that may break."""

    EVENT = "event"
    CONDITION = "condition"


class State(StrEnum):
    """An indicator's state. Events climb quiet → signalled → confirmed; conditions climb
    holding → signalled → broken; an analyst's resolution holds it at resolved."""

    QUIET = "quiet"
    HOLDING = "holding"
    SIGNALLED = "signalled"
    CONFIRMED = "confirmed"
    BROKEN = "broken"
    RESOLVED = "resolved"
    REOPENED = "reopened"  # the history's mark of a resolution by hand undone


# The evidence ladder of each kind: no evidence, one source, corroborated.
LADDERS: dict[Kind, tuple[State, State, State]] = {
    Kind.EVENT: (State.QUIET, State.SIGNALLED, State.CONFIRMED),
    Kind.CONDITION: (State.HOLDING, State.SIGNALLED, State.BROKEN),
}


class Cause(StrEnum):
    """Why a state changed (StateChange.cause) or how an indicator was resolved."""

    EVIDENCE = "evidence"
    REMATCH = "rematch"
    REJECT = "reject"
    MANUAL = "manual"
    WINDOW = "window"  # a period closed quiet while watched: "no" from silence
    RECORD = "record"  # a dated fact from the tracker file's `record:` list
    SILENCE = "silence"  # how a period's outcome calls a window close (scorecard, JSON)


class PeriodStatus(StrEnum):
    """How one period of a reading stands: decided yes or no, closed unwatched, or open."""

    YES = "yes"
    NO = "no"
    UNOBSERVED = "unobserved"
    PENDING = "pending"


class FeedResult(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"


class FeedHealth(StrEnum):
    OK = "ok"
    FAILING = "failing"
    SILENT = "silent"


class AlertKind(StrEnum):
    CHANGE = "change"
    FEED_HEALTH = "feed-health"
    REMINDER = "reminder"
    SCORECARD = "scorecard"


class MessageKind(StrEnum):
    """What a message sent to a channel carries (several alerts may share one)."""

    CHANGES = "changes"
    FEED_HEALTH = "feed-health"
    REMINDER = "reminder"
    SCORECARD = "scorecard"
    TEST = "test"


class DeliveryStatus(StrEnum):
    """pending → sent | failed (gave up) | superseded (a later state replaced it unsent)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"
