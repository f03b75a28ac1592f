"""analysis queue: every stored post waits in a work table until the pipeline has analysed it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 16:00:00.000000

A trigger on `posts` enqueues each inserted post in the inserting transaction, so a post becomes
visible to the pipeline exactly when it is committed, whatever its id: on PostgreSQL ids are taken
when a transaction writes and become visible when it commits, and an id cursor skipped a post
committed after a higher id for ever.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yuqing.db

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION yuqing_enqueue_post() RETURNS trigger AS $$
BEGIN
    INSERT INTO analysis_queue (post_id, queued_at) VALUES (NEW.id, now())
    ON CONFLICT (post_id) DO NOTHING;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER posts_enqueue AFTER INSERT ON posts
FOR EACH ROW EXECUTE FUNCTION yuqing_enqueue_post()
"""
# SQLite stores UTCDateTime as naive ISO text in UTC; strftime gives the same shape.
_SQLITE_TRIGGER = """
CREATE TRIGGER posts_enqueue AFTER INSERT ON posts
BEGIN
    INSERT OR IGNORE INTO analysis_queue (post_id, queued_at)
    VALUES (NEW.id, strftime('%Y-%m-%d %H:%M:%S', 'now'));
END
"""


def upgrade() -> None:
    op.create_table(
        "analysis_queue",
        sa.Column("post_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("queued_at", yuqing.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("post_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)
    # Posts stored but not analysed yet (beyond the old cursor, without an analysis) wait in the queue.
    op.execute(
        """
        INSERT INTO analysis_queue (post_id, queued_at)
        SELECT p.id, p.fetched_at FROM posts p
        WHERE p.id > COALESCE((SELECT cursor FROM pipeline_state WHERE name = 'analysis'), 0)
          AND NOT EXISTS (SELECT 1 FROM post_analysis a WHERE a.post_id = p.id)
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS posts_enqueue" + (" ON posts" if _pg() else ""))
    if _pg():
        op.execute("DROP FUNCTION IF EXISTS yuqing_enqueue_post()")
    op.drop_table("analysis_queue")


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"
