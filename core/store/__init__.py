"""State store: SQLAlchemy models, repository functions, leases and Alembic migrations.

Typical use::

    from core.store import repo
    from core.store.db import Store
    from core.store.schemas import RunIn

    store = Store.from_url(settings.database_url, auto_upgrade=settings.env == "dog")
    with store.session() as s:
        run = repo.start_run(session=s, run=RunIn(env=settings.env))

See ``docs/store.md`` for the schema and the API.
"""

# Submodules are imported where used (``from core.store import repo``): importing the package
# stays cheap, so `dgsync --help` and Lambda cold starts do not pay for SQLAlchemy.
