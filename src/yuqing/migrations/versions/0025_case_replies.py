"""cases: formal replies to posters wait for a leader's settling (经本单位负责人审定后答复)

Revision ID: 0025_case_replies
Revises: 0024_event_alert_held_elsewhere
Create Date: 2026-12-07 03:10:00.000000

A formal reply (答复意见) written by the office was recorded as given at once, and stopped the
5-working-day clock, with no leader having read it. Seeds 000 and 003 have it settled by a leader
of the unit first. A draft now waits in `case_replies` until a leader approves or rejects it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0025_case_replies"
down_revision: str | Sequence[str] | None = "0024_event_alert_held_elsewhere"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("drafted_by", sa.Integer(), nullable=False),
        sa.Column("drafted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_replies_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["drafted_by"], ["people.id"], name=op.f("fk_case_replies_drafted_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["people.id"], name=op.f("fk_case_replies_decided_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_replies")),
    )
    with op.batch_alter_table("case_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_replies_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_replies_case_id"))
    op.drop_table("case_replies")
