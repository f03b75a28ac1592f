"""events: the alert held back for an event graded long after its last post; a person's grade

Revision ID: 0020_event_alert_held
Revises: 0019_queue_unannounced_index
Create Date: 2026-12-06 10:00:00.000000

An event graded when its newest post is older than `alert_max_quiet_hours` (old posts collected
now: a backfill, last month's export) raises no alert. `alert_held_at` records that one was held
back, so that new posts making the event active again raise it.

`system_grade_code`: while a person's grade stands in the event's place (a case regraded with a
reason), the grade the pipeline had computed, so that it raises the event again only past it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0020_event_alert_held"
down_revision: str | Sequence[str] | None = "0019_queue_unannounced_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("alert_held_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("system_grade_code", sa.String(length=4), nullable=True))
    op.create_index("ix_events_alert_held_at", "events", ["alert_held_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_alert_held_at", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("system_grade_code")
        batch.drop_column("alert_held_at")
