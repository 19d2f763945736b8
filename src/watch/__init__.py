"""watch: track competing forecasts against the news.

The library API (what the CLI calls, and what tests and scripts may call) is re-exported here;
importing this package stays cheap, heavy modules load when first used.
"""

__version__ = "0.1.0"
