"""Fixture module: slack_receiver (filled in by its owner)."""
