"""Command latency: `watch --help`, and the read commands on databases of 10k and 1M entries.

Fills SQLite databases with generated entries (2% of them evidence, spread over the shipped
indicators), then times the real commands as a user runs them (new process each time) and
prints the median and the best of seven runs; `--watch A B` times two builds on the same files.

    .venv/bin/python bench/status.py [--sizes 10000 1000000] [--watch PATH ...]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
WATCH = Path(sys.executable).parent / "watch"

from watch.config import load_config  # noqa: E402
from watch.db import open_database, session_scope  # noqa: E402
from watch.schema import Entry, Evidence, Feed, Story  # noqa: E402
from watch.states import update_states  # noqa: E402

BATCH = 20_000


def fill(url: str, n_entries: int) -> None:
    config = load_config(ROOT / "indicators.yaml")
    engine = open_database(url)
    rng = random.Random(3)
    start = datetime(2018, 6, 1, tzinfo=UTC)
    indicator_ids = [ind.id for ind in config.indicators]
    with session_scope(engine) as session:
        feeds = [Feed(url=f"https://feed{i}.example/rss", name=f"feed {i}") for i in range(50)]
        session.add_all(feeds)
    with engine.begin() as connection:
        for first in range(0, n_entries, BATCH):
            ids = range(first + 1, min(first + BATCH, n_entries) + 1)
            times = {i: start + timedelta(minutes=i) for i in ids}
            connection.execute(
                insert(Story.__table__),
                [  # type: ignore[attr-defined]
                    {
                        "id": i,
                        "canonical_link": f"https://n.example/{i}",
                        "fingerprint": None,
                        "source": f"feed {i % 50}",
                        "first_seen_at": times[i],
                    }
                    for i in ids
                ],
            )
            connection.execute(
                insert(Entry.__table__),
                [  # type: ignore[attr-defined]
                    {
                        "id": i,
                        "feed_id": feeds[i % 50].id,
                        "key": f"g{i}",
                        "story_id": i,
                        "guid": str(i),
                        "link": f"https://n.example/{i}",
                        "title": f"Headline {i}",
                        "summary": "",
                        "source": f"feed {i % 50}",
                        "published_at": times[i],
                        "fetched_at": times[i],
                    }
                    for i in ids
                ],
            )
            matched = [i for i in ids if rng.random() < 0.02]
            if matched:
                connection.execute(
                    insert(Evidence.__table__),
                    [  # type: ignore[attr-defined]
                        {
                            "indicator_id": rng.choice(indicator_ids),
                            "entry_id": i,
                            "story_id": i,
                            "source": f"feed {i % 50}",
                            "rule": "r",
                            "matched": "m",
                            "published_at": times[i],
                            "recorded_at": times[i],
                            "rejected": False,
                            "retracted": False,
                        }
                        for i in matched
                    ],
                )
    with session_scope(engine) as session:
        update_states(session, config, indicator_ids, now=datetime.now(UTC), cause="evidence")
    engine.dispose()


def timed(watch: str, *args: str, env: dict[str, str], runs: int = 7) -> tuple[float, float]:
    """Median and best wall time of `watch ARGS` over `runs` new processes."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([watch, *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument(
        "--watch",
        nargs="+",
        default=[str(WATCH)],
        help="watch executables to time side by side on the same databases",
    )
    args = parser.parse_args()
    env = os.environ | {"WATCH_CONFIG": str(ROOT / "indicators.yaml")}

    def show(label: str, *command: str, env: dict[str, str]) -> None:
        for watch in args.watch:
            median, best = timed(watch, *command, env=env)
            print(f"{label:<36} median {median:6.3f} s  best {best:6.3f} s  ({watch})")

    show("watch --help", "--help", env=env)
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            url = f"sqlite:///{folder}/status-{size}.db"
            started = time.perf_counter()
            fill(url, size)
            print(f"(filled {size:,} entries in {time.perf_counter() - started:.0f} s)")
            env_db = env | {"WATCH_DATABASE_URL": url}
            show(f"watch status, {size:,} entries", "status", env=env_db)
            show(f"watch status --json, {size:,} entries", "status", "--json", env=env_db)
            for command in (
                ["evidence"],
                ["feeds"],
                ["alerts"],
                ["history", "kim-putin-summit"],
                ["scorecard"],
            ):
                show(f"watch {command[0]}, {size:,} entries", *command, env=env_db)


if __name__ == "__main__":
    main()
