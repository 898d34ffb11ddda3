"""server authentication: sessions and bearer tokens, security events (logins, lockouts); indexes for the
lot page; on PostgreSQL the audit trail refuses UPDATE, DELETE and TRUNCATE

Revision ID: 0003_server
Revises: 0002
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_server"
down_revision = "0002"
branch_labels = ("server",)
depends_on = None

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION cgtqc_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_trail is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_security_events_username", "security_events", ["username"])
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_auth_sessions_username", "auth_sessions", ["username"])
    # the lot page and list look up a lot's results, notifications and signatures: index them
    op.create_index("ix_results_lot_id", "results", ["lot_id"])
    op.create_index("ix_notifications_lot_id", "notifications", ["lot_id"])
    op.create_index("ix_signatures_record", "signatures", ["record_type", "record_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY)
        op.execute(
            "CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail "
            "FOR EACH ROW EXECUTE FUNCTION cgtqc_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_trail_no_truncate BEFORE TRUNCATE ON audit_trail "
            "FOR EACH STATEMENT EXECUTE FUNCTION cgtqc_audit_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_trail_no_truncate ON audit_trail")
        op.execute("DROP TRIGGER IF EXISTS audit_trail_append_only ON audit_trail")
        op.execute("DROP FUNCTION IF EXISTS cgtqc_audit_append_only()")
    op.drop_index("ix_signatures_record", table_name="signatures")
    op.drop_index("ix_notifications_lot_id", table_name="notifications")
    op.drop_index("ix_results_lot_id", table_name="results")
    op.drop_index("ix_auth_sessions_username", table_name="auth_sessions")
    op.drop_table("auth_sessions")
    op.drop_index("ix_security_events_username", table_name="security_events")
    op.drop_table("security_events")
