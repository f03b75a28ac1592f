"""hot-list ranks: a post's place on a hot list each time the list was read

Revision ID: 0016_hot_list_ranks
Revises: 0015_linked_external_id
Create Date: 2026-12-04 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0016_hot_list_ranks"
down_revision: str | Sequence[str] | None = "0015_linked_external_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hot_list_ranks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=100), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("heat", sa.Float(), nullable=True),
        sa.Column("seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_hot_list_ranks_post_id_posts")),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_hot_list_ranks_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hot_list_ranks")),
    )
    op.create_index("ix_hot_list_ranks_post_seen", "hot_list_ranks", ["post_id", "seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_hot_list_ranks_post_seen", table_name="hot_list_ranks")
    op.drop_table("hot_list_ranks")
