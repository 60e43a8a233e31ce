"""error log: error_log table, scoped indexes, partial-match index (issue 6)

PostgreSQL: pg_trgm GIN indexes on to_addr and api_data (ILIKE '%…%' uses them); when the
extension cannot be created the migration warns and goes on without them (searches still
work, by scanning). SQLite: an FTS5 ``trigram`` external-content table ``error_log_fts`` over
(to_addr, api_data), kept in sync by triggers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:40:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE error_log_fts USING fts5(to_addr, api_data, content='error_log', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER error_log_fts_ai AFTER INSERT ON error_log BEGIN "
    "INSERT INTO error_log_fts(rowid, to_addr, api_data) "
    "VALUES (new.id, new.to_addr, new.api_data); END",
    "CREATE TRIGGER error_log_fts_ad AFTER DELETE ON error_log BEGIN "
    "INSERT INTO error_log_fts(error_log_fts, rowid, to_addr, api_data) "
    "VALUES ('delete', old.id, old.to_addr, old.api_data); END",
    "CREATE TRIGGER error_log_fts_au AFTER UPDATE OF to_addr, api_data ON error_log BEGIN "
    "INSERT INTO error_log_fts(error_log_fts, rowid, to_addr, api_data) "
    "VALUES ('delete', old.id, old.to_addr, old.api_data); "
    "INSERT INTO error_log_fts(rowid, to_addr, api_data) "
    "VALUES (new.id, new.to_addr, new.api_data); END",
]


def upgrade() -> None:
    op.create_table(
        "error_log",
        sa.Column("id", _REF, nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("organisation_id", _REF, nullable=False),
        sa.Column("server_config_id", _REF, nullable=True),
        sa.Column("api_user_id", _REF, nullable=True),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("from_addr", sa.String(length=320), nullable=False),
        sa.Column("return_path", sa.String(length=320), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("api_data", sa.String(length=998), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("delivery_id", _REF, nullable=True),
        sa.Column("fax_job_id", _REF, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_error_log_server_config_created", "error_log",
                    ["server_config_id", "created"])
    op.create_index("ix_error_log_organisation_created", "error_log",
                    ["organisation_id", "created"])
    op.create_index("ix_error_log_api_user_created", "error_log", ["api_user_id", "created"])
    op.create_index("ix_error_log_created", "error_log", ["created"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except sa.exc.DBAPIError as exc:
            warnings.warn(f"error_log: pg_trgm unavailable, partial-match search will scan "
                          f"({exc.orig})", stacklevel=1)
            return
        bind.exec_driver_sql("CREATE INDEX ix_error_log_to_trgm ON error_log "
                             "USING gin (to_addr gin_trgm_ops)")
        bind.exec_driver_sql("CREATE INDEX ix_error_log_api_data_trgm ON error_log "
                             "USING gin (api_data gin_trgm_ops)")
    elif bind.dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("error_log_fts_ai", "error_log_fts_ad", "error_log_fts_au"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS error_log_fts")
    else:
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_error_log_to_trgm")
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_error_log_api_data_trgm")
    op.drop_table("error_log")
