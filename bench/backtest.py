"""Backtest replay speed: `watch backtest` on a generated JSON-lines archive.

Writes an archive of N entries over two years from 20 sources, about 5% of them on the
tracker's subject (so some match and move states), then times the real command (a new process,
as a user runs it) and prints entries/s with a digest of what it found: the evidence count,
the state changes and the scorecard. Two builds that print the same digest replayed alike.

    .venv/bin/python bench/backtest.py [--entries 20000] [--watch PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ingest import OBJECTS, OFF_TOPIC, SUBJECTS, VERBS  # noqa: E402

ON_TOPIC_SHARE = 0.45  # about 5% of all entries then match a rule


def write_archive(folder: Path, entries: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    start = datetime(2018, 6, 1, tzinfo=UTC)
    span = 2 * 365 * 24 * 60
    files = [(folder / f"wire-{n}.jsonl").open("w", encoding="utf-8") for n in range(4)]
    for i in range(entries):
        if rng.random() < ON_TOPIC_SHARE:
            title = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        else:
            title = f"{rng.choice(OFF_TOPIC)} ({i})"
        row = {
            "published": (start + timedelta(minutes=rng.randrange(span))).isoformat(),
            "title": title,
            "summary": rng.choice(OFF_TOPIC),
            "link": f"https://news{i % 20}.example/{i}",
            "source": f"Outlet {i % 20}",
        }
        files[i % 4].write(json.dumps(row) + "\n")
    for handle in files:
        handle.close()


def digest(report: dict) -> str:
    """What the replay found, without paths: evidence, changes, the scorecard."""
    kept = {k: report[k] for k in ("entries", "evidence", "changes", "scorecard")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--watch", default=str(Path(sys.executable).parent / "watch"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "archive"
        archive.mkdir()
        write_archive(archive, args.entries)
        command = [args.watch, "backtest", str(archive), "--out", f"{folder}/out", "--json"]
        command += ["--config", str(ROOT / "indicators.yaml")]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - started
    report = json.loads(done.stdout)
    print(
        f"watch backtest, {args.entries:,} entries: {elapsed:.2f} s = "
        f"{args.entries / elapsed:,.0f} entries/s ({report['evidence']} evidence, "
        f"{len(report['changes'])} state changes, digest {digest(report)})"
    )


if __name__ == "__main__":
    main()
