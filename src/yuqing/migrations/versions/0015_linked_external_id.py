"""posts known by their link are found by their platform id too, so that a comment naming its
note by id (a MediaCrawler export) joins the note's event

Revision ID: 0015_linked_external_id
Revises: 0014_source_last_new
Create Date: 2026-12-04 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_linked_external_id"
down_revision: str | Sequence[str] | None = "0014_source_last_new"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = "canonical_url IS NOT NULL AND external_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_posts_linked_external_id",
        "posts",
        ["external_id"],
        sqlite_where=sa.text(_WHERE),
        postgresql_where=sa.text(_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_posts_linked_external_id", table_name="posts")
