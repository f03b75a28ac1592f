"""notifications record the process that claimed them, so a restart can take over at once what a
dead process left `sending` instead of waiting for its lease to run out

Revision ID: 0012_notify_claimant
Revises: 0012_unit_ownership
Create Date: 2026-12-04 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# A name rather than the next number: migrations written at the same time by other domains cannot
# take the same id (`yuqing.migrate.upgrade` applies every head).
revision: str = "0012_notify_claimant"
down_revision: str | Sequence[str] | None = "0012_unit_ownership"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
