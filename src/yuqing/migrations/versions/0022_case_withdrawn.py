"""cases: withdrawn (撤销) — closed as a false alarm before any response

Revision ID: 0022_case_withdrawn
Revises: 0021_author_kind
Create Date: 2026-12-06 15:30:00.000000

A leader may close a case that needs no response (误报, not the unit's matter, a duplicate) with
a reason, before anything was released. `withdrawn_at` tells such a case from one closed after its
response, for the reports' counts and the 总结评估.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0022_case_withdrawn"
down_revision: str | Sequence[str] | None = "0021_author_kind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("withdrawn_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("withdrawn_at")
