"""Checkpoint suites: one folder per suite (naming, architecture arithmetic, catalog builder)."""
