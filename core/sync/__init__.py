"""Sync: plan, apply, orchestrate."""
