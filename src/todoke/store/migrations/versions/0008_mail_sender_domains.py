"""organisations: the domains an account may send transactional mail from (issue 5)

``mail_sender_domains``: a comma-separated list; empty (the default) lets any sender through,
as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("mail_sender_domains", sa.String(length=2000),
                                   nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("mail_sender_domains")
