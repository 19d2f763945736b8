"""State changes → alerts → channels."""
