"""Fixture module: feed_server (filled in by its owner)."""
