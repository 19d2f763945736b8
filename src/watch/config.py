"""Load and validate a tracker file (indicators.yaml): one strict schema, errors with lines.

The file is read with ruamel.yaml's round-trip loader, which remembers the line of every key,
so that a pydantic error at ``indicators[3].forecasts.orchard-2018.p`` can be reported as
``indicators.yaml:57: indicators[3].forecasts.orchard-2018.p: ...``. Unknown keys are
rejected everywhere; cross-field checks (ids known, regexes compile, aliases defined) run
after parsing and report with lines too. Relative paths resolve against the file's folder.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from watch.errors import ConfigProblem, InvalidConfigFile

DEFAULT_CONFIG = "indicators.yaml"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=80)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 60}


def parse_duration(value: Any) -> timedelta:
    """'90s', '15m', '2h', '1d', or a bare number of minutes."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(minutes=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 2h, 1d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


Duration = Annotated[timedelta, Field(gt=timedelta(0))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- match rules
# A term is a phrase (str: "launch pad", "dismantl*", "@alias-name"), a regex, or a group.
# Semantics are documented in watch.matching; the schema only fixes the shape.


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
    """A named group: the name is stored with the evidence it produces."""

    name: Id


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


class Indicator(Strict):
    id: Id
    title: str
    description: str
    kind: Literal["event", "condition"]
    window_days: int | None = Field(default=None, ge=1)
    closes_on: date | None = None
    corroboration: int | None = Field(default=None, ge=1)
    alert_on: list[str] | None = None
    forecasts: dict[str, Forecast]
    match: list[Rule] = Field(min_length=1)

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


class Feed(Strict):
    name: str
    url: str = Field(pattern=r"^https?://")
    interval: Duration | None = None

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class Defaults(Strict):
    corroboration: int = Field(default=2, ge=1)
    window_days: int = Field(default=365, ge=1)
    interval: Duration = timedelta(minutes=30)
    alert_on: list[str] = ["signalled", "confirmed", "broken", "resolved"]

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)


# ---------------------------------------------------------------- alerts and the daemon

_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d"


def _durations(value: Any) -> Any:
    return None if value is None else parse_duration(value)


class ChannelPolicy(Strict):
    """How one channel (email, slack, apprise:…) is paced; every hold delays, none drops."""

    enabled: bool = True
    group_wait: Duration | None = Field(default=None, description="overrides alerts.group_wait")
    digest: list[Annotated[str, Field(pattern=f"^{_CLOCK}$")]] = Field(
        default=[], description="local times (HH:MM) to send one digest; empty = immediate"
    )
    min_interval: Duration | None = Field(default=None, description="at most one message per")
    quiet_hours: str | None = Field(default=None, pattern=f"^{_CLOCK}-{_CLOCK}$")

    _duration = field_validator("group_wait", "min_interval", mode="before")(_durations)


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
    )(_durations)

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
    # Set by load_config, not read from the file.
    path: Path | None = None

    # -- lookups used everywhere
    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        from watch.errors import UnknownIndicator

        raise UnknownIndicator(f"no indicator {indicator_id!r} in {self.path or 'the config'}")

    def corroboration(self, indicator: Indicator) -> int:
        return indicator.corroboration or self.defaults.corroboration

    def window(self, indicator: Indicator, reading: Reading) -> tuple[date, date]:
        """The span in which `indicator` is judged for `reading`: from its publication."""
        if indicator.closes_on is not None:
            return reading.published, indicator.closes_on
        days = indicator.window_days or self.defaults.window_days
        return reading.published, reading.published + timedelta(days=days)

    def alert_on(self, indicator: Indicator) -> list[str]:
        return indicator.alert_on if indicator.alert_on is not None else self.defaults.alert_on

    def reports_folder(self) -> Path | None:
        """Where scheduled scorecards are saved (watch.scorecard.save_report), if anywhere."""
        if self.scorecard.reports is None:
            return None
        base = self.path.parent if self.path else Path.cwd()
        return base / self.scorecard.reports

    def feed_interval(self, feed: Feed) -> timedelta:
        return feed.interval or self.defaults.interval

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

STATES = {
    "event": ["quiet", "signalled", "confirmed"],
    "condition": ["holding", "signalled", "broken"],
}


# ---------------------------------------------------------------- loading


def default_config_path() -> Path:
    return Path(os.environ.get("WATCH_CONFIG") or DEFAULT_CONFIG)


def load_config(path: Path | str | None = None) -> Config:
    """Read, validate and cross-check a tracker file; raise InvalidConfigFile with lines."""
    path = Path(path) if path else default_config_path()
    config = _load_fast(path)
    if config is not None:
        return config.model_copy(update={"path": path.resolve()})
    raw = _read_yaml(path)
    try:
        config = Config.model_validate(_plain(raw))
    except ValidationError as exc:
        raise InvalidConfigFile(path, [_problem(raw, err) for err in exc.errors()]) from None
    problems = _cross_check(config, raw)
    if problems:
        raise InvalidConfigFile(path, problems)
    return config.model_copy(update={"path": path.resolve()})


