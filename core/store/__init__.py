"""State store: SQLAlchemy models, repository functions, leases and Alembic migrations.

Typical use::

    from core.store import Store, repo
    from core.store.schemas import RunIn

    store = Store.from_url(settings.database_url, auto_upgrade=settings.env == "dog")
    with store.session() as s:
        run = repo.start_run(session=s, run=RunIn(env=settings.env))

See ``docs/store.md`` for the schema and the API.
"""

from core.store import repo
from core.store.db import Store, make_engine, normalise_url, store_from_settings
from core.store.leases import acquire_lease, held_lease, release_lease, renew_lease

__all__ = [
    "Store",
    "acquire_lease",
    "held_lease",
    "make_engine",
    "normalise_url",
    "release_lease",
    "renew_lease",
    "repo",
    "store_from_settings",
]
