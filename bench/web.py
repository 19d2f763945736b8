"""Dashboard latency: each page of `watch serve` on databases of 10k and 1M entries.

Fills SQLite databases as bench/status.py does (2% of entries evidence, spread over the shipped
indicators), serves the dashboard on a loopback port in this process (uvicorn in a thread) and
prints each page's median time over several requests from a real HTTP client.

    .venv/bin/python bench/web.py [--sizes 10000 1000000] [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from status import fill  # bench/status.py: the same generated database

from watch.config import load_config
from watch.db import open_database
from watch.web.app import create_app
from watch.web.server import WebServer

ROOT = Path(__file__).resolve().parents[1]

PAGES = ["/", "/indicators", "/indicators/kim-putin-summit", "/feeds", "/alerts"]


def median_ms(client: httpx.Client, path: str, runs: int) -> float:
    client.get(path).raise_for_status()  # warm: templates compiled, connections pooled
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    config = load_config(ROOT / "indicators.yaml")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            url = f"sqlite:///{folder}/web-{size}.db"
            started = time.perf_counter()
            fill(url, size)
            print(f"(filled {size:,} entries in {time.perf_counter() - started:.0f} s)")
            engine = open_database(url)
            server = WebServer(create_app(config, engine, lambda: datetime.now(UTC), None), port=0)
            server.start()
            try:
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    for path in PAGES:
                        label = f"GET {path}, {size:,} entries"
                        print(f"{label:<50} {median_ms(client, path, args.runs):8.1f} ms median")
            finally:
                server.stop()
                engine.dispose()


if __name__ == "__main__":
    main()
