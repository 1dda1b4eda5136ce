"""tours and visits

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:32:00.209635
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("stops", sa.JSON(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("current_index", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tours")),
        sa.UniqueConstraint("code", name=op.f("uq_tours_code")),
    )
    op.create_table(
        "tour_members",
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("tour_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tour_id"],
            ["tours.id"],
            name=op.f("fk_tour_members_tour_id_tours"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visitor_id", name=op.f("pk_tour_members")),
    )
    with op.batch_alter_table("tour_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tour_members_tour_id"), ["tour_id"], unique=False)

    op.create_table(
        "visit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("exhibit_id", sa.Integer(), nullable=True),
        sa.Column("tour_id", sa.Integer(), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("dwell_s", sa.Float(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exhibit_id"],
            ["exhibits.id"],
            name=op.f("fk_visit_events_exhibit_id_exhibits"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tour_id"],
            ["tours.id"],
            name=op.f("fk_visit_events_tour_id_tours"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_events")),
    )
    with op.batch_alter_table("visit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_visit_events_exhibit_id"), ["exhibit_id"], unique=False
        )

    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("narration_audio", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("exhibits", schema=None) as batch_op:
        batch_op.drop_column("narration_audio")

    with op.batch_alter_table("visit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_events_exhibit_id"))
        batch_op.drop_index(batch_op.f("ix_visit_events_at"))

    op.drop_table("visit_events")
    with op.batch_alter_table("tour_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tour_members_tour_id"))

    op.drop_table("tour_members")
    op.drop_table("tours")
