"""alerts: every acknowledgement kept, not only the latest

Revision ID: 0027_alert_acknowledgements
Revises: 0026_dead_letter_repeats
Create Date: 2026-12-07 03:35:00.000000

An upgrade re-opens an acknowledged alert, and the next acknowledgement overwrote the first on
`alerts.acknowledged_at/by`: a drill's record lost the duty officer's 10:43 acknowledgement of the
一般 alert and blamed the team for the escalation that followed the upgrade. Each acknowledgement
is now a row of its own, with the grade it acknowledged. Acknowledgements made before this keep
the latest on the alert; it is carried over as one row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from yuqing.db import UTCDateTime

revision: str = "0027_alert_acknowledgements"
down_revision: str | Sequence[str] | None = "0026_dead_letter_repeats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("grade_code", sa.String(length=4), nullable=False),
        sa.Column("grade", sa.String(length=10), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_acknowledgements_alert_id_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_alert_acknowledgements_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_acknowledgements")),
    )
    with op.batch_alter_table("alert_acknowledgements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_acknowledgements_alert_id"), ["alert_id"], unique=False)
    op.execute(
        """
        INSERT INTO alert_acknowledgements (alert_id, person_id, at, grade_code, grade, level)
        SELECT id, acknowledged_by, acknowledged_at, grade_code, grade, level FROM alerts
        WHERE acknowledged_by IS NOT NULL AND acknowledged_at IS NOT NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_acknowledgements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_acknowledgements_alert_id"))
    op.drop_table("alert_acknowledgements")
