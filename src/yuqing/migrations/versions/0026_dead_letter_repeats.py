"""dead letters: a repeated input is counted on its first dead letter, not listed again

Revision ID: 0026_dead_letter_repeats
Revises: 0025_case_replies
Create Date: 2026-12-07 03:20:00.000000

A sender retrying a webhook delivery, or a feed served cut the same way at every fetch, added the
same dead letters again each time: the list and the source's health grew with every retry. The
same input refused for the same reason at the same stage of the same source is now one dead
letter with `repeats` and `last_seen_at`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0026_dead_letter_repeats"
down_revision: str | Sequence[str] | None = "0025_case_replies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("last_seen_at")
        batch.drop_column("repeats")
