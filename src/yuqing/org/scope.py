"""Which units a person may see: the one rule every domain applies to reading by unit.

Writing is decided by `yuqing.org.service.has_role` (a role held at the unit or above it). Reading
follows the same tree:

- a person sees the unit they belong to, every unit where they hold a role, and every unit below
  those (a unit sees its own subtree; a superior sees everything below it);
- an administrator (管理员, at any unit) sees every unit;
- something that belongs to no unit (a report whose issuer is no unit, a drill started from the
  command line) belongs to the top of the tree: it is seen by those who see a top unit;
- an inactive person sees nothing.

Alerts, cases, reports and drills are read through this rule (`Scope.sees` for one thing,
`Scope.where` to filter a query); the command line runs as the server's operator and sees
everything (`EVERYTHING`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from yuqing.org.models import Person, RoleAssignment, Unit
from yuqing.org.roles import Role

__all__ = [
    "EVERYTHING",
    "NotVisible",
    "Scope",
    "check_sees",
    "is_administrator",
    "not_found",
    "reader_scope",
    "scope_of",
    "subtree",
]


@dataclass(frozen=True)
class Scope:
    """The units one person may see. `unit_ids` None: every unit; `top`: a top unit is among them
    (so what belongs to no unit is seen too)."""

    unit_ids: frozenset[int] | None
    top: bool

    @property
    def everything(self) -> bool:
        return self.unit_ids is None

    def sees(self, unit_id: int | None) -> bool:
        """Whether something of this unit (None: of no unit) may be shown."""
        if self.unit_ids is None:
            return True
        if unit_id is None:
            return self.top
        return unit_id in self.unit_ids

    def where(self, column: Any) -> ColumnElement[bool]:
        """A filter on a unit-id column: the rows this scope may see."""
        if self.unit_ids is None:
            return true()
        inside = column.in_(sorted(self.unit_ids)) if self.unit_ids else false()
        return or_(inside, column.is_(None)) if self.top else inside


EVERYTHING = Scope(None, True)
NOTHING = Scope(frozenset(), False)


def reader_scope() -> Scope:
    """The dependency a domain's HTTP routes declare for what the reader may see. The web app
    overrides it with the signed-in person's scope (`yuqing.web.auth.reader_scope`), so domain
    code filters by unit without importing the web; on its own (an app that forgot to) it sees
    no unit, so nothing of a unit leaks."""
    return NOTHING


def _tree(session: Session) -> tuple[dict[int | None, list[int]], set[int]]:
    """Children by parent id, and the ids of the top units, read in one query."""
    children: dict[int | None, list[int]] = {}
    rows = list(session.execute(select(Unit.id, Unit.parent_id)))
    ids = {unit_id for unit_id, _ in rows}
    tops: set[int] = set()
    for unit_id, parent_id in rows:
        parent = parent_id if parent_id in ids else None  # a lost parent makes the unit a top one
        children.setdefault(parent, []).append(unit_id)
        if parent is None:
            tops.add(unit_id)
    return children, tops


def _below(children: dict[int | None, list[int]], roots: set[int]) -> set[int]:
    found: set[int] = set()
    stack = list(roots)
    while stack:
        unit_id = stack.pop()
        if unit_id in found:
            continue
        found.add(unit_id)
        stack.extend(children.get(unit_id, []))
    return found


def subtree(session: Session, unit_id: int) -> set[int]:
    """The unit and every unit below it."""
    children, _tops = _tree(session)
    return _below(children, {unit_id})


def is_administrator(session: Session, person_id: int) -> bool:
    """An active person holding 管理员 at some unit."""
    person = session.get(Person, person_id)
    if person is None or not person.active:
        return False
    held = session.scalar(
        select(RoleAssignment.id)
        .where(RoleAssignment.person_id == person_id, RoleAssignment.role == Role.ADMIN.value)
        .limit(1)
    )
    return held is not None


def scope_of(session: Session, person_id: int) -> Scope:
    """What the person may see (see the module's rule)."""
    person = session.get(Person, person_id)
    if person is None or not person.active:
        return NOTHING
    if is_administrator(session, person_id):
        return EVERYTHING
    roots = {person.unit_id} | set(
        session.scalars(select(RoleAssignment.unit_id).where(RoleAssignment.person_id == person_id))
    )
    children, tops = _tree(session)
    seen = _below(children, roots)
    return Scope(frozenset(seen), bool(seen & tops))


class NotVisible(LookupError):
    """Something of a unit the person may not see. It is answered as a missing one is (404, the
    same words: `not_found`), so that sequential ids tell another unit nothing of what it holds."""


def not_found(what: str) -> str:
    """The words for a missing thing and for one of a unit the person may not see (「工单 #3」)."""
    return f"找不到{what}，或它不属于您可查看的单位（本单位及其下级单位）"


def check_sees(session: Session, person_id: int, unit_id: int | None, what: str) -> None:
    """NotVisible unless the person may see something of this unit; `what` names it (「工单 #3」)."""
    if not scope_of(session, person_id).sees(unit_id):
        raise NotVisible(not_found(what))
