"""Organisations (care agencies, municipal care centres) with their regions, staff and seniors
(issue 15): staff see their organisation's seniors.

Revision ID: 0010_organisations
Revises: 0009_events_partitions
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_organisations"
down_revision = "0009_events_partitions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create organisations, organisation_regions, organisation_staff, organisation_seniors."""
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "organisation_regions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.UniqueConstraint("organisation_id", "name", name="uq_organisation_regions_name"),
    )
    op.create_index(
        "ix_organisation_regions_organisation_id", "organisation_regions", ["organisation_id"]
    )
    op.create_table(
        "organisation_staff",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column(
            "organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_organisation_staff_organisation_id", "organisation_staff", ["organisation_id"]
    )
    op.create_table(
        "organisation_seniors",
        sa.Column("senior_id", sa.String(64), sa.ForeignKey("seniors.id"), primary_key=True),
        sa.Column(
            "organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False
        ),
        sa.Column(
            "region_id", sa.Integer(), sa.ForeignKey("organisation_regions.id"), nullable=True
        ),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_organisation_seniors_organisation_id", "organisation_seniors", ["organisation_id"]
    )
    op.create_index("ix_organisation_seniors_region_id", "organisation_seniors", ["region_id"])


def downgrade() -> None:
    """Drop the organisation tables."""
    op.drop_index("ix_organisation_seniors_region_id", table_name="organisation_seniors")
    op.drop_index("ix_organisation_seniors_organisation_id", table_name="organisation_seniors")
    op.drop_table("organisation_seniors")
    op.drop_index("ix_organisation_staff_organisation_id", table_name="organisation_staff")
    op.drop_table("organisation_staff")
    op.drop_index("ix_organisation_regions_organisation_id", table_name="organisation_regions")
    op.drop_table("organisation_regions")
    op.drop_table("organisations")
