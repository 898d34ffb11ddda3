"""lab: reportable results (a value computed from replicates under a method version's rules, entered as a
lot's result, with the replicates used and excluded)

On the ``lab`` branch after ``0003_lab``.

Revision ID: 0004_lab
Revises: 0003_lab
Create Date: 2026-12-04 19:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_lab"
down_revision = "0003_lab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lab_reportable_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("cqa", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("method_version_id", sa.Integer(), nullable=False),
        sa.Column("values_json", sa.Text(), nullable=False),
        sa.Column("used_json", sa.Text(), nullable=False),
        sa.Column("excluded_json", sa.Text(), nullable=False),
        sa.Column("averaged", sa.Boolean(), nullable=False),
        sa.Column("outlier_test", sa.Boolean(), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"]),
        sa.ForeignKeyConstraint(["method_version_id"], ["lab_method_versions.id"]),
        sa.ForeignKeyConstraint(["result_id"], ["results.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("lab_reportable_results")
