"""lists, list sends, credit hold, smime certs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:30:54.571989
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fax_lists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organisation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fax_lists", schema=None) as batch_op:
        batch_op.create_index("ux_fax_lists_name", ["organisation_id", "name"], unique=True)

    op.create_table(
        "fax_list_numbers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("e164", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["fax_lists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fax_list_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fax_list_numbers_list_id"), ["list_id"], unique=False)

    op.create_table(
        "list_sends",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organisation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "inbound_mail_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("list_name", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_mail_id"],
            ["inbound_mails.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("list_sends", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_list_sends_organisation_id"), ["organisation_id"], unique=False
        )

    with op.batch_alter_table("fax_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "list_send_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("held_since", sa.DateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_fax_jobs_list_send_id"), ["list_send_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_fax_jobs_list_send_id", "list_sends", ["list_send_id"], ["id"]
        )

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fax_smime_certs", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "page_price",
                sa.Numeric(precision=10, scale=2),
                nullable=False,
                server_default="10",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("page_price")
        batch_op.drop_column("fax_smime_certs")

    with op.batch_alter_table("fax_jobs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_fax_jobs_list_send_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_fax_jobs_list_send_id"))
        batch_op.drop_column("held_since")
        batch_op.drop_column("list_send_id")

    with op.batch_alter_table("list_sends", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_list_sends_organisation_id"))

    op.drop_table("list_sends")
    with op.batch_alter_table("fax_list_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fax_list_numbers_list_id"))

    op.drop_table("fax_list_numbers")
    with op.batch_alter_table("fax_lists", schema=None) as batch_op:
        batch_op.drop_index("ux_fax_lists_name")

    op.drop_table("fax_lists")
