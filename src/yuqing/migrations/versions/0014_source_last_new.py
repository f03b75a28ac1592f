"""sources remember when a run last brought a new post, so that a source that goes silent (a
bridge whose account expired) raises an alarm

Revision ID: 0014_source_last_new
Revises: 0013_sightings_per_source
Create Date: 2026-12-04 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0014_source_last_new"
down_revision: str | Sequence[str] | None = "0013_sightings_per_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_new_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("last_new_at")
