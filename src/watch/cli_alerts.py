"""Commands of the daemon and its alerts: `watch run`, `watch alerts ...`."""

from __future__ import annotations
