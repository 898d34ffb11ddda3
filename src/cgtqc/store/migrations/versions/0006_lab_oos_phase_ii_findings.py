"""lab: the phase II investigation's scope and findings on an OOS investigation

On the ``lab`` branch after ``0005_lab``.

Revision ID: 0006_lab
Revises: 0005_lab
Create Date: 2026-12-04 19:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_lab"
down_revision = "0005_lab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lab_oos_investigations") as batch:
        batch.add_column(sa.Column("phase_ii_scope", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("phase_ii_findings", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("lab_oos_investigations") as batch:
        batch.drop_column("phase_ii_findings")
        batch.drop_column("phase_ii_scope")
