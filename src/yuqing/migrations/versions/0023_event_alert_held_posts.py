"""events: how many posts an event had when its alert was held back

Revision ID: 0023_event_alert_held_posts
Revises: 0022_case_withdrawn
Create Date: 2026-12-06 20:40:00.000000

An alert is held back for an event graded long after its last post, and now also for one located
plainly elsewhere (属地管理). Where an event is can change as posts come in: judged at three
posts (two comments naming 上海), a story may turn out unclear at thirty. `alert_held_posts`
records the post count at the judgement, so that the event is judged again when it grows, and
not on every round while nothing changed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_event_alert_held_posts"
down_revision: str | Sequence[str] | None = "0022_case_withdrawn"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("alert_held_posts", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("alert_held_posts")
