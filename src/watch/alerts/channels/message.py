"""What an alert says, as plain data, and the plain-text rendering channels share.

A `Message` is built once per (group of) alerts and handed to every channel; each channel
renders it its own way (email: text + HTML, Slack: Block Kit, Apprise: text). Nothing here
escapes anything: escaping belongs to the format a channel writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from watch.terms import MessageKind, State

# Which change leads a message (and its subject): what settles a forecast first, then a
# question opened again, then a first sign; a resolution by hand and a move back down last.
SERIOUSNESS: dict[str, int] = {
    State.BROKEN: 0,
    State.CONFIRMED: 0,
    State.REOPENED: 1,
    State.SIGNALLED: 2,
    State.RESOLVED: 3,
}


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
        """A "changes" message, the most serious change first; the subject names it."""
        ordered = by_seriousness(changes)
        return cls(
            key=key,
            subject=changes_subject(ordered),
            kind=MessageKind.CHANGES,
            changes=ordered,
            tally=tally,
            url=url,
        )

    def as_json(self) -> str:
        """The message as stored, so that a re-send repeats exactly what was first sent."""
        return json.dumps(asdict(self), default=_iso, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Message:
        data: dict[str, Any] = json.loads(text)
        changes = tuple(
            Change(**{**c, "evidence": tuple(_evidence(e) for e in c["evidence"])})
            for c in data.pop("changes")
        )
        kind, lines = MessageKind(data.pop("kind")), tuple(data.pop("lines"))
        return cls(**data, kind=kind, changes=changes, lines=lines)

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


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a message")


def _evidence(data: dict[str, Any]) -> EvidenceLine:
    published = data["published"]
    return EvidenceLine(
        title=data["title"],
        source=data["source"],
        published=datetime.fromisoformat(published) if published else None,
        link=data["link"],
    )


class Channel(Protocol):
    """Where alerts go. `send` raises RetryableDelivery or PermanentDelivery on failure;
    `fits` says whether a message shows in full within the channel's limits (the delivery
    chain splits a batch until each message fits, so nothing is cut to "… N more")."""

    name: str

    def send(self, message: Message) -> None: ...

    def fits(self, message: Message) -> bool: ...


# ---------------------------------------------------------------- words shared by renderings


def seriousness(change: Change) -> int:
    """0 for the changes that matter most (broken, confirmed), higher for the others."""
    return SERIOUSNESS.get(change.new_state, len(SERIOUSNESS))


def by_seriousness(changes: Sequence[Change]) -> tuple[Change, ...]:
    """The most serious first; changes of equal weight keep their order."""
    return tuple(sorted(changes, key=seriousness))


def changes_subject(changes: Sequence[Change]) -> str:
    """'sohae-construction → confirmed (+2 more)', naming the most serious change."""
    if not changes:
        return "no changes"
    first = min(changes, key=seriousness)
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


MAX_TEXT_CHANGES = 25  # changes in one plain-text (or email) message
MAX_TEXT_LINES = 200  # free-text lines in one message


def text_fits(message: Message, max_changes: int = MAX_TEXT_CHANGES) -> bool:
    """Whether `render_text` shows every change and line of `message` (nothing "N more")."""
    return len(message.changes) <= max_changes and len(message.lines) <= MAX_TEXT_LINES


def render_text(
    message: Message,
    *,
    max_changes: int = MAX_TEXT_CHANGES,
    max_evidence: int = 5,
    max_lines: int = MAX_TEXT_LINES,
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
