"""Commands of analyst review and scoring: resolve, reject, reopen, history, scorecard, backtest."""

from __future__ import annotations
