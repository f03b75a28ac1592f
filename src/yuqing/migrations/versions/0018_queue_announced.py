"""analysis queue: when a waiting post was announced on the NATS JetStream stream

Revision ID: 0018_queue_announced
Revises: 0017_late_arrivals
Create Date: 2026-12-05 02:00:00.000000

With `YUQING_NATS_URL` set, `yuqing serve` announces each queued post on JetStream (the queue is
the outbox: a post is announced after it is committed, and again after a NATS outage, never lost);
`announced_at` records that the stream took it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0018_queue_announced"
down_revision: str | Sequence[str] | None = "0017_late_arrivals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analysis_queue") as batch:
        batch.add_column(sa.Column("announced_at", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_analysis_queue_announced", "analysis_queue", ["announced_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_analysis_queue_announced", table_name="analysis_queue")
    with op.batch_alter_table("analysis_queue") as batch:
        batch.drop_column("announced_at")
