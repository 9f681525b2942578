"""Validation reports in the state store: save, read by id, by run, newest of a scope."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from core.store import validations as repo

from .export import from_json, to_json
from .models import ValidationReport, ValidationScope

if TYPE_CHECKING:
    from core.store.db import Store

__all__ = [
    "get_validation",
    "latest_validation",
    "list_validations",
    "load_validation",
    "save_validation",
]


def save_validation(store: Store, report: ValidationReport) -> str:
    """Store ``report`` (its id is the key); return the id."""
    with store.session() as session:
        repo.add_validation(session=session, validation=repo.ValidationIn(
            id=report.id, env=report.scope.env, scope_key=report.scope.key, run_id=report.run_id,
            generated_at=report.generated_at, in_sync=report.in_sync,
            summary=report.summary.model_dump(mode="json"), config_version=report.config_version,
            report=zlib.compress(to_json(report).encode(), 6),
        ))
    return report.id


def load_validation(store: Store, validation_id: str) -> ValidationReport | None:
    """One stored report by its id."""
    with store.session(readonly=True) as session:
        blob = repo.validation_report(session=session, validation_id=validation_id)
    return from_json(zlib.decompress(blob)) if blob is not None else None


def get_validation(store: Store, run_id: str) -> ValidationReport | None:
    """The (newest) validation of the sync run ``run_id``."""
    with store.session(readonly=True) as session:
        row = repo.find_validation(session=session, run_id=run_id)
    return load_validation(store, row.id) if row is not None else None


def latest_validation(store: Store, scope: ValidationScope | None = None, *, env: str | None = None) -> ValidationReport | None:
    """The newest validation of exactly ``scope`` (any scope of ``env`` when ``scope`` is None)."""
    with store.session(readonly=True) as session:
        row = repo.find_validation(session=session, scope_key=scope.key if scope else None,
                                   env=env if scope is None else None)
    return load_validation(store, row.id) if row is not None else None


def list_validations(store: Store, *, env: str | None = None, run_id: str | None = None,
                     limit: int = 20) -> list[repo.ValidationOut]:
    """Stored validations, newest first, without their reports."""
    with store.session(readonly=True) as session:
        return repo.list_validations(session=session, env=env, run_id=run_id, limit=limit)
