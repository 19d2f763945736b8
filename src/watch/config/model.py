"""The tracker file's schema: strict pydantic models, unknown keys rejected everywhere.

Semantics of the match rules are documented in watch.feeds.match; this module only fixes
their shape. `Config` also answers the questions every part asks of the tracker (an
indicator by id, its window for a reading, its corroboration threshold, the database URL).
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from watch.config.durations import Duration, optional_duration, parse_duration
from watch.errors import InvalidFeedURL, UnknownIndicator
from watch.terms import Kind

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=80)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- match rules
# A term is a phrase (str: "launch pad", "dismantl*", "@alias-name"), a regex, or a group.
# Semantics are documented in watch.feeds.match; the schema only fixes the shape.


class RegexTerm(Strict):
    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from None
        return value


class Group(Strict):
    """All of `all`, at least one of `any` (when given), none of `none`, and `near` if given."""

    all: list[Term] = []
    any: list[Term] = []
    none: list[Term] = []
    near: list[str] = Field(default=[], description="two phrases/aliases within `within` words")
    within: int = Field(default=6, ge=1, le=50)

    @model_validator(mode="after")
    def _not_empty(self) -> Group:
        if not (self.all or self.any or self.near):
            raise ValueError("a group needs at least one of all, any or near")
        if self.near and len(self.near) != 2:
            raise ValueError("near takes exactly two phrases or aliases")
        return self


def _term_kind(value: Any) -> str:
    if isinstance(value, str):
        return "phrase"
    if (isinstance(value, dict) and "regex" in value) or isinstance(value, RegexTerm):
        return "regex"
    return "group"


Term = Annotated[
    Annotated[str, Tag("phrase")]
    | Annotated[RegexTerm, Tag("regex")]
    | Annotated[Group, Tag("group")],
    Discriminator(_term_kind),
]


class Rule(Group):
    """A named group: the name is stored with the evidence it produces. `scope` says where
    all of its parts must hold: the whole entry, one sentence of it, or its headline."""

    name: Id
    scope: Literal["entry", "sentence", "headline"] = "entry"
    background: list[str] = Field(
        default=[], description="cues opening a clause whose words the rule does not see"
    )
    none_in_headline: list[Term] = Field(
        default=[], description="terms that, in the headline, stop the rule anywhere"
    )


# ---------------------------------------------------------------- the tracker


class Forecast(Strict):
    p: Probability
    why: str = Field(min_length=1)


class Reading(Strict):
    id: Id
    title: str
    author: str
    source: str = Field(description="the article the reading comes from (path or URL)")
    published: date
    summary: str
    repeat: bool | None = Field(default=None, description="overrides defaults.repeat")


class Examples(Strict):
    """Entry texts (headline, or "headline. lead") the indicator must or must not match;
    `watch validate` runs them, as unit tests of the rules."""

    match: list[Annotated[str, Field(min_length=1)]] = []
    no_match: list[Annotated[str, Field(min_length=1)]] = []


class Indicator(Strict):
    id: Id
    title: str
    description: str
    kind: Kind
    window_days: int | None = Field(default=None, ge=1)
    closes_on: date | None = None
    corroboration: int | None = Field(default=None, ge=1)
    coverage: Probability | None = Field(default=None, description="overrides defaults.coverage")
    alert_on: list[str] | None = None
    forecasts: dict[str, Forecast]
    match: list[Rule] = Field(min_length=1)
    examples: Examples = Examples()

    @model_validator(mode="after")
    def _one_window(self) -> Indicator:
        if self.window_days is not None and self.closes_on is not None:
            raise ValueError("set window_days or closes_on, not both")
        names = [rule.name for rule in self.match]
        if len(names) != len(set(names)):
            raise ValueError(
                f"rule names repeat: {sorted({n for n in names if names.count(n) > 1})}"
            )
        return self


MIN_POLL_INTERVAL = timedelta(minutes=5)  # a shorter `interval` is polled every 5 minutes


def feed_url(url: str) -> str:
    """`url` if it is an http(s) URL with a host; InvalidFeedURL (a ValueError) otherwise."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise InvalidFeedURL(f"not a feed URL: {url!r} ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidFeedURL(f"not a feed URL: {url!r} (it must start with http:// or https://)")
    if not parts.hostname:
        raise InvalidFeedURL(f"not a feed URL: {url!r} (no host name)")
    return url.strip()


