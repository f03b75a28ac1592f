"""posts: the kind of a verified account (individual, government, media, …)

Revision ID: 0021_author_kind
Revises: 0020_event_alert_held
Create Date: 2026-12-06 14:30:00.000000

Weibo verifies individuals (celebrities, 大V) as well as government bodies and media. Only the
latter's report of an incident is evidence enough on its own for a flag such as casualties; the
kind tells them apart. Posts stored before this revision have none and are read as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_author_kind"
down_revision: str | Sequence[str] | None = "0020_event_alert_held"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("author_kind", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("author_kind")
