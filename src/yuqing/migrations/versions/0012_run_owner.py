"""fetch runs record the process that owns them, so a run left unfinished by a killed process can be
told from one still under way and closed as interrupted

Revision ID: 0012_run_owner
Revises: 0011
Create Date: 2026-12-04 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# A name rather than the next number: migrations written at the same time by other domains cannot
# take the same id (`yuqing.migrate.upgrade` applies every head).
revision: str = "0012_run_owner"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fetch_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fetch_runs", schema=None) as batch_op:
        batch_op.drop_column("owner")
