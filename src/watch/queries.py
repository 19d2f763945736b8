"""Read-side of the library: what `watch status`, `watch evidence`, `watch feeds` and `watch
alerts` and `watch history` show, and the recent changes of state the web overview lists.

Every function takes a Session or a plain-SQL Reader (watch.reader): the CLI opens a Reader so
that read commands start without importing SQLAlchemy; the web and the tests pass Sessions.

Each function returns plain dataclasses whose `as_json()` is the documented JSON contract.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watch.clock import iso_z
from watch.config import Config
from watch.outcomes import agrees, dated_words, load_facts, periods, resolve_period, yes_no
from watch.reader import Reader, as_reader
from watch.terms import LADDERS, DeliveryStatus, PeriodStatus

if TYPE_CHECKING:
    from sqlmodel import Session

_MARKS = {True: "agrees", False: "disagrees", None: "pending"}


@dataclass
class IndicatorStatus:
    id: str
    title: str
    kind: str
    state: str
    evidence_count: int
    sources: int
    last_evidence_at: datetime | None
    # reading id -> {"p", "agrees", "period": {index, start, end, status},
    #                "past": {yes, no, unobserved}}: the current period and the closed ones
    readings: dict[str, dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_evidence_at"] = iso_z(self.last_evidence_at)
        return out

    def reading_cell(self, reading_id: str) -> str:
        """'0.85 agrees', or with periods '0.85 pending · period 7 · past 3 yes · 1 no · 4
        unobserved'; an unobserved window says so rather than agreeing or not."""
        view = self.readings[reading_id]
        period, past = view["period"], view["past"]
        mark = _MARKS[view["agrees"]]
        if period["status"] == PeriodStatus.UNOBSERVED:
            mark = "unobserved"
        text = f"{view['p']:.2f} {mark}"
        if period["index"] or any(past.values()):
            summary = " · ".join(f"{n} {k}" for k, n in past.items() if n) or "none"
            text += f" · period {period['index']} · past {summary}"
        return text


def indicator_status(db: Reader | Session, config: Config, now: datetime) -> list[IndicatorStatus]:
    """One row per configured indicator, in file order.

    `db` is a Session or a plain-SQL Reader (watch.reader: what `watch status` opens, so that
    it never imports SQLAlchemy); both go through the same watch.outcomes rule.
    """
    reader = as_reader(db)
    stored = {
        row[0]: row[1:]
        for row in reader.rows(
            "SELECT indicator_id, state, evidence_count, sources, last_evidence_at "
            "FROM indicatorstate"
        )
    }
    facts = load_facts(reader, config, stream=True)
    rows = []
    for indicator in config.indicators:
        state, count, sources, last = stored.get(
            indicator.id, (LADDERS[indicator.kind][0], 0, 0, None)
        )
        readings = {}
        for reading_id, forecast in indicator.forecasts.items():
            resolved = [
                resolve_period(reader, config, indicator, period, now, facts)
                for period in periods(config, indicator, reading_id, now)
            ]
            current = resolved[-1]
            assert current.period is not None
            past = {str(s): 0 for s in (PeriodStatus.YES, PeriodStatus.NO, PeriodStatus.UNOBSERVED)}
            for closed in resolved[:-1]:
                past[str(closed.status)] += 1
            readings[reading_id] = {
                "p": forecast.p,
                "agrees": agrees(forecast.p, current.outcome),
                "period": {
                    "index": current.period.index,
                    "start": iso_z(current.period.start),
                    "end": iso_z(current.period.end),
                    "status": str(current.status),
                },
                "past": past,
            }
        rows.append(
            IndicatorStatus(
                id=indicator.id,
                title=indicator.title,
                kind=indicator.kind,
                state=state,
                evidence_count=count,
                sources=sources,
                last_evidence_at=reader.time(last),
                readings=readings,
            )
        )
    return rows


@dataclass
class EvidenceView:
    id: int
    indicator: str
    feed: str
    source: str
    link: str | None
    title: str
    published: datetime
    matched: str
    rule: str
    rejected: bool

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["published"] = iso_z(self.published)
        return out


def list_evidence(
    db: Reader | Session,
    indicator_id: str | None = None,
    *,
    limit: int | None = 50,
    include_rejected: bool = False,
) -> list[EvidenceView]:
    """Evidence newest first (by published time), optionally for one indicator."""
    reader = as_reader(db)
    where = ["NOT ev.retracted"]
    params: list[Any] = []
    if indicator_id:
        where.append("ev.indicator_id = ?")
        params.append(indicator_id)
    if not include_rejected:
        where.append("NOT ev.rejected")
    sql = (
        "SELECT ev.id, ev.indicator_id, feed.name, ev.source, entry.link, entry.title, "
        "ev.published_at, ev.matched, ev.rule, ev.rejected FROM evidence ev "
        "JOIN entry ON entry.id = ev.entry_id JOIN feed ON feed.id = entry.feed_id "
        f"WHERE {' AND '.join(where)} ORDER BY ev.published_at DESC, ev.id DESC"
    )
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [
        EvidenceView(
            id=row[0],
            indicator=row[1],
            feed=row[2],
            source=row[3],
            link=row[4],
            title=row[5],
            published=_time(reader, row[6]),
            matched=row[7],
            rule=row[8],
            rejected=bool(row[9]),
        )
        for row in reader.rows(sql, params)
    ]


@dataclass
class FeedView:
    name: str
    url: str
    last_polled_at: datetime | None
    result: str | None
    http_status: int | None
    entries: int
    consecutive_failures: int
    next_poll_at: datetime | None
    last_error: str | None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_polled_at"] = iso_z(self.last_polled_at)
        out["next_poll_at"] = iso_z(self.next_poll_at)
        return out


