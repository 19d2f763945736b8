"""Shared fixtures. Each real local server lives in its own plugin module."""

pytest_plugins = [
    "tests.support.feed_server",
    "tests.support.smtp_server",
    "tests.support.slack_receiver",
    "tests.support.database",
]
