"""accounts: browsers that have logged in before (device cookies)

Revision ID: 0028_known_devices
Revises: 0027_alert_acknowledgements
Create Date: 2026-12-07 20:50:00.000000

Five wrong passwords from anywhere locked an account for everyone: a stranger who knew the duty
officer's login name could keep them out of the console, and away from acknowledging alerts,
during an emergency. A browser that has logged in to the account before now carries a token of its
own; its wrong passwords count on it, and the account's lockout does not apply to it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0028_known_devices"
down_revision: str | Sequence[str] | None = "0027_alert_acknowledgements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_known_devices_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_known_devices")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_known_devices_token_sha256")),
    )
    with op.batch_alter_table("known_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_devices_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("known_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_devices_account_id"))
    op.drop_table("known_devices")
