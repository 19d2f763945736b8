"""Event-level check: replay the development set as a dated archive through `watch backtest`.

Item-level figures (`watch eval`) say whether each report was read right; this says what the
tracker would have done with them. The labelled items of ../shared/devset/devset.jsonl become
a JSON-lines archive (published, title, summary, link, source: each item keeps its real site,
so corroboration counts real outlets), which `run_backtest` replays day by day through the
live ingest step into its own SQLite database.

A real event is a run of items with the same label, each published within `--gap` days of the
one before (a summit and its coverage, one week's launches). An event is confirmed when the
evidence stored for its items reaches the indicator's corroboration (distinct sources, as the
tracker counts them); the day is counted from the event's first report. The indicator states
of the replay itself are printed too: they move once per reading's window, so they say less
about the matcher than the per-event figures.

    .venv/bin/python bench/devset_backtest.py [--devset ../shared/devset/devset.jsonl] [--gap 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session, select

from watch.config import load_config
from watch.db import open_database
from watch.schema import Entry, Evidence
from watch.scoring.backtest import run_backtest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Event:
    indicator: str
    items: list[dict] = field(default_factory=list)

    @property
    def first(self) -> date:
        return date.fromisoformat(self.items[0]["published"])


def write_archive(items: list[dict], folder: Path) -> Path:
    """The devset as a backtest archive (noon UTC on each item's day)."""
    path = folder / "devset.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for item in items:
            row = {
                "published": f"{item['published']}T12:00:00Z",
                "title": item["title"],
                "summary": item.get("summary") or "",
                "link": item["url"],
                "source": item["source"],
                "guid": item["id"],
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def events_of(items: list[dict], gap: int) -> list[Event]:
    by_label: dict[str, list[dict]] = defaultdict(list)
    for item in sorted(items, key=lambda i: i["published"]):
        for label in item["labels"]:
            by_label[label].append(item)
    events = []
    for label, labelled in by_label.items():
        current: Event | None = None
        for item in labelled:
            day = date.fromisoformat(item["published"])
            last = date.fromisoformat(current.items[-1]["published"]) if current else None
            if current is None or last is None or day - last > timedelta(days=gap):
                current = Event(label)
                events.append(current)
            current.items.append(item)
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=ROOT.parent / "shared/devset/devset.jsonl")
    parser.add_argument("--config", type=Path, default=ROOT / "indicators.yaml")
    parser.add_argument("--gap", type=int, default=10, help="days that split two events")
    args = parser.parse_args()
    items = [json.loads(line) for line in args.devset.read_text(encoding="utf-8").splitlines()]
    config = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        archive = write_archive(items, Path(tmp))
        result = run_backtest(config, archive, Path(tmp) / "out")
        engine = open_database(f"sqlite:///{result.database}")
        with Session(engine) as session:
            rows = session.exec(
                select(Evidence.indicator_id, Evidence.source, Evidence.published_at, Entry.guid)
                .join(Entry, Entry.id == Evidence.entry_id)
                .where(Evidence.rejected == False)  # noqa: E712
            ).all()
        engine.dispose()
    print(result.summary().splitlines()[0])
    evidence = {(indicator, guid): (source, at) for indicator, source, at, guid in rows}

    table: dict[str, list[int | None]] = defaultdict(list)
    possible: dict[str, int] = defaultdict(int)  # events reported by enough distinct sites
    for event in events_of(items, args.gap):
        need = config.corroboration(config.indicator(event.indicator))
        possible[event.indicator] += len({item["source"] for item in event.items}) >= need
        sources: set[str] = set()
        day = None
        for item in event.items:
            found = evidence.get((event.indicator, item["id"]))
            if found is None:
                continue
            sources.add(found[0])
            if len(sources) >= need:
                day = (found[1].date() - event.first).days
                break
        table[event.indicator].append(day)

    print(f"\nreal events (labelled items grouped when under {args.gap} days apart):")
    print(
        f"{'indicator':<27}{'events':>7}{'2+ sites':>9}{'confirmed':>10}  "
        "day confirmed, from the first report"
    )
    total = confirmed = confirmable = 0
    days_all: list[int] = []
    for indicator in [ind.id for ind in config.indicators]:
        days = table.get(indicator, [])
        hits = [d for d in days if d is not None]
        total, confirmed = total + len(days), confirmed + len(hits)
        confirmable += possible[indicator]
        days_all += hits
        shown = ", ".join("–" if d is None else str(d) for d in days)
        print(f"{indicator:<27}{len(days):>7}{possible[indicator]:>9}{len(hits):>10}  {shown}")
    median = statistics.median(days_all) if days_all else None
    print(f"{'all':<27}{total:>7}{confirmable:>9}{confirmed:>10}")
    print(
        f"confirmed {confirmed} of the {confirmable} events that the devset "
        f"reports from enough sites; median day {median}, same day "
        f"{sum(1 for d in days_all if d == 0)}, within a week {sum(1 for d in days_all if d <= 7)}"
    )
    print("\nstate changes in the replay (one ladder per window of each reading):")
    for change in result.changes:
        if change.cause == "evidence":
            move = f"{change.old_state} → {change.new_state}"
            print(f"  {change.at:%Y-%m-%d}  {change.indicator_id:<28} {move}")


if __name__ == "__main__":
    main()
