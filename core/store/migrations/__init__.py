"""Alembic migrations of the state store (run through ``core.store.db.Store.upgrade``)."""
