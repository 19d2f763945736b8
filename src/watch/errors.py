"""The exceptions watch raises, in one tree so callers can catch at the level they need.

WatchError
├── InvalidConfigFile        indicators.yaml cannot be read or fails validation
├── FeedError                one feed could not be fetched or parsed
│   ├── FeedUnreachable      DNS failure, refused connection, TLS error
│   ├── FeedTimeout          connect or read timed out
│   ├── FeedHTTPError        4xx / 5xx answer (carries status and Retry-After)
│   ├── FeedTooLarge         body over the size cap
│   ├── FeedTruncated        connection closed before the whole body arrived
│   └── NotAFeed             the body parsed to no feed at all
├── InvalidFeedURL           a feed URL that is not http(s) with a host (never stored)
├── UnknownFeed              a feed URL that is not stored
├── FeedInUse                remove asked of a configured feed, or one with stored entries
├── UnknownIndicator         an id that the configuration does not define
├── UnknownEvidence          an evidence id that is not stored
├── NotResolvedByHand        reopen asked of an indicator no analyst resolved
├── BadResolution            a dated resolution whose dates do not fit its outcome
├── DaemonAlreadyRunning     a second daemon on one SQLite database (or a bad lock)
├── InvalidArchive           a backtest archive that cannot be read
├── InvalidLabelledSet       a labelled set for `watch eval` that cannot be read
├── InvalidChannelSettings   an alert channel's environment variables are malformed
├── DatabaseError            the database cannot be opened or used
│   ├── DatabaseUnavailable  bad URL, missing driver or folder, refused connection, bad login
│   └── SchemaNotCurrent     a read command met a database that needs `watch migrate`
├── UnknownDelivery          a delivery id that is not stored
├── AlreadySent              retry asked of a delivery that was sent
└── DeliveryError            an alert channel failed
    ├── RetryableDelivery    worth trying again later (timeouts, 429, 5xx)
    └── PermanentDelivery    will fail the same way again (4xx, bad address)

InvalidChannelSettings is also a ValueError, and UnknownDelivery a LookupError, so callers
that catch the built-in kinds keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class WatchError(Exception):
    """Base of every error watch raises on purpose."""


@dataclass
class ConfigProblem:
    """One thing wrong in a configuration file, with where it is."""

    line: int | None  # 1-based; None when the file has no line for it
    field: str  # dotted path, e.g. "indicators[3].forecasts.orchard-2018.p"
    message: str

    def render(self, path: Path | str) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class InvalidConfigFile(WatchError):
    def __init__(self, path: Path | str, problems: list[ConfigProblem]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(p.render(path) for p in problems))


class FeedError(WatchError):
    """A feed failed; `str(error)` is a one-line reason fit for `watch feeds`."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(reason)


class FeedUnreachable(FeedError):
    """DNS failure, refused connection, TLS error."""


class FeedTimeout(FeedError):
    """The connection or the read timed out."""


class FeedHTTPError(FeedError):
    def __init__(
        self, url: str, reason: str, status: int, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(url, reason)
        self.status = status
        self.retry_after_seconds = retry_after_seconds


class FeedTooLarge(FeedError):
    """The body is over the size cap."""


class FeedTruncated(FeedError):
    """The connection closed before the whole body arrived."""


class NotAFeed(FeedError):
    """The body parsed to no feed at all."""


class InvalidFeedURL(WatchError, ValueError):
    """A feed URL that is not http(s) with a host; refused before anything is stored."""


class UnknownFeed(WatchError, LookupError):
    """A feed URL that is not stored."""


class FeedInUse(WatchError):
    """Remove asked of a feed the tracker file lists, or one whose entries are stored."""


class UnknownIndicator(WatchError):
    """An indicator id that the tracker file does not define."""


class UnknownEvidence(WatchError):
    """An evidence id that is not stored."""


class NotResolvedByHand(WatchError):
    """Reopen asked of an indicator that no analyst resolved."""


class BadResolution(WatchError):
    """A dated resolution by hand whose dates do not fit its outcome (or lie ahead)."""


class InvalidArchive(WatchError):
    """A backtest archive that cannot be read."""


class InvalidLabelledSet(WatchError):
    """A labelled set (JSON lines for `watch eval`) that cannot be read; names FILE:LINE."""


class DaemonAlreadyRunning(WatchError):
    """Another `watch run` holds this SQLite database (several may share PostgreSQL)."""


class DatabaseError(WatchError):
    """The database cannot be opened or used; the message is one line without secrets."""


class DatabaseUnavailable(DatabaseError):
    """A bad URL, a missing driver or folder, a refused connection, a bad login."""


class SchemaNotCurrent(DatabaseError):
    """A read command met a database with no schema, or an older one: reads never migrate."""

    @classmethod
    def missing(cls, where: str) -> SchemaNotCurrent:
        return cls(
            f"{where}: no database there yet; run `watch migrate` (or `watch poll`) to create it"
        )

    @classmethod
    def for_read(cls, where: str, found: str | None, needed: str) -> SchemaNotCurrent:
        what = f"schema {found}" if found else "no watch schema"
        return cls(
            f"{where}: {what}, this watch needs {needed}; read commands never write: "
            "run `watch migrate` (or any command that writes, e.g. `watch poll`) first"
        )


class InvalidChannelSettings(WatchError, ValueError):
    """Its message never holds a secret: the channel modules redact what they quote."""


class UnknownDelivery(WatchError, LookupError):
    """A delivery id that is not stored."""


class AlreadySent(WatchError):
    """Retry asked of a delivery that was sent."""


class DeliveryError(WatchError):
    def __init__(self, reason: str, retry_after_seconds: float | None = None) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(reason)


class RetryableDelivery(DeliveryError):
    """Worth trying again later: timeouts, 429, 5xx."""


class PermanentDelivery(DeliveryError):
    """Will fail the same way again: 4xx, a bad address."""
