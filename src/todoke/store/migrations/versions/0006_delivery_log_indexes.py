"""delivery log: scoped newest-first indexes, partial-match indexes, purge helpers (issue 6)

mail_messages (organisation_id, server_config_id, created), (organisation_id, api_user_id,
created) and (created): the delivery log's scoped, newest-first pages (the organisation is
always a condition, so it leads and the scope is checked inside the index) and the
housekeeper's purge; deliveries (message_id, status): a status filter is answered from the
index, without reading each delivery (a capped count at 300,000 rows on SQLite: 560 -> 150 ms).
suppressions (source_delivery_id) and
bounce_audit (delivery_id): the purge deletes deliveries, and these foreign keys are set to
NULL then, which must not scan the tables. Partial match as for the error log (0004):
PostgreSQL pg_trgm GIN on deliveries.rcpt and mail_messages.x_api_data (skipped with a
warning when the extension cannot be created); SQLite FTS5 ``trigram`` external-content
tables ``deliveries_fts`` (rcpt) and ``mail_messages_fts`` (x_api_data), kept by triggers
and filled from the rows already there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:00:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (FTS table, content table, column)
_FTS = (("deliveries_fts", "deliveries", "rcpt"),
        ("mail_messages_fts", "mail_messages", "x_api_data"))


def _sqlite_fts(fts: str, table: str, column: str) -> list[str]:
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}', "
        f"content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"END",
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    op.create_index("ix_mail_messages_org_config_created", "mail_messages",
                    ["organisation_id", "server_config_id", "created"])
    op.create_index("ix_mail_messages_org_user_created", "mail_messages",
                    ["organisation_id", "api_user_id", "created"])
    op.create_index("ix_mail_messages_created", "mail_messages", ["created"])
    op.create_index("ix_deliveries_message_status", "deliveries", ["message_id", "status"])
    op.create_index("ix_suppressions_source_delivery", "suppressions", ["source_delivery_id"])
    op.create_index("ix_bounce_audit_delivery", "bounce_audit", ["delivery_id"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except sa.exc.DBAPIError as exc:
            warnings.warn(f"delivery log: pg_trgm unavailable, partial-match search will scan "
                          f"({exc.orig})", stacklevel=1)
            return
        bind.exec_driver_sql("CREATE INDEX ix_deliveries_rcpt_trgm ON deliveries "
                             "USING gin (rcpt gin_trgm_ops)")
        bind.exec_driver_sql("CREATE INDEX ix_mail_messages_api_data_trgm ON mail_messages "
                             "USING gin (x_api_data gin_trgm_ops)")
    elif bind.dialect.name == "sqlite":
        for fts, table, column in _FTS:
            for statement in _sqlite_fts(fts, table, column):
                bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for fts, _table, _column in _FTS:
            for suffix in ("ai", "ad", "au"):
                bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            bind.exec_driver_sql(f"DROP TABLE IF EXISTS {fts}")
    else:
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_deliveries_rcpt_trgm")
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_mail_messages_api_data_trgm")
    op.drop_index("ix_bounce_audit_delivery", table_name="bounce_audit")
    op.drop_index("ix_suppressions_source_delivery", table_name="suppressions")
    op.drop_index("ix_deliveries_message_status", table_name="deliveries")
    op.drop_index("ix_mail_messages_created", table_name="mail_messages")
    op.drop_index("ix_mail_messages_org_user_created", table_name="mail_messages")
    op.drop_index("ix_mail_messages_org_config_created", table_name="mail_messages")
