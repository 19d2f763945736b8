"""Cross-field checks that run after the schema: ids unique and known, aliases defined,
phrases well formed, alert_on states real. Each problem names its line."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from watch.config.model import ID_PATTERN, Config, Group, Indicator
from watch.config.problems import field_path, line_of
from watch.errors import ConfigProblem
from watch.terms import LADDERS, State


def _terms(group: Group) -> list[str]:
    """Every phrase and alias reference in a group, nested ones included."""
    found: list[str] = list(group.near)
    for term in [*group.all, *group.any, *group.none]:
        if isinstance(term, str):
            found.append(term)
        elif isinstance(term, Group):
            found.extend(_terms(term))
    return found


def cross_check(config: Config, raw: Any) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []

    def add(loc: tuple[Any, ...], message: str) -> None:
        problems.append(ConfigProblem(line_of(raw, loc), field_path(loc), message))

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
            if state not in {*LADDERS[indicator.kind], State.RESOLVED, State.REOPENED}:
                add(
                    ("indicators", i, "alert_on"), f"{state!r} is not a state of a {indicator.kind}"
                )
        for j, rule in enumerate(indicator.match):
            headline = Group(any=rule.none_in_headline) if rule.none_in_headline else None
            extra = _terms(headline) if headline else []
            for term in [*_terms(rule), *rule.background, *extra]:
                if term.startswith("@") and term[1:] not in config.aliases:
                    add(("indicators", i, "match", j), f"unknown alias {term!r}")
                elif not term.strip("@* "):
                    add(("indicators", i, "match", j), "empty phrase")
                elif "*" in term.strip().rstrip("*"):
                    add(("indicators", i, "match", j), f"'*' may only end a phrase: {term!r}")

    for i, fact in enumerate(config.record):
        if fact.indicator not in indicator_ids:
            add(("record", i, "indicator"), f"unknown indicator id {fact.indicator!r}")
            continue
        indicator = config.indicator(fact.indicator)
        if fact.on is not None and not _in_a_window(config, indicator, fact.on, fact.on):
            add(("record", i, "on"), f"{fact.on} lies outside every window of {fact.indicator}")
        if fact.start and fact.end and not _in_a_window(config, indicator, fact.start, fact.end):
            add(
                ("record", i, "from"),
                f"{fact.start} to {fact.end} lies outside every window of {fact.indicator}",
            )
    return problems


def _in_a_window(config: Config, indicator: Indicator, first: date, last: date) -> bool:
    """Whether the days first..last (inclusive) meet some period of some reading's window."""
    for reading in config.readings:
        opens, closes = config.window(indicator, reading)
        if config.repeats(reading) and closes > opens:
            closes = date.max
        if first < closes and last >= opens:
            return True
    return False
