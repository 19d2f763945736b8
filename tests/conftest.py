"""Shared fixtures. Each real local server lives in its own plugin module."""

pytest_plugins = [
    "tests.feed_server",
    "tests.smtp_server",
    "tests.slack_receiver",
    "tests.database",
]
