"""a post seen under the same URL from another source (the same Weibo post through RSSHub and a
webhook) is a sighting of that source: sightings are unique per post, source and URL

Revision ID: 0013_sightings_per_source
Revises: 0012_notify_claimant
Create Date: 2026-12-04 20:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_sightings_per_source"
down_revision: str | Sequence[str] | None = "0012_notify_claimant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("post_sightings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_post_sightings_post_id_url_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_post_sightings_post_id_source_id_url_key", ["post_id", "source_id", "url_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("post_sightings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_post_sightings_post_id_source_id_url_key", type_="unique")
        batch_op.create_unique_constraint("uq_post_sightings_post_id_url_key", ["post_id", "url_key"])
