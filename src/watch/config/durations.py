"""Durations as the tracker file writes them: '90s', '15m', '2h', '1d', or minutes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field

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


def optional_duration(value: Any) -> Any:
    """A pydantic before-validator: None stays None, anything else is parsed."""
    return None if value is None else parse_duration(value)
