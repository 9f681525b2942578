"""Mapping engine: pure functions from Datasphere assets to Glue specs (no I/O)."""
