"""State store: SQLAlchemy models, repositories, Alembic migrations."""
