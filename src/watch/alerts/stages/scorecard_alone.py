"""A scorecard goes out in a message of its own (its HTML page is the mail); the rest of the
batch waits for the next cycle."""

from __future__ import annotations

from watch.alerts.step import Pending, Step
from watch.schema import AlertKind


def scorecard_alone(step: Step, pending: list[Pending]) -> list[Pending]:
    cards = [p for p in pending if p.alert.kind == AlertKind.SCORECARD]
    return cards or pending
