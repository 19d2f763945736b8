"""Run the examples a tracker carries (`examples: {match: [...], no_match: [...]}` per
indicator) through the real matcher: the rules' unit tests, as promtool runs Prometheus's.

A `match` example fails when its indicator does not fire on it; a `no_match` example fails
when it does (the problem then names the rule and the words). Each failure is a
ConfigProblem on the example's own line, so `watch validate` prints `FILE:LINE: examples: …`.
"""

from __future__ import annotations

from typing import Any

from watch.config import Config
from watch.config.load import read_with_lines
from watch.config.problems import line_of
from watch.errors import ConfigProblem
from watch.feeds.match import Matcher

__all__ = ["failing_examples"]


def failing_examples(config: Config, matcher: Matcher | None = None) -> list[ConfigProblem]:
    """Every example whose indicator does not do what the example says, with its line."""
    matcher = matcher or Matcher(config)
    failed: list[tuple[tuple[Any, ...], str]] = []
    for i, indicator in enumerate(config.indicators):
        for key, expected in (("match", True), ("no_match", False)):
            for j, text in enumerate(getattr(indicator.examples, key)):
                fired = {m.indicator_id: m for m in matcher.match(text)}.get(indicator.id)
                if (fired is not None) == expected:
                    continue
                if expected:
                    message = f"{indicator.id} should match but does not: “{text}”"
                else:
                    assert fired is not None
                    message = (
                        f"{indicator.id} should not match but rule {fired.rule} matched "
                        f"“{fired.span}” in “{text}”"
                    )
                failed.append((("indicators", i, "examples", key, j), message))
    if not failed:
        return []
    # Only a failure needs lines: the careful (slower) YAML reader runs then.
    raw: Any = read_with_lines(config.path) if config.path else {}
    return [ConfigProblem(line_of(raw, loc), "examples", message) for loc, message in failed]
