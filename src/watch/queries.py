"""Read-side of the library: what `watch status`, `watch evidence` and `watch feeds` show,
and the recent changes of state the web overview lists.

Each function returns plain dataclasses whose `as_json()` is the documented JSON contract.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watch.clock import iso_z
from watch.config import Config
from watch.outcomes import agrees, load_facts, periods, resolve_period
from watch.reader import Reader, as_reader
from watch.terms import LADDERS, PeriodStatus

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
    session: Session,
    indicator_id: str | None = None,
    *,
    limit: int | None = 50,
    include_rejected: bool = False,
) -> list[EvidenceView]:
    """Evidence newest first (by published time), optionally for one indicator."""
    from sqlmodel import col, select

    from watch.schema import Entry, Evidence, Feed

    query = (
        select(Evidence, Entry, Feed)
        .join(Entry, col(Entry.id) == Evidence.entry_id)
        .join(Feed, col(Feed.id) == Entry.feed_id)
        .order_by(col(Evidence.published_at).desc(), col(Evidence.id).desc())
    )
    if indicator_id:
        query = query.where(Evidence.indicator_id == indicator_id)
    query = query.where(col(Evidence.retracted).is_(False))
    if not include_rejected:
        query = query.where(col(Evidence.rejected).is_(False))
    if limit:
        query = query.limit(limit)
    return [
        EvidenceView(
            id=evidence.id or 0,
            indicator=evidence.indicator_id,
            feed=feed.name,
            link=entry.link,
            title=entry.title,
            published=evidence.published_at,
            **evidence.model_dump(include={"source", "matched", "rule", "rejected"}),
        )
        for evidence, entry, feed in session.exec(query)
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


_FEED_FIELDS = {"last_polled_at", "http_status", "consecutive_failures", "next_poll_at"}
_FEED_FIELDS |= {"last_error"}


def feed_health(session: Session, config: Config) -> list[FeedView]:
    """Every configured feed (polled or not) and every other feed ever polled."""
    from sqlmodel import select

    from watch.schema import Feed

    stored = {feed.url: feed for feed in session.exec(select(Feed))}
    urls = [f.url for f in config.feeds] + [
        u for u in stored if u not in {f.url for f in config.feeds}
    ]
    names = {f.url: f.name for f in config.feeds}
    views = []
    for url in urls:
        feed = stored.get(url) or Feed(url=url, name=names[url])
        views.append(
            FeedView(
                name=names.get(url, feed.name),
                url=url,
                result=feed.last_result,
                entries=feed.entry_count,
                **feed.model_dump(include=_FEED_FIELDS),
            )
        )
    return views


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


def recent_changes(session: Session, since: datetime, *, limit: int = 50) -> list[ChangeView]:
    """Changes of state of every indicator at or after `since`, newest first."""
    from sqlmodel import col, select

    from watch.schema import StateChange

    query = (
        select(StateChange)
        .where(StateChange.at >= since)
        .order_by(col(StateChange.at).desc(), col(StateChange.id).desc())
        .limit(limit)
    )
    return [
        ChangeView(
            indicator=change.indicator_id,
            **change.model_dump(include={"at", "old_state", "new_state", "cause", "note"}),
        )
        for change in session.exec(query)
    ]
