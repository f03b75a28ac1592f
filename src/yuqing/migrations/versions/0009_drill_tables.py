"""drill tables; drill marks on sources, posts and events

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-22 10:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import yuqing.db

revision: str = "0009"
# Branches from 0007 beside the reports tables (0008); `yuqing.migrate.upgrade` applies all heads.
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "drills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scenario_ref", sa.Text(), nullable=False),
        sa.Column("scenario", _json(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("runner", sa.String(length=20), nullable=False),
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("allow_external", sa.Boolean(), nullable=False),
        sa.Column("participants", _json(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("created_at", yuqing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", yuqing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("segment_started_at", yuqing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scenario_offset", sa.Float(), nullable=False),
        sa.Column("segments", _json(), nullable=False),
        sa.Column("ended_at", yuqing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("posts_fed", sa.Integer(), nullable=False),
        sa.Column("injects_fed", sa.Integer(), nullable=False),
        sa.Column("warnings", _json(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_drills_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drills")),
    )
    op.create_table(
        "drill_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("at", yuqing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("scenario_seconds", sa.Float(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("detail", _json(), nullable=False),
        sa.ForeignKeyConstraint(["drill_id"], ["drills.id"], name=op.f("fk_drill_log_drill_id_drills")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill_log")),
    )
    with op.batch_alter_table("drill_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drill_log_drill_id"), ["drill_id"], unique=False)

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drill_id", sa.Integer(), nullable=True))

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_drill", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_drill", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("drill_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_events_drill_id",
            ["drill_id"],
            unique=False,
            sqlite_where=sa.text("drill_id IS NOT NULL"),
            postgresql_where=sa.text("drill_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_events_drill_id",
            sqlite_where=sa.text("drill_id IS NOT NULL"),
            postgresql_where=sa.text("drill_id IS NOT NULL"),
        )
        batch_op.drop_column("drill_id")
        batch_op.drop_column("is_drill")

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("is_drill")

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("drill_id")

    with op.batch_alter_table("drill_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drill_log_drill_id"))

    op.drop_table("drill_log")
    op.drop_table("drills")
