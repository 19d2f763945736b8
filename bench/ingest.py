"""Ingest throughput: parse + dedupe + match + store, beside feedparser's parse-only rate.

Generates RSS feeds of real-style headlines, then for the shipped tracker and for one with 500
generated indicators measures entries/s through the same stages `watch poll` runs per feed
(one transaction per feed, bulk inserts), into a fresh SQLite file. Prints a table.

    .venv/bin/python bench/ingest.py [--feeds 40] [--entries 50]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import match as bench_match  # noqa: E402  (bench/match.py: generated indicators and texts)
from tests.support.rss import item, rss  # noqa: E402

from watch.config import Config, load_config  # noqa: E402
from watch.db import open_database, session_scope  # noqa: E402
from watch.feeds.ingest import ingest as ingest_entries  # noqa: E402
from watch.feeds.match import Matcher  # noqa: E402
from watch.feeds.parse import parse_feed  # noqa: E402
from watch.schema import Feed  # noqa: E402

SUBJECTS = [
    "North Korea",
    "Pyongyang",
    "Kim Jong Un",
    "Seoul",
    "The U.S.",
    "Japan",
    "China",
    "Russia",
    "Putin",
    "Satellite imagery",
    "Analysts",
    "The UN Security Council",
]
VERBS = [
    "warns of",
    "signals",
    "rebuilds",
    "skips",
    "holds",
    "fires",
    "proposes",
    "rejects",
    "suspends",
    "announces",
    "reports on",
    "denies",
]
OBJECTS = [
    "talks with the South",
    "a summit with Putin",
    "new sanctions",
    "missile tests",
    "construction at the Sohae launch site",
    "joint military drills",
    "the liaison office",
    "working-level negotiations",
    "a visit to Beijing",
    "the nuclear test site",
    "sanctions relief",
    "short-range projectiles",
    "food aid",
    "an ICBM launch",
]


OFF_TOPIC = [
    "Central bank holds rates as inflation eases",
    "Storm brings flooding to coastal towns",
    "Tech shares lead market rally",
    "Election campaign enters final week",
    "Football club names new manager",
    "Researchers report progress on battery design",
    "City council approves new transit line",
    "Oil prices slip on demand worries",
]


def headline(rng: random.Random) -> str:
    """Three in ten headlines are on the tracker's subject, as on a general world-news feed."""
    if rng.random() < 0.3:
        return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    return rng.choice(OFF_TOPIC)


def shipped_texts(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [f"{headline(rng)}. {' '.join(headline(rng) for _ in range(3))}." for _ in range(count)]


def make_feeds(texts: list[str], per_feed: int, seed: int = 7) -> list[bytes]:
    """RSS documents of `per_feed` entries each; a text's first sentence is the title."""
    rng = random.Random(seed)
    start = datetime(2019, 4, 1, tzinfo=UTC)
    feeds = []
    for f, first in enumerate(range(0, len(texts), per_feed)):
        items = []
        for e, text in enumerate(texts[first : first + per_feed]):
            title, _, summary = text.partition(". ")
            items.append(
                item(
                    f"{title} ({f}-{e})",
                    link=f"https://news{f}.example/story/{e}?utm_source=rss",
                    guid=f"feed{f}-entry{e}",
                    summary=summary,
                    published=start + timedelta(minutes=rng.randrange(0, 60 * 24 * 90)),
                )
            )
        feeds.append(rss(*items, title=f"Bench feed {f}"))
    return feeds


def parse_only(feeds: list[bytes]) -> float:
    started = time.perf_counter()
    count = sum(len(feedparser.parse(body).entries) for body in feeds)
    return count / (time.perf_counter() - started)


def ingest(feeds: list[bytes], config: Config) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        engine = open_database(f"sqlite:///{folder}/bench.db")
        matcher = Matcher(config)
        now = datetime(2019, 7, 1, tzinfo=UTC)
        with session_scope(engine) as session:
            rows = [
                Feed(url=f"https://news{i}.example/rss", name=f"feed {i}")
                for i in range(len(feeds))
            ]
            session.add_all(rows)
        count = evidence = 0
        started = time.perf_counter()
        for row, body in zip(rows, feeds, strict=True):
            with session_scope(engine) as session:
                parsed = parse_feed(body, url=row.url)
                recorded = ingest_entries(session, config, row, parsed.entries, matcher, now)
                count += recorded.entries
                evidence += recorded.evidence
        elapsed = time.perf_counter() - started
        engine.dispose()
    return count / elapsed, evidence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--entries", type=int, default=50)
    args = parser.parse_args()
    total = args.feeds * args.entries
    shipped = load_config(ROOT / "indicators.yaml")
    rng = random.Random(5)
    topics = bench_match.topic_words(2000, rng)
    generated = bench_match.generated_config(500, topics, rng)
    cases = [
        (f"shipped tracker ({len(shipped.indicators)} indicators)", shipped, shipped_texts(total)),
        ("500 generated indicators", generated, bench_match.generated_texts(total, topics, rng)),
    ]
    print(f"{total} entries in {args.feeds} feeds, one transaction per feed, SQLite")
    for label, config, texts in cases:
        feeds = make_feeds(texts, args.entries)
        # Best of 5, the two measured in turn so a shared machine's load drifts over both alike.
        baseline = rate = 0.0
        for _ in range(5):
            baseline = max(baseline, parse_only(feeds))
            measured, evidence = ingest(feeds, config)
            rate = max(rate, measured)
        print(
            f"{label}: feedparser parse only {baseline:,.0f} entries/s; "
            f"parse+dedupe+match+store {rate:,.0f} entries/s "
            f"= {rate / baseline:.0%} of parse-only ({evidence} evidence rows)"
        )


if __name__ == "__main__":
    main()
