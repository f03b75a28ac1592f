"""incident recognition per post, entities per event, per-event metric accumulators

Revision ID: 0010
Revises: 0008, 0009
Create Date: 2026-12-04 13:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import yuqing.db

revision: str = "0010"
# Joins the reports (0008) and drills (0009) branches.
down_revision: str | Sequence[str] | None = ("0008", "0009")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("post_analysis") as batch:
        batch.add_column(sa.Column("incident", _json(), nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("entities", _json(), nullable=True))
    op.create_table(
        "event_accumulators",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("updated_at", yuqing.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("event_accumulators")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("entities")
    with op.batch_alter_table("post_analysis") as batch:
        batch.drop_column("incident")
