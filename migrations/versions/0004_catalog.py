"""catalog records

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("isbn", sa.String(length=13), nullable=True),
        sa.Column("isbns", sa.JSON(), nullable=False),
        sa.Column("publisher", sa.Text(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("dewey", sa.Text(), nullable=True),
        sa.Column("call_number", sa.Text(), nullable=True),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("marcxml", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("sru_source", sa.String(length=64), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_records")),
        sa.UniqueConstraint("source", "record_id", name=op.f("uq_catalog_records_source")),
    )
    with op.batch_alter_table("catalog_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_records_record_id"), ["record_id"], unique=False
        )
    op.create_table(
        "catalog_search",
        sa.Column("record_pk", sa.Integer(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("author_key", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.Text(), nullable=False),
        sa.Column("search_key", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_pk"],
            ["catalog_records.id"],
            name=op.f("fk_catalog_search_record_pk_catalog_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_pk", name=op.f("pk_catalog_search")),
    )
    # Exhibits are looked up by the record they link to when that record changes.
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exhibits_catalog_record_id"), ["catalog_record_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exhibits_catalog_record_id"))
    op.drop_table("catalog_search")
    with op.batch_alter_table("catalog_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_records_record_id"))
    op.drop_table("catalog_records")
