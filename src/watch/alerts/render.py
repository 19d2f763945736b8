"""Render a batch of deliveries into messages, as many as the channel's limits need: the
state changes with their evidence and each reading's view, most serious first, then the
notices (feed health, reminders) as lines.

    compose: a message cut off by a crash → that message again, alone
             the rest → packed in order while `channel.fits(message)`; a scorecard alone

Nothing is ever summed up as "… N more": a change that does not fit starts the next
message. The key of a message is the same for every attempt at the same alerts on one
channel, so sinks that deduplicate (email Message-ID) see one message however often it is
retried; watch.alerts.delivery stores what a key first said and re-sends exactly that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from watch.alerts.channels import Change, EvidenceLine, Message
from watch.alerts.channels.message import seriousness
from watch.alerts.step import Pending, Step
from watch.schema import AlertKind, Cause, Entry, Evidence, MessageKind, StateChange
from watch.states import agrees, resolve_reading

MAX_EVIDENCE = 5

Fits = Callable[[Message], bool]


@dataclass
class Outgoing:
    """One message and the deliveries it carries."""

    message: Message
    pending: list[Pending]


def message_key(channel: str, alert_ids: Sequence[int]) -> str:
    """The idempotency key: the same for every attempt at the same alerts on one channel."""
    joined = ",".join(str(i) for i in sorted(alert_ids))
    return "watch-" + hashlib.sha256(f"{channel}|{joined}".encode()).hexdigest()[:32]


def compose(step: Step, pending: list[Pending], fits: Fits) -> list[Outgoing]:
    """The batch as messages that each show in full on the channel (see the module doc)."""
    build = _Builder(step)
    out: list[Outgoing] = []
    resent: dict[str, list[Pending]] = {}
    rest: list[Pending] = []
    for p in pending:
        if p.cut_off and p.delivery.message_key:
            resent.setdefault(p.delivery.message_key, []).append(p)
        else:
            rest.append(p)
    out.extend(Outgoing(build(group), group) for group in resent.values())
    cards = [p for p in rest if p.alert.kind == AlertKind.SCORECARD]
    out.extend(Outgoing(build([card]), [card]) for card in cards)
    changes = sorted((p for p in rest if p.change is not None), key=build.seriousness)
    notices = [p for p in rest if p.change is None and p.alert.kind != AlertKind.SCORECARD]
    group: list[Pending] = []
    for p in [*changes, *notices]:
        if group and not fits(build([*group, p])):
            out.append(Outgoing(build(group), group))
            group = []
        group.append(p)
    if group:
        out.append(Outgoing(build(group), group))
    return out


class _Builder:
    """Builds messages from deliveries, rendering each change once however often it is
    tried in a candidate message."""

    def __init__(self, step: Step) -> None:
        self.step = step
        self._changes: dict[int, Change] = {}
        self._tally: dict[str, float] | None = None
        self._tallied = False

    def change(self, p: Pending) -> Change:
        key = p.delivery.id or 0
        if key not in self._changes:
            self._changes[key] = _change(self.step, p)
        return self._changes[key]

    def seriousness(self, p: Pending) -> int:
        return seriousness(self.change(p))

    def tally(self) -> dict[str, float] | None:
        if not self._tallied:
            step = self.step
            self._tally = step.tally(step.session, step.config, step.now) if step.tally else None
            self._tallied = True
        return self._tally

    def __call__(self, pending: list[Pending]) -> Message:
        step = self.step
        config = step.config
        changes = [self.change(p) for p in pending if p.change is not None]
        notices = [p.alert for p in pending if p.change is None]
        lines: list[str] = []
        for alert in notices:
            lines.append(alert.title)
            lines.extend(f"  {line}" for line in alert.body.splitlines() if line.strip())
        key = message_key(step.channel, [p.alert.id or 0 for p in pending])
        if changes:
            message = Message.for_changes(key, changes, tally=self.tally(), url=config.alerts.url)
            if lines:
                subject = f"{message.subject} and {len(notices)} notice(s)"
                message = Message(
                    key=key,
                    subject=subject,
                    kind=MessageKind.CHANGES,
                    changes=message.changes,
                    tally=message.tally,
                    lines=lines,
                    url=message.url,
                )
            return message
        kinds = {a.kind for a in notices}
        kind = MessageKind(kinds.pop() if len(kinds) == 1 else MessageKind.FEED_HEALTH)
        subject = notices[0].title if len(notices) == 1 else f"{len(notices)} notices"
        html = None
        if kind == MessageKind.SCORECARD:  # rendered by the daemon when it queued the scorecard
            card = notices[-1]
            subject, lines, html = card.title, card.body.splitlines(), card.html
        return Message(
            key=key, subject=subject, kind=kind, lines=lines, html=html, url=config.alerts.url
        )


def _change(step: Step, p: Pending) -> Change:
    change = p.change
    assert change is not None
    config = step.config
    indicator = next((i for i in config.indicators if i.id == change.indicator_id), None)
    forecasts = {r: f.p for r, f in indicator.forecasts.items()} if indicator else {}
    views: dict[str, bool | None] = {}
    if indicator:
        for reading_id, p_yes in forecasts.items():
            outcome = resolve_reading(step.session, config, indicator, reading_id, step.now)
            views[reading_id] = agrees(p_yes, outcome.outcome)
    cause = change.cause
    if change.note and change.cause != Cause.EVIDENCE:
        cause = f"{change.cause}: {change.note}"
    return Change(
        indicator_id=change.indicator_id,
        indicator_title=indicator.title if indicator else change.indicator_id,
        old_state=p.delivery.since_state or change.old_state,
        new_state=change.new_state,
        forecasts=forecasts,
        agrees=views,
        evidence=evidence_lines(step.session, change),
        cause=cause,
    )


def evidence_lines(session: Session, change: StateChange) -> list[EvidenceLine]:
    """The evidence behind a change: the one that caused it first, then the newest."""
    rows = session.exec(
        select(Evidence, Entry)
        .join(Entry, col(Entry.id) == Evidence.entry_id)
        .where(
            Evidence.indicator_id == change.indicator_id,
            col(Evidence.rejected).is_(False),
            col(Evidence.retracted).is_(False),
        )
        .order_by(col(Evidence.published_at).desc(), col(Evidence.id).desc())
        .limit(50)
    ).all()
    rows = sorted(rows, key=lambda row: row[0].id != change.evidence_id)
    return [
        EvidenceLine(
            title=entry.title, source=ev.source, published=ev.published_at, link=entry.link
        )
        for ev, entry in rows[:MAX_EVIDENCE]
    ]
