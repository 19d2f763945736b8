"""Fixture module: smtp_server (filled in by its owner)."""
