"""webhooks and their event outbox; suppressions.removed (issue 6); api_users.networks (issue 5)

A removed block-list entry is kept with its removal time, so that ``blocks/list`` can show
removed addresses and a later hard bounce can put the address back (removed = NULL).
An API user's ``networks`` are the client networks that may submit mail as that user over
SMTP without AUTH (like Postfix's mynetworks), for applications that cannot authenticate.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REF = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_users") as batch:
        batch.add_column(sa.Column("networks", sa.String(length=1000), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("suppressions") as batch:
        batch.add_column(sa.Column("removed", sa.DateTime(), nullable=True))
    op.create_table(
        "webhooks",
        sa.Column("id", _REF, nullable=False),
        sa.Column("organisation_id", _REF, nullable=False),
        sa.Column("server_config_id", _REF, nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("events", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claim_token", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name="fk_webhooks_organisation", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["server_config_id"], ["server_configs.id"],
                                name="fk_webhooks_server_config", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhooks_server_config", "webhooks", ["server_config_id"])
    op.create_table(
        "webhook_events",
        sa.Column("id", _REF, nullable=False),
        sa.Column("webhook_id", _REF, nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"],
                                name="fk_webhook_events_webhook", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_events_batch", "webhook_events", ["webhook_id", "event", "id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_batch", table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index("ix_webhooks_server_config", table_name="webhooks")
    op.drop_table("webhooks")
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_column("removed")
    with op.batch_alter_table("api_users") as batch:
        batch.drop_column("networks")
