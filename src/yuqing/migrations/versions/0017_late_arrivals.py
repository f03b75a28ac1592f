"""late arrivals and claimed grade signals: no hand-off between stages depends on id order

Revision ID: 0017_late_arrivals
Revises: 0016_hot_list_ranks
Create Date: 2026-12-05 01:30:00.000000

The pipeline read new sightings and hot-list ranks after an id cursor, and alerting read grade
signals after one. On PostgreSQL an id is taken when a transaction writes and becomes visible when
it commits, so with two writers (webhook and scheduler, two workers) a row committed after a higher
id was skipped for ever. Now:

* triggers on `post_sightings` and `hot_list_ranks` put each inserted row in `late_arrivals` in the
  inserting transaction; the pipeline removes it in the transaction that counts it;
* a grade signal carries `handled_at`, set by the alerting transaction that handles it (claimed
  with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two alerting loops never handle one twice).

Rows beyond the old cursors are carried over, so nothing waiting is lost by the upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0017_late_arrivals"
down_revision: str | Sequence[str] | None = "0016_hot_list_ranks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (trigger name, table, kind)
_SOURCES = (("sightings_arrive", "post_sightings", "sighting"), ("hot_ranks_arrive", "hot_list_ranks", "rank"))


def _pg_function(kind: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION yuqing_arrive_{kind}() RETURNS trigger AS $$
BEGIN
    INSERT INTO late_arrivals (kind, row_id, post_id, queued_at) VALUES ('{kind}', NEW.id, NEW.post_id, now())
    ON CONFLICT (kind, row_id) DO NOTHING;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "late_arrivals",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("row_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "row_id"),
    )
    op.create_index("ix_late_arrivals_post", "late_arrivals", ["post_id"], unique=False)
    pg = op.get_bind().dialect.name == "postgresql"
    for trigger, table, kind in _SOURCES:
        if pg:
            op.execute(_pg_function(kind))
            op.execute(
                f"CREATE TRIGGER {trigger} AFTER INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION yuqing_arrive_{kind}()"
            )
        else:
            op.execute(
                f"""
                CREATE TRIGGER {trigger} AFTER INSERT ON {table}
                BEGIN
                    INSERT OR IGNORE INTO late_arrivals (kind, row_id, post_id, queued_at)
                    VALUES ('{kind}', NEW.id, NEW.post_id, strftime('%Y-%m-%d %H:%M:%S', 'now'));
                END
                """
            )
        cursor = "analysis.sightings" if kind == "sighting" else "analysis.hot_ranks"
        # Rows the old cursor had not reached yet wait for the pipeline.
        op.execute(
            f"""
            INSERT INTO late_arrivals (kind, row_id, post_id, queued_at)
            SELECT '{kind}', t.id, t.post_id, t.seen_at FROM {table} t
            WHERE t.id > COALESCE((SELECT cursor FROM pipeline_state WHERE name = '{cursor}'), 0)
            """
        )
    op.execute("DELETE FROM pipeline_state WHERE name IN ('analysis.sightings', 'analysis.hot_ranks')")

    with op.batch_alter_table("grade_signals") as batch:
        batch.add_column(sa.Column("handled_at", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_grade_signals_handled", "grade_signals", ["handled_at"], unique=False)
    # Signals alerting has read (up to its old cursor) are handled; the rest wait for it.
    op.execute(
        """
        UPDATE grade_signals SET handled_at = created_at
        WHERE id <= COALESCE((SELECT cursor FROM pipeline_state WHERE name = 'alerts'), 0)
        """
    )
    op.execute("DELETE FROM pipeline_state WHERE name = 'alerts'")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for trigger, table, kind in _SOURCES:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if pg else ""))
        if pg:
            op.execute(f"DROP FUNCTION IF EXISTS yuqing_arrive_{kind}()")
    op.drop_index("ix_late_arrivals_post", table_name="late_arrivals")
    op.drop_table("late_arrivals")
    op.drop_index("ix_grade_signals_handled", table_name="grade_signals")
    with op.batch_alter_table("grade_signals") as batch:
        batch.drop_column("handled_at")
