"""Feeds → entries → evidence → states."""
