"""Store: SQLAlchemy models, Alembic migrations and the two engines (SQLite WAL, PostgreSQL).

Every other stage reads and writes through here; schema changes only through migrations."""
