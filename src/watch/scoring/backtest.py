"""Backtest: replay a dated archive through the live pipeline with a simulated clock.

An archive is a folder (or one file) of feed documents (`*.xml`, `*.rss`, `*.atom`: RSS or
Atom, parsed by watch.feeds.parse.parse_feed) and/or JSON-lines files (`*.jsonl`: one object per
line with `published` (ISO 8601), `title`, and optionally `summary`, `link`, `source`, `guid`).
Each file is one feed. Entries without a publication date are skipped and counted.

The replay opens a fresh SQLite database, then steps the clock day by day from the first
entry (or --from) to the last (or --to): each entry goes through the same ingest step as a live
poll (dedupe → match → record, batched: see `_Replay`) with the clock at its publication time, and
at the end of each day on which a period closes, the daemon's
watch.review.close_windows announces it. The archive watches only the days it has entries on
(and short gaps between them, watch.coverage.archive_spans): a period it covers too thinly is
left *unobserved* and listed as undecided, never resolved "no" from silence. The scorecard at
the end (md, html, json) and the weekly series (CSV) are written beside the database. There is
no second matcher and no shortcut through the states.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from watch.clock import iso_z, start_of_day
from watch.collector import cycle_collector_paused
from watch.config import Config
from watch.coverage import archive_spans, record_watched
from watch.db import open_database
from watch.errors import InvalidArchive, NotAFeed
from watch.feeds.dedupe import NewEntry, ReplayDedupe
from watch.feeds.ingest import match_entry
from watch.feeds.match import Match, Matcher
from watch.feeds.parse import ParsedEntry, parse_feed
from watch.feeds.record import record
from watch.review import close_windows
from watch.schema import LADDERS, Feed, State, StateChange
from watch.scoring.render import render, save_report
from watch.scoring.scorecard import PeriodCell, Scorecard, build_scorecard
from watch.states import derive_state, periods

FEED_SUFFIXES = {".xml", ".rss", ".atom"}
BATCH = 5_000  # entries per transaction in a replay
JSONL_SUFFIXES = {".jsonl"}


@dataclass(frozen=True)
class ArchivedEntry:
    feed: str  # the file it came from, relative to the archive
    feed_title: str
    entry: ParsedEntry
    published: datetime


@dataclass
class Archive:
    entries: list[ArchivedEntry]  # in publication order
    files: int
    undated: int  # entries skipped for want of a publication date


def _jsonl_entry(data: Any, where: str) -> ParsedEntry:
    if not isinstance(data, dict):
        raise InvalidArchive(f"{where}: expected a JSON object")
    title, published = data.get("title"), data.get("published")
    if not isinstance(title, str) or not title.strip():
        raise InvalidArchive(f"{where}: `title` is required")
    when = None
    if published is not None:
        try:
            when = datetime.fromisoformat(str(published).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArchive(f"{where}: `published` is not ISO 8601: {published!r}") from None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    text = {k: data.get(k) for k in ("summary", "link", "source", "guid")}
    for key, value in text.items():
        if value is not None and not isinstance(value, str):
            raise InvalidArchive(f"{where}: `{key}` must be a string")
    return ParsedEntry(
        guid=text["guid"],
        link=text["link"],
        title=title.strip(),
        summary=(text["summary"] or "").strip(),
        published=when,
        source=text["source"],
    )


def _read_file(path: Path, name: str) -> Iterator[tuple[str, ParsedEntry]]:
    """(feed title, entry) for every entry of one archive file."""
    if path.suffix.lower() in JSONL_SUFFIXES:
        lines, stem = path.read_text(encoding="utf-8").splitlines(), path.stem
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidArchive(f"{name}:{number}: not JSON: {exc}") from None
            yield stem, _jsonl_entry(data, f"{name}:{number}")
        return
    try:
        parsed = parse_feed(path.read_bytes(), url=path.resolve().as_uri())
    except NotAFeed as exc:
        raise InvalidArchive(f"{name}: not a feed: {exc}") from None
    for entry in parsed.entries:
        yield parsed.title or path.stem, entry


def load_archive(path: Path, start: date | None = None, end: date | None = None) -> Archive:
    """Every dated entry of the archive published within [start, end], oldest first."""
    if path.is_file():
        files, root = [path], path.parent
    elif path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in FEED_SUFFIXES | JSONL_SUFFIXES
        )
        root = path
    else:
        raise InvalidArchive(f"{path}: no such file or folder")
    if not files:
        raise InvalidArchive(f"{path}: no *.xml, *.rss, *.atom or *.jsonl files in it")
    entries, undated = [], 0
    for file in files:
        name = file.relative_to(root).as_posix()
        for title, entry in _read_file(file, name):
            if entry.published is None:
                undated += 1
                continue
            day = entry.published.date()
            if (start and day < start) or (end and day > end):
                continue
            entries.append(ArchivedEntry(name, title, entry, entry.published))
    entries.sort(key=lambda e: (e.published, e.feed))
    return Archive(entries, len(files), undated)


@dataclass
class BacktestResult:
    archive: Path
    database: Path
    start: date
    end: date
    entries: int
    undated: int
    files: int
    evidence: int
    changes: list[StateChange] = field(default_factory=list)
    scorecard: Scorecard | None = None
    reports: list[Path] = field(default_factory=list)

    @property
    def undecided(self) -> list[tuple[str, PeriodCell]]:
        """(indicator, period) the archive covered too thinly to decide: unobserved."""
        if self.scorecard is None:
            return []
        return [(row.id, cell) for row in self.scorecard.indicators for cell in row.unobserved]

    def as_json(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive),
            "database": str(self.database),
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "files": self.files,
            "entries": self.entries,
            "undated_skipped": self.undated,
            "evidence": self.evidence,
            "changes": [
                {
                    "indicator": c.indicator_id,
                    "at": iso_z(c.at),
                    "from": c.old_state,
                    "to": c.new_state,
                    "cause": c.cause,
                    "note": c.note,
                }
                for c in self.changes
            ],
            "undecided": [
                {"indicator": indicator, **cell.as_json()} for indicator, cell in self.undecided
            ],
            "reports": [str(p) for p in self.reports],
            "scorecard": self.scorecard.as_json() if self.scorecard else None,
        }

    def summary(self) -> str:
        lines = [
            f"replayed {self.entries} entries from {self.files} file(s), {self.start} to "
            f"{self.end}: {self.evidence} evidence, {len(self.changes)} state changes"
            + (f" ({self.undated} undated entries skipped)" if self.undated else ""),
        ]
        if self.undecided:
            lines.append(
                f"{len(self.undecided)} period(s) the archive could not decide (too sparse; "
                "left unobserved, not resolved from silence):"
            )
            lines += [
                f"  {indicator} {cell.reading} period {cell.index} "
                f"({cell.start.date()} to {cell.end.date()}): watched {cell.coverage:.0%}"
                for indicator, cell in self.undecided
            ]
        if self.scorecard is not None:
            lines.append(render(self.scorecard, "text").rstrip())
        lines += [f"wrote {path}" for path in self.reports]
        return "\n".join(lines) + "\n"


def _fresh_database(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    return f"sqlite:///{path.resolve()}"


def run_backtest(
    config: Config,
    archive_path: Path,
    out: Path,
    *,
    start: date | None = None,
    end: date | None = None,
) -> BacktestResult:
    """Replay the archive into `out`/backtest.db and write the scorecard and weekly series."""
    with cycle_collector_paused():  # see watch.collector
        return _run(config, archive_path, out, start, end)


def _run(
    config: Config, archive_path: Path, out: Path, start: date | None, end: date | None
) -> BacktestResult:
    archive = load_archive(archive_path, start, end)
    if not archive.entries and (start is None or end is None):
        raise InvalidArchive(f"{archive_path}: no dated entries in range to replay")
    first = start or archive.entries[0].published.date()
    last = end or archive.entries[-1].published.date()
    if last < first:
        raise InvalidArchive(f"--to {last} is before --from {first}")
    database = out / "backtest.db"
    engine = open_database(_fresh_database(database), scratch=True)
    result = BacktestResult(
        archive_path, database, first, last, len(archive.entries), archive.undated, archive.files, 0
    )
    matcher = Matcher(config)
    # Only evidence can decide a period before it closes, so periods need closing only on the
    # days they close (nothing in a replay rejects evidence afterwards).
    over = start_of_day(last + timedelta(days=1))
    closes = sorted(
        {
            period.end
            for indicator in config.indicators
            for reading in config.readings
            for period in periods(config, indicator, reading.id, over)
        }
    )
    try:
        with Session(engine, expire_on_commit=False) as session:
            by_file: dict[str, list[datetime]] = {}
            for item in archive.entries:
                by_file.setdefault(item.feed, []).append(item.published)
            for name, times in by_file.items():
                for span_start, span_end in archive_spans(times):
                    record_watched(session, f"archive:{name}", span_start, span_end)
            feeds: dict[str, Feed] = {}
            replay = _Replay(session, config, matcher, result)
            queue = iter(archive.entries)
            upcoming = next(queue, None)
            day = first
            while day <= last:
                while upcoming is not None and upcoming.published.date() == day:
                    feed = feeds.get(upcoming.feed) or _feed(session, feeds, upcoming)
                    replay.add(feed, upcoming)
                    if replay.pending >= BATCH:
                        replay.flush()
                        session.commit()
                    upcoming = next(queue, None)
                clock = start_of_day(day + timedelta(days=1))
                if closes and closes[0] <= clock:
                    replay.flush()
                    result.changes += close_windows(session, config, clock)
                    closes = [when for when in closes if when > clock]
                    session.commit()
                day += timedelta(days=1)
            replay.flush()
            session.commit()
            card = build_scorecard(session, config, over, as_of=last)
    finally:
        engine.dispose()
    result.scorecard = card
    result.reports = [save_report(card, out), write_series(card, out / "weekly-series.csv")]
    return result


def _feed(session: Session, feeds: dict[str, Feed], item: ArchivedEntry) -> Feed:
    feed = Feed(url=f"archive:{item.feed}", name=item.feed_title[:300])
    session.add(feed)
    session.flush()
    feeds[item.feed] = feed
    return feed


@dataclass
class _FeedSeen:
    """What a replay did to a feed since the last flush, applied to its row in one go."""

    feed: Feed
    polled: datetime | None = None
    new_entry: datetime | None = None
    new_entries: int = 0

    def apply(self) -> None:
        if self.polled is not None:
            self.feed.last_polled_at = self.polled
        if self.new_entry is not None:
            self.feed.last_new_entry_at = self.new_entry
        self.feed.entry_count += self.new_entries
        self.polled, self.new_entry, self.new_entries = None, None, 0


class _Replay:
    """Entries through dedupe → match → record in batches, with the results of one at a time.

    Dedupe runs in memory (watch.feeds.dedupe.ReplayDedupe: the replay is the database's only
    writer). Entries wait in a segment; the segment is recorded (watch.feeds.record, one bulk
    INSERT per table) when it reaches BATCH entries, before windows close, and right after an
    entry whose evidence moves a state, with the clock at that entry's publication time. So
    every state change is decided by watch.states on exactly the evidence stored up to its
    entry, as when each entry was ingested alone, and most entries cost no query at all.
    """

    def __init__(
        self, session: Session, config: Config, matcher: Matcher, result: BacktestResult
    ) -> None:
        self.session, self.config, self.matcher, self.result = session, config, matcher, result
        self.dedupe = ReplayDedupe()
        self.segment: list[NewEntry] = []
        self.matches: list[list[Match]] = []
        self.sources: dict[str, set[str]] = {}
        self.states = {ind.id: LADDERS[ind.kind][0] for ind in config.indicators}
        self.kinds = {ind.id: ind.kind for ind in config.indicators}
        self.feeds: dict[int, _FeedSeen] = {}

    @property
    def pending(self) -> int:
        return len(self.segment)

    def add(self, feed: Feed, item: ArchivedEntry) -> None:
        now = item.published
        seen = self.feeds.get(id(feed))
        if seen is None:
            seen = self.feeds[id(feed)] = _FeedSeen(feed)
        seen.polled = now
        new = self.dedupe.dedupe_one(feed, item.entry, now)
        if new is None:
            return
        seen.new_entry, seen.new_entries = now, seen.new_entries + 1
        found = match_entry(self.matcher, new.row.title, new.row.summary)
        self.segment.append(new)
        self.matches.append(found)
        if any(self._moves(match.indicator_id, new.story.source) for match in found):
            self.flush(now)

    def _moves(self, indicator_id: str, source: str) -> bool:
        """Whether this evidence would move the indicator's state (watch.states decides)."""
        if indicator_id not in self.kinds:
            return False
        sources = self.sources.setdefault(indicator_id, set())
        sources.add(source)
        corroboration = self.config.corroboration(self.config.indicator(indicator_id))
        derived = derive_state(self.kinds[indicator_id], len(sources), corroboration)
        return derived != self.states[indicator_id]

    def flush(self, now: datetime | None = None) -> None:
        for seen in self.feeds.values():  # the ORM's attribute events are slow per entry
            seen.apply()
        if not self.segment:
            return
        now = now or self.segment[-1].row.fetched_at
        recorded = record(self.session, self.config, self.segment, self.matches, now)
        for change in recorded.changes:
            self.states[change.indicator_id] = State(change.new_state)
        self.result.changes += recorded.changes
        self.result.evidence += recorded.evidence
        self.segment, self.matches = [], []


def write_series(card: Scorecard, path: Path) -> Path:
    """The weekly series as CSV: week ending, resolved count, each reading's posterior."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        readings = card.reading_ids
        writer.writerow(
            ["week_ending", "resolved", *(f"posterior_{r}" for r in readings), "leader"]
        )
        for point in card.series:
            writer.writerow(
                [
                    point.day.isoformat(),
                    point.n,
                    *(f"{point.posterior[r]:.6f}" for r in readings),
                    point.leader or "",
                ]
            )
    return path
