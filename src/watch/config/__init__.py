"""The tracker file (indicators.yaml): its schema, its loading, its checks.

    model       the strict pydantic schema, and the lookups every part asks of it
    durations   '90s', '15m', '2h', '1d'
    load        find the file, read it (fast path, careful path), validate, cross-check
    problems    a pydantic error → FILE:LINE: field: message
    checks      cross-field checks after the schema

Errors raise InvalidConfigFile, whose message reads `file:line: field: message`.
"""

from watch.config.durations import parse_duration
from watch.config.load import DEFAULT_CONFIG, default_config_path, load_config
from watch.config.model import (
    Alerts,
    ChannelPolicy,
    Config,
    Defaults,
    Feed,
    Forecast,
    Group,
    Indicator,
    Reading,
    RegexTerm,
    Rule,
    ScorecardSchedule,
    Tracker,
)

__all__ = [
    "DEFAULT_CONFIG",
    "Alerts",
    "ChannelPolicy",
    "Config",
    "Defaults",
    "Feed",
    "Forecast",
    "Group",
    "Indicator",
    "Reading",
    "RegexTerm",
    "Rule",
    "ScorecardSchedule",
    "Tracker",
    "default_config_path",
    "load_config",
    "parse_duration",
]