def feed_health(db: Reader | Session, config: Config) -> list[FeedView]:
    """Every configured feed (polled or not), then every other feed ever polled."""
    reader = as_reader(db)
    stored = {
        row[0]: row
        for row in reader.rows(
            "SELECT url, name, last_polled_at, last_result, http_status, entry_count, "
            "consecutive_failures, next_poll_at, last_error FROM feed ORDER BY id"
        )
    }
    views = [
        FeedView(feed.name, feed.url, None, None, None, 0, 0, None, None)
        if feed.url not in stored
        else _feed_view(reader, stored.pop(feed.url), feed.name)
        for feed in config.feeds
    ]
    return views + [_feed_view(reader, row, row[1]) for row in stored.values()]


def _feed_view(reader: Reader, row: tuple[Any, ...], name: str) -> FeedView:
    url, _, polled, result, status, entries, failures, next_poll, error = row
    return FeedView(
        name, url, reader.time(polled), result, status, entries, failures,
        reader.time(next_poll), error,
    )  # fmt: skip


@dataclass
class ChangeView:
    indicator: str
    at: datetime
    old_state: str | None
    new_state: str
    cause: str
    note: str | None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = iso_z(self.at)
        return out


def recent_changes(db: Reader | Session, since: datetime, *, limit: int = 50) -> list[ChangeView]:
    """Changes of state of every indicator at or after `since`, newest first."""
    reader = as_reader(db)
    rows = reader.rows(
        "SELECT indicator_id, at, old_state, new_state, cause, note FROM statechange "
        "WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?",
        [since, limit],
    )
    return [
        ChangeView(indicator, _time(reader, at), old, new, cause, note)
        for indicator, at, old, new, cause, note in rows
    ]


@dataclass
class DeliveryView:
    id: int
    alert_id: int
    kind: str
    subject: str
    title: str
    channel: str
    status: str
    attempts: int
    queued_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    message_key: str | None
    last_error: str | None
    note: str | None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("queued_at", "next_attempt_at", "sent_at"):
            out[name] = iso_z(out[name])
        return out


def list_deliveries(
    db: Reader | Session, status: str | None = None, *, limit: int | None = 100
) -> list[DeliveryView]:
    """Deliveries (one per alert and channel), newest first, optionally of one status; when
    the next attempt is due only for pending ones."""
    reader = as_reader(db)
    sql = (
        "SELECT d.id, a.id, a.kind, a.subject, a.title, d.channel, d.status, d.attempts, "
        "d.queued_at, d.next_attempt_at, d.sent_at, d.message_key, d.last_error, d.note "
        "FROM delivery d JOIN alert a ON a.id = d.alert_id"
    )
    params: list[Any] = []
    if status:
        sql += " WHERE d.status = ?"
        params.append(status)
    sql += " ORDER BY d.id DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [
        DeliveryView(
            id=row[0],
            alert_id=row[1],
            kind=row[2],
            subject=row[3],
            title=row[4],
            channel=row[5],
            status=row[6],
            attempts=row[7],
            queued_at=_time(reader, row[8]),
            next_attempt_at=reader.time(row[9]) if row[6] == DeliveryStatus.PENDING else None,
            sent_at=reader.time(row[10]),
            message_key=row[11],
            last_error=row[12],
            note=row[13],
        )
        for row in reader.rows(sql, params)
    ]


@dataclass
class HistoryRow:
    at: datetime
    old_state: str | None
    new_state: str
    cause: str
    note: str | None
    evidence_id: int | None
    evidence_title: str | None
    evidence_source: str | None
    evidence_link: str | None
    source: str | None = None  # the report behind a dated resolution (record or by hand)

    def as_json(self) -> dict[str, Any]:
        return {
            "at": iso_z(self.at),
            "from": self.old_state,
            "to": self.new_state,
            "cause": self.cause,
            "note": self.note,
            "source": self.source,
            "evidence": None
            if self.evidence_id is None
            else {
                "id": self.evidence_id,
                "title": self.evidence_title,
                "source": self.evidence_source,
                "link": self.evidence_link,
            },
        }


def history(db: Reader | Session, config: Config, indicator_id: str) -> list[HistoryRow]:
    """Every change of the indicator's state, oldest first, with the evidence behind it; then
    the dated outcomes (cause "record" from the tracker file, "manual" by hand), apart from
    the evidence: `to` is "yes" or "no", and `at` the day it happened or the span's start."""
    config.indicator(indicator_id)
    reader = as_reader(db)
    rows = reader.rows(
        "SELECT c.at, c.old_state, c.new_state, c.cause, c.note, c.evidence_id, entry.title, "
        "ev.source, entry.link FROM statechange c "
        "LEFT JOIN evidence ev ON ev.id = c.evidence_id "
        "LEFT JOIN entry ON entry.id = ev.entry_id "
        "WHERE c.indicator_id = ? ORDER BY c.at, c.id",
        [indicator_id],
    )
    changes = [HistoryRow(_time(reader, row[0]), *row[1:]) for row in rows]
    facts = load_facts(reader, config).dated.get(indicator_id, [])
    dated = [
        HistoryRow(
            at=fact.start,
            old_state=None,
            new_state=yes_no(fact.outcome),
            cause=fact.cause,
            note=f"{dated_words(fact.outcome, fact.start, fact.end)}: {fact.note}",
            evidence_id=None,
            evidence_title=None,
            evidence_source=None,
            evidence_link=None,
            source=fact.source,
        )
        for fact in sorted(facts, key=lambda f: f.start)
    ]
    return changes + dated


def _time(reader: Reader, value: Any) -> datetime:
    """A NOT NULL time column's value."""
    moment = reader.time(value)
    assert moment is not None
    return moment
