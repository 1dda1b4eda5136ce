"""print farm: printers and print jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
# Printers are booking resources and jobs may be bound to reservations (the booking branch).
depends_on: str | Sequence[str] | None = ("0002",)


def upgrade() -> None:
    op.create_table(
        "printers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("driver", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=False),
        sa.Column("port", sa.String(length=80), nullable=True),
        sa.Column("printer_type", sa.String(length=40), nullable=False),
        sa.Column("build_volume_mm", sa.JSON(), nullable=False),
        sa.Column("nozzle_mm", sa.Float(), nullable=False),
        sa.Column("material", sa.String(length=40), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("bed_clear", sa.Boolean(), nullable=False),
        sa.Column("needs_bed_clear", sa.Boolean(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("health", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("temps", sa.JSON(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_printers_resource_id_resources"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printers")),
        sa.UniqueConstraint("name", name=op.f("uq_printers_name")),
    )
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("requested_printer_id", sa.Integer(), nullable=True),
        sa.Column("printer_id", sa.Integer(), nullable=True),
        sa.Column("printer_type", sa.String(length=40), nullable=True),
        sa.Column("material", sa.String(length=40), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.Column("model_ext", sa.String(length=8), nullable=True),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("height_mm", sa.Float(), nullable=True),
        sa.Column("gcode_sha256", sa.String(length=64), nullable=True),
        sa.Column("extent_mm", sa.JSON(), nullable=True),
        sa.Column("estimate_s", sa.Integer(), nullable=True),
        sa.Column("filament_mm", sa.Float(), nullable=True),
        sa.Column("filament_g", sa.Float(), nullable=True),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("eta_s", sa.Integer(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("command", sa.String(length=12), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("file_tag", sa.String(length=16), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_print_jobs_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_printer_id"],
            ["printers.id"],
            name=op.f("fk_print_jobs_requested_printer_id_printers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["printer_id"],
            ["printers.id"],
            name=op.f("fk_print_jobs_printer_id_printers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_print_jobs_reservation_id_reservations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs")),
    )
    op.create_index("ix_print_jobs_state_priority", "print_jobs", ["state", "priority"])
    op.create_index("ix_print_jobs_user_id_created_at", "print_jobs", ["user_id", "created_at"])
    op.create_index(op.f("ix_print_jobs_printer_id"), "print_jobs", ["printer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_print_jobs_printer_id"), table_name="print_jobs")
    op.drop_index("ix_print_jobs_user_id_created_at", table_name="print_jobs")
    op.drop_index("ix_print_jobs_state_priority", table_name="print_jobs")
    op.drop_table("print_jobs")
    op.drop_table("printers")
