"""analysis queue: index the posts not yet announced, in post id order

Revision ID: 0019_queue_unannounced_index
Revises: 0018_queue_announced
Create Date: 2026-12-05 14:00:00.000000

The announcer asks for the oldest queued posts not yet announced (`announced_at IS NULL ORDER BY
post_id LIMIT n`). With an index on `announced_at`, PostgreSQL walked the primary key past every
announced post still waiting for a worker: 200 ms a call with 400,000 of them (a backlog after a
bulk import or a slow worker), on every tick. A partial index on `post_id` holding only the
unannounced posts answers in under a millisecond and stays as small as what is left to announce.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_queue_unannounced_index"
down_revision: str | Sequence[str] | None = "0018_queue_announced"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNANNOUNCED = sa.text("announced_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_analysis_queue_announced", table_name="analysis_queue")
    op.create_index(
        "ix_analysis_queue_unannounced",
        "analysis_queue",
        ["post_id"],
        unique=False,
        postgresql_where=_UNANNOUNCED,
        sqlite_where=_UNANNOUNCED,
    )


def downgrade() -> None:
    op.drop_index("ix_analysis_queue_unannounced", table_name="analysis_queue")
    op.create_index("ix_analysis_queue_announced", "analysis_queue", ["announced_at"], unique=False)
