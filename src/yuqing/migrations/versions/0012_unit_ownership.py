"""unit ownership: word groups get an owner unit, drills the unit that runs them

Revision ID: 0012_unit_ownership
Revises: 0012_run_owner
Create Date: 2026-12-05 10:00:00.000000

A word group belongs to the unit whose topics use it — the common parent of those units, the top
unit when no topic uses it (or a topic names no unit, or a unit that does not exist). Drills made
so far get no unit: they count as the top unit's.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# A name rather than the next number: other domains add their revisions after 0011 at the same
# time (`yuqing.migrate.upgrade` applies every head).
revision: str = "0012_unit_ownership"
down_revision: str | Sequence[str] | None = "0012_run_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What ends a group name in a rule (yuqing.analysis.rules._STOP), copied so that this revision
# keeps meaning what it meant when written.
_STOP = '+＋|｜-－(（)）"＂“[【［]】］”'
_GROUP = re.compile("@([^\\s" + re.escape(_STOP) + "]+)")


def _owners(connection: sa.engine.Connection) -> dict[int, int | None]:
    units: dict[int, int | None] = {}
    for uid, parent in connection.execute(sa.text("SELECT id, parent_id FROM units")):
        units[uid] = parent
    names: dict[str, int] = {
        name: uid for uid, name in connection.execute(sa.text("SELECT id, name FROM units"))
    }
    tops = sorted(uid for uid, parent in units.items() if parent not in units)
    top = tops[0] if tops else None

    def chain(uid: int) -> list[int]:
        found: list[int] = []
        current: int | None = uid
        while current is not None and current in units and current not in found:
            found.append(current)
            current = units[current]
        return found

    def unit_of(ref: str | None) -> int | None:
        if not ref:
            return top
        text = ref.strip()
        if text in names:
            return names[text]
        if text.isdigit() and int(text) in units:
            return int(text)
        return top

    users: dict[str, set[int | None]] = {}
    for rule, ref in connection.execute(sa.text("SELECT rule, unit FROM topics")):
        for name in set(_GROUP.findall(rule or "")):
            users.setdefault(name, set()).add(unit_of(ref))
    owners: dict[int, int | None] = {}
    for group_id, name in connection.execute(sa.text("SELECT id, name FROM word_groups")):
        used = users.get(name, set())
        if not used or None in used:
            owners[group_id] = top
            continue
        chains = [chain(uid) for uid in sorted(u for u in used if u is not None)]
        common = [uid for uid in chains[0] if all(uid in other for other in chains[1:])]
        owners[group_id] = common[0] if common else top
    return owners


def upgrade() -> None:
    with op.batch_alter_table("word_groups") as batch:
        batch.add_column(sa.Column("owner_unit_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("drills") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
    connection = op.get_bind()
    for group_id, owner in _owners(connection).items():
        connection.execute(
            sa.text("UPDATE word_groups SET owner_unit_id = :owner WHERE id = :id"),
            {"owner": owner, "id": group_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("drills") as batch:
        batch.drop_column("unit_id")
    with op.batch_alter_table("word_groups") as batch:
        batch.drop_column("owner_unit_id")