class Feed(Strict):
    name: str
    url: Annotated[str, AfterValidator(feed_url)]
    interval: Duration | None = None

    _duration = field_validator("interval", mode="before")(optional_duration)


class Defaults(Strict):
    corroboration: int = Field(default=2, ge=1)
    window_days: int = Field(default=365, ge=1)
    interval: Duration = timedelta(minutes=30)
    fetch_timeout: Duration = timedelta(seconds=30)  # one deadline for a whole fetch
    alert_on: list[str] = ["signalled", "confirmed", "broken", "resolved"]
    coverage: Probability = Field(
        default=0.9, description="share of a period that must be watched for silence to say no"
    )
    repeat: bool = Field(default=False, description="judge each reading period after period")

    _duration = field_validator("interval", "fetch_timeout", mode="before")(parse_duration)


class Record(Strict):
    """A dated, sourced fact about an indicator: it happened `on` a day, or did not happen
    `from` one day `to` another (both days included)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    indicator: Id
    outcome: Literal["yes", "no"]
    on: date | None = None
    start: date | None = Field(default=None, alias="from")
    end: date | None = Field(default=None, alias="to")
    source: str = Field(pattern=r"^https?://\S+$", description="a public report (URL)")
    note: str = Field(min_length=1)

    @field_validator("outcome", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        return ("yes" if value else "no") if isinstance(value, bool) else value

    @model_validator(mode="after")
    def _dates(self) -> Record:
        if self.outcome == "yes" and (self.on is None or self.start or self.end):
            raise ValueError("outcome yes takes `on: DATE` (the day it happened), not from/to")
        if self.outcome == "no":
            if self.on is not None or self.start is None or self.end is None:
                raise ValueError("outcome no takes `from: DATE` and `to: DATE`, not on")
            if self.end < self.start:
                raise ValueError(f"`to` {self.end} is before `from` {self.start}")
        return self


# ---------------------------------------------------------------- alerts and the daemon

_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d"


class ChannelPolicy(Strict):
    """How one channel (email, slack, apprise:…) is paced; every hold delays, none drops."""

    enabled: bool = True
    group_wait: Duration | None = Field(default=None, description="overrides alerts.group_wait")
    digest: list[Annotated[str, Field(pattern=f"^{_CLOCK}$")]] = Field(
        default=[], description="local times (HH:MM) to send one digest; empty = immediate"
    )
    min_interval: Duration | None = Field(default=None, description="at most one message per")
    quiet_hours: str | None = Field(default=None, pattern=f"^{_CLOCK}-{_CLOCK}$")

    _duration = field_validator("group_wait", "min_interval", mode="before")(optional_duration)


class Alerts(Strict):
    """The `alerts:` section: who gets alerts and how deliveries are paced and retried."""

    recipients: list[str] = []
    sender: str | None = Field(default=None, description="From address; WATCH_MAIL_FROM wins")
    timezone: str = "UTC"
    group_wait: Duration = timedelta(seconds=30)
    max_age: Duration = timedelta(days=2)
    retry_first: Duration = timedelta(seconds=30)
    retry_max: Duration = timedelta(minutes=30)
    channels: dict[str, ChannelPolicy] = {}
    feed_failures: int = Field(default=3, ge=1, description="failed polls in a row that alert")
    feed_silent_after: Duration | None = timedelta(days=7)
    reminder_days: int = Field(default=14, ge=0, description="0 turns window reminders off")
    url: str | None = Field(default=None, description="a link to put in every alert")

    _duration = field_validator(
        "group_wait", "max_age", "retry_first", "retry_max", "feed_silent_after", mode="before"
    )(optional_duration)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use e.g. UTC, Europe/Paris)") from None
        return value

    def policy(self, channel: str) -> ChannelPolicy:
        return self.channels.get(channel) or ChannelPolicy()


class ScorecardSchedule(Strict):
    """When the daemon sends the scorecard: a crontab line in alerts.timezone."""

    schedule: str | None = Field(default="0 8 * * mon", description="crontab; null turns it off")
    reports: str | None = Field(
        default="reports",
        description="folder (relative to the tracker file) where sent scorecards are saved; "
        "null: not saved",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"not a crontab line (5 fields): {value!r}")
        return value


class Tracker(Strict):
    id: Id
    title: str
    description: str = ""


class Config(Strict):
    tracker: Tracker
    defaults: Defaults = Defaults()
    readings: list[Reading] = Field(min_length=1)
    aliases: dict[str, list[str]] = {}
    indicators: list[Indicator] = Field(min_length=1)
    feeds: list[Feed] = []
    database: str | None = Field(
        default=None, description="SQLAlchemy URL or SQLite path; WATCH_DATABASE_URL wins"
    )
    alerts: Alerts = Alerts()
    scorecard: ScorecardSchedule = ScorecardSchedule()
    record: list[Record] = Field(default=[], description="dated, sourced outcomes")
    # Set by load_config, not read from the file.
    path: Path | None = None

    # -- lookups used everywhere
    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise UnknownIndicator(f"no indicator {indicator_id!r} in {self.path or 'the config'}")

    def corroboration(self, indicator: Indicator) -> int:
        return indicator.corroboration or self.defaults.corroboration

    def window(self, indicator: Indicator, reading: Reading) -> tuple[date, date]:
        """The span in which `indicator` is judged for `reading`: from its publication."""
        if indicator.closes_on is not None:
            return reading.published, indicator.closes_on
        days = indicator.window_days or self.defaults.window_days
        return reading.published, reading.published + timedelta(days=days)

    def repeats(self, reading: Reading) -> bool:
        return reading.repeat if reading.repeat is not None else self.defaults.repeat

    def coverage(self, indicator: Indicator) -> float:
        """The share of a period that must be watched before its silence counts as "no"."""
        return indicator.coverage if indicator.coverage is not None else self.defaults.coverage

    def period(self, indicator: Indicator, reading: Reading, index: int) -> tuple[date, date]:
        """Period `index` of the window: published + index·length, for the window's length."""
        opens, closes = self.window(indicator, reading)
        length = closes - opens
        return opens + index * length, closes + index * length

    def alert_on(self, indicator: Indicator) -> list[str]:
        return indicator.alert_on if indicator.alert_on is not None else self.defaults.alert_on

    def reports_folder(self) -> Path | None:
        """Where the daemon saves each scheduled scorecard it queues, if anywhere."""
        if self.scorecard.reports is None:
            return None
        base = self.path.parent if self.path else Path.cwd()
        return base / self.scorecard.reports

    def feed_interval(self, feed: Feed) -> timedelta:
        return feed.interval or self.defaults.interval

    def database_is_default(self) -> bool:
        """True when neither WATCH_DATABASE_URL nor `database:` chose one (db/watch.db)."""
        return not (os.environ.get("WATCH_DATABASE_URL") or self.database)

    def database_url(self) -> str:
        """WATCH_DATABASE_URL, else `database:` from the file, else db/watch.db beside it."""
        url = os.environ.get("WATCH_DATABASE_URL") or self.database
        base = self.path.parent if self.path else Path.cwd()
        if not url:
            return f"sqlite:///{(base / 'db' / 'watch.db').resolve()}"
        if "://" not in url:
            return f"sqlite:///{(base / url).resolve()}"
        return url


Group.model_rebuild()
Rule.model_rebuild()
