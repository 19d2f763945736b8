"""watch: track competing forecasts against the news.

The library API, what the CLI calls and what scripts and tests may call, is re-exported
here. Importing `watch` stays cheap: each name loads its module when first used.

    feeds     fetch → parse → dedupe → match → record, joined by `poll`; `ingest`; `rematch`;
              `evaluate` (rules vs labelled news), `failing_examples` (the tracker's examples)
    alerts    state changes → `decide` → `deliver` through stages → channels
    scoring   `build_scorecard`, `render_scorecard`, `run_backtest`
    review    `resolve`, `reopen`, `reject`, `close_windows`
    read      `indicator_status`, `list_evidence`, `feed_health`, `list_deliveries`, `history`
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute in it)
_EXPORTS: dict[str, tuple[str, str]] = {
    # the tracker file and the database
    "Config": ("watch.config", "Config"),
    "load_config": ("watch.config", "load_config"),
    "open_database": ("watch.db", "open_database"),
    "session_scope": ("watch.db", "session_scope"),
    # feeds
    "make_client": ("watch.feeds.fetch", "make_client"),
    "fetch_feed": ("watch.feeds.fetch", "fetch_feed"),
    "parse_feed": ("watch.feeds.parse", "parse_feed"),
    "Matcher": ("watch.feeds.match", "Matcher"),
    "ingest": ("watch.feeds.ingest", "ingest"),
    "poll": ("watch.feeds.refresh", "poll"),
    "rematch": ("watch.feeds.rematch", "rematch"),
    "evaluate": ("watch.feeds.evaluate", "evaluate"),
    "read_labelled": ("watch.feeds.evaluate", "read_labelled"),
    "failing_examples": ("watch.feeds.examples", "failing_examples"),
    # states, review and the read side
    "update_states": ("watch.states", "update_states"),
    "resolve_reading": ("watch.states", "resolve_reading"),
    "resolve": ("watch.review", "resolve"),
    "reopen": ("watch.review", "reopen"),
    "reject": ("watch.review", "reject"),
    "history": ("watch.queries", "history"),
    "close_windows": ("watch.review", "close_windows"),
    "indicator_status": ("watch.queries", "indicator_status"),
    "list_evidence": ("watch.queries", "list_evidence"),
    "feed_health": ("watch.queries", "feed_health"),
    # alerts
    "Message": ("watch.alerts.channels", "Message"),
    "configured_channels": ("watch.alerts.channels", "configured_channels"),
    "decide": ("watch.alerts.outbox", "decide"),
    "list_deliveries": ("watch.queries", "list_deliveries"),
    "retry_delivery": ("watch.alerts.outbox", "retry"),
    "deliver": ("watch.alerts.delivery", "deliver"),
    # scoring
    "build_scorecard": ("watch.scoring.scorecard", "build_scorecard"),
    "render_scorecard": ("watch.scoring.render", "render"),
    "save_report": ("watch.scoring.render", "save_report"),
    "run_backtest": ("watch.scoring.backtest", "run_backtest"),
    # the daemon
    "Daemon": ("watch.daemon", "Daemon"),
    # the error tree (watch.errors)
    "WatchError": ("watch.errors", "WatchError"),
    "InvalidConfigFile": ("watch.errors", "InvalidConfigFile"),
    "FeedError": ("watch.errors", "FeedError"),
    "DeliveryError": ("watch.errors", "DeliveryError"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'watch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