def _load_fast(path: Path) -> Config | None:
    """A valid file read with libyaml's C parser (ten times faster); None on any doubt.

    The slow path below (ruamel's round-trip loader, YAML 1.2, with lines) decides every file
    this one does not accept, so the two can differ only in speed and error messages.
    """
    try:
        import yaml

        class StrictLoader(yaml.CSafeLoader):
            def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
                keys = [self.construct_object(key, deep=True) for key, _ in node.value]
                if len(keys) != len(set(keys)):
                    raise ValueError("duplicate key")  # PyYAML would keep the last silently
                return super().construct_mapping(node, deep=deep)

        data = yaml.load(path.read_text(encoding="utf-8"), Loader=StrictLoader)
        config = Config.model_validate(data)
    except Exception:  # any problem at all: let the careful loader find and report it
        return None
    return None if _cross_check(config, {}) else config


def _read_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidConfigFile(path, [ConfigProblem(None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfigFile(path, [ConfigProblem(None, "", f"cannot read: {exc}")]) from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise InvalidConfigFile(path, [ConfigProblem(line, "", f"YAML syntax: {what}")]) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. duplicate keys)
        raise InvalidConfigFile(path, [ConfigProblem(None, "", f"YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise InvalidConfigFile(path, [ConfigProblem(1, "", "expected a mapping at the top")])
    return data


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (dates and numbers kept)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if type(node).__module__.startswith("ruamel"):
        for base in (bool, int, float, str):
            if isinstance(node, base):
                return base(node)
    return node


def _line_of(raw: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest key or item along `loc` that the file has."""
    node, line = raw, None
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            # pydantic adds union branch names ("str", "Group") to loc: skip them
        except (KeyError, IndexError, TypeError):
            break
    return line


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"phrase", "regex", "group"} or str(part).startswith("function-"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem(raw: Any, err: Any) -> ConfigProblem:
    loc = tuple(err["loc"])
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    elif err["type"] == "missing":
        message = "required field is missing"
    return ConfigProblem(_line_of(raw, loc), _field(loc), message.removeprefix("Value error, "))


def _terms(group: Group) -> list[str]:
    """Every phrase and alias reference in a group, nested ones included."""
    found: list[str] = list(group.near)
    for term in [*group.all, *group.any, *group.none]:
        if isinstance(term, str):
            found.append(term)
        elif isinstance(term, Group):
            found.extend(_terms(term))
    return found


def _cross_check(config: Config, raw: Any) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], message: str) -> None:
        problems.append(ConfigProblem(_line_of(raw, loc), _field(loc), message))

    reading_ids = [r.id for r in config.readings]
    for i, reading_id in enumerate(reading_ids):
        if reading_ids.index(reading_id) != i:
            add(("readings", i, "id"), f"duplicate reading id {reading_id!r}")
    indicator_ids = [ind.id for ind in config.indicators]
    for i, indicator_id in enumerate(indicator_ids):
        if indicator_ids.index(indicator_id) != i:
            add(("indicators", i, "id"), f"duplicate indicator id {indicator_id!r}")
    feed_urls = [f.url for f in config.feeds]
    for i, url in enumerate(feed_urls):
        if feed_urls.index(url) != i:
            add(("feeds", i, "url"), f"duplicate feed url {url!r}")

    for name, phrases in config.aliases.items():
        if not re.match(ID_PATTERN, name):
            add(("aliases", name), f"alias name {name!r} must be lower-case letters, digits, -")
        for j, phrase in enumerate(phrases):
            if phrase.startswith("@") and phrase[1:] not in config.aliases:
                add(("aliases", name, j), f"unknown alias {phrase!r}")
            elif not phrase.strip("@* "):
                add(("aliases", name, j), "empty phrase")
            elif "*" in phrase.strip().rstrip("*"):
                add(("aliases", name, j), f"'*' may only end a phrase: {phrase!r}")

    for i, indicator in enumerate(config.indicators):
        for reading_id in indicator.forecasts:
            if reading_id not in reading_ids:
                add(
                    ("indicators", i, "forecasts", reading_id), f"unknown reading id {reading_id!r}"
                )
        for reading_id in reading_ids:
            if reading_id not in indicator.forecasts:
                add(("indicators", i, "forecasts"), f"no forecast for reading {reading_id!r}")
        for state in indicator.alert_on or []:
            if state not in {*STATES[indicator.kind], "resolved", "reopened"}:
                add(
                    ("indicators", i, "alert_on"), f"{state!r} is not a state of a {indicator.kind}"
                )
        for j, rule in enumerate(indicator.match):
            for term in _terms(rule):
                if term.startswith("@") and term[1:] not in config.aliases:
                    add(("indicators", i, "match", j), f"unknown alias {term!r}")
                elif not term.strip("@* "):
                    add(("indicators", i, "match", j), "empty phrase")
                elif "*" in term.strip().rstrip("*"):
                    add(("indicators", i, "match", j), f"'*' may only end a phrase: {term!r}")
    return problems
