"""lab: OOS resamples (a new sample of the same lot, authorised apart from retests, with the reason the
original sample is not representative)

On the ``lab`` branch after ``0004_lab``.

Revision ID: 0005_lab
Revises: 0004_lab
Create Date: 2026-12-04 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_lab"
down_revision = "0004_lab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lab_oos_investigations") as batch:
        batch.add_column(sa.Column("resamples_authorised", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("resample_reason", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("lab_oos_investigations") as batch:
        batch.drop_column("resample_reason")
        batch.drop_column("resamples_authorised")
