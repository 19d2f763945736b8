"""Fixture module: database (filled in by its owner)."""
