"""What an alert says, as plain data, and the plain-text rendering channels share.

A `Message` is built once per (group of) alerts and handed to every channel; each channel
renders it its own way (email: text + HTML, Slack: Block Kit, Apprise: text). Nothing here
escapes anything: escaping belongs to the format a channel writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from watch.terms import MessageKind


@dataclass(frozen=True)
class EvidenceLine:
    """One piece of evidence behind a change, as a reader sees it."""

    title: str
    source: str
    published: datetime | None
    link: str | None


@dataclass(frozen=True)
class Change:
    """One indicator state change."""

    indicator_id: str
    indicator_title: str
    old_state: str | None
    new_state: str
    forecasts: Mapping[str, float]  # reading id -> p(yes)
    agrees: Mapping[str, bool | None]  # reading id -> does the new state agree with it
    evidence: Sequence[EvidenceLine] = ()
    cause: str = "evidence"  # "evidence", "manual: <note>", "window closed", ...


@dataclass(frozen=True)
class Message:
    """One alert (or group of alerts) for every channel to render and send."""

    key: str  # idempotency key: stable across retries; channels that can pass it on do
    subject: str  # one line that reads well in an inbox or a phone notification
    kind: MessageKind
    changes: Sequence[Change] = ()
    tally: Mapping[str, float] | None = None  # e.g. posterior per reading
    lines: Sequence[str] = ()  # free-text body lines (feed health, reminders, scorecard)
    html: str | None = field(default=None, repr=False)  # pre-rendered HTML (the scorecard)
    url: str | None = None

    @classmethod
    def for_changes(
        cls,
        key: str,
        changes: Sequence[Change],
        *,
        tally: Mapping[str, float] | None = None,
        url: str | None = None,
    ) -> Message:
        """A "changes" message whose subject is made from the changes themselves."""
        return cls(
            key=key,
            subject=changes_subject(changes),
            kind=MessageKind.CHANGES,
            changes=tuple(changes),
            tally=tally,
            url=url,
        )

    @classmethod
    def test(cls, now: datetime) -> Message:
        """What `watch alerts test` sends: a key unique per call, so nothing dedupes it away."""
        stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return cls(
            key=f"test:{stamp}",
            subject="test message",
            kind=MessageKind.TEST,
            lines=(f"This is a test message from watch, sent at {format_time(now)}.",),
        )


class Channel(Protocol):
    """Where alerts go. `send` raises RetryableDelivery or PermanentDelivery on failure."""

    name: str

    def send(self, message: Message) -> None: ...


# ---------------------------------------------------------------- words shared by renderings


def changes_subject(changes: Sequence[Change]) -> str:
    """'sohae-construction → confirmed (+2 more)'."""
    if not changes:
        return "no changes"
    first = changes[0]
    more = f" (+{len(changes) - 1} more)" if len(changes) > 1 else ""
    return f"{first.indicator_id} → {first.new_state}{more}"


def state_change(change: Change) -> str:
    """'quiet → confirmed', or '→ signalled' when there was no state before."""
    return (
        f"{change.old_state} → {change.new_state}" if change.old_state else f"→ {change.new_state}"
    )


def agreement(value: bool | None) -> str:
    return {True: "agrees", False: "disagrees", None: "not yet decided"}[value]


def format_time(moment: datetime | None) -> str:
    """'2019-03-07 14:05 UTC'; naive times are taken to be UTC."""
    if moment is None:
        return "time unknown"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_p(p: float) -> str:
    return f"{p:.2f}"


def more(count: int, noun: str) -> str:
    """'… 57 more changes' (the marker every truncation uses)."""
    return f"… {count} more {noun}"


def one_line(text: str) -> str:
    """Collapse whitespace (newlines included) so feed text cannot break a layout."""
    return " ".join(text.split())


def web_link(url: str | None) -> str | None:
    """`url` if it is an http(s) link, else None: feeds can carry javascript: and worse."""
    if url and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return None


# ---------------------------------------------------------------- plain text


def render_text(
    message: Message, *, max_changes: int = 25, max_evidence: int = 5, max_lines: int = 200
) -> str:
    """The message as plain text, long ones truncated with "N more" (never split)."""
    paragraphs: list[list[str]] = []
    shown = message.changes[:max_changes]
    paragraphs.extend(_change_text(change, max_evidence) for change in shown)
    if len(message.changes) > len(shown):
        paragraphs.append([more(len(message.changes) - len(shown), "changes")])
    if message.tally:
        paragraphs.append([f"Current tally: {tally_text(message.tally)}"])
    lines = list(message.lines)
    if lines:
        cut = [more(len(lines) - max_lines, "lines")] if len(lines) > max_lines else []
        paragraphs.append([*lines[:max_lines], *cut])
    if message.url:
        paragraphs.append([message.url])
    return "\n\n".join("\n".join(p) for p in paragraphs) + "\n"


def tally_text(tally: Mapping[str, float]) -> str:
    """'bosack-2019 0.73 · orchard-2018 0.27', highest first."""
    ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
    return " · ".join(f"{reading} {format_p(p)}" for reading, p in ranked)


def _change_text(change: Change, max_evidence: int) -> list[str]:
    out = [
        f"{one_line(change.indicator_title)} ({change.indicator_id})",
        f"  {state_change(change)} (cause: {one_line(change.cause)})",
    ]
    for reading, p in change.forecasts.items():
        out.append(f"  {reading} forecast {format_p(p)}: {agreement(change.agrees.get(reading))}")
    if change.evidence:
        out.append("  evidence:")
    for line in change.evidence[:max_evidence]:
        out.append(
            f"  - {one_line(line.title)} — {one_line(line.source)}, {format_time(line.published)}"
        )
        if line.link:
            out.append(f"    {one_line(line.link)}")
    if len(change.evidence) > max_evidence:
        out.append(f"  {more(len(change.evidence) - max_evidence, 'pieces of evidence')}")
    return out
