"""events: whether an event's alert is held back because it is located plainly elsewhere

Revision ID: 0024_event_alert_held_elsewhere
Revises: 0023_event_alert_held_posts
Create Date: 2026-12-07 00:30:00.000000

An alert is held back for an event graded long after its last post, or located plainly elsewhere
(属地管理). Only the second keeps its place as it grows: a story placed in 深圳 stays there while
comments that name no place dilute its places, until a post places it here. Held as old, an event
active again is located afresh. `alert_held_elsewhere` tells the two apart.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_event_alert_held_elsewhere"
down_revision: str | Sequence[str] | None = "0023_event_alert_held_posts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(
            sa.Column("alert_held_elsewhere", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("alert_held_elsewhere")
