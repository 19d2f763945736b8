"""Outcomes → scores → scorecards; backtests."""
