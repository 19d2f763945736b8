"""Where things are: the repository, the shared material beside it, the test data."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SHIPPED_TRACKER = ROOT / "indicators.yaml"
SMALL_TRACKER = Path(__file__).resolve().parent / "data" / "small-tracker.yaml"
