"""Who may read a drill's posts, sources and events: the units the drill involves, by the rule of
`yuqing.org.scope`. A drill involves its own unit (`Drill.unit_id`; None, a drill started from
the command line: the top unit) and every unit one of its alerts was routed to or one of its
cases belongs to (the team that works the exercise, wherever the drill was started).

Lists leave drills out unless asked for; these checks guard what is read by id or by source (a
post's page, an event's page, the posts of one source, a case or a report built on them), so
that one unit's exercise is not read, reported or worked on by another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, true, union
from sqlalchemy.orm import Session

from yuqing.alerts.models import Alert
from yuqing.analysis.models import Event
from yuqing.cases.models import Case
from yuqing.drills.models import Drill
from yuqing.ingest.models import Post, Source
from yuqing.org.scope import Scope

__all__ = ["drill_visible", "post_visible", "sees_drill", "sees_post"]


def _seen_drills(scope: Scope) -> Select[Any]:
    """The ids of the drills the scope may see: of its units, or involving them."""
    own = select(Drill.id).where(scope.where(Drill.unit_id))
    alerted = (
        select(Event.drill_id)
        .join(Alert, Alert.event_id == Event.id)
        .where(Event.drill_id.is_not(None), scope.where(Alert.unit_id))
    )
    worked = (
        select(Event.drill_id)
        .join(Case, Case.event_id == Event.id)
        .where(Event.drill_id.is_not(None), scope.where(Case.unit_id))
    )
    return select(union(own, alerted, worked).subquery().c[0])


def sees_drill(session: Session, scope: Scope, drill_id: int | None) -> bool:
    """Whether the scope may read what belongs to this drill (None: to no drill, so yes)."""
    if drill_id is None or scope.everything:
        return True
    return drill_id in set(session.scalars(_seen_drills(scope)))


def sees_post(session: Session, scope: Scope, post: Post) -> bool:
    """Whether the scope may read the post: any real post; a drill's post (its source belongs to
    a drill) only when it may see the drill."""
    if scope.everything:
        return True
    drill_id = session.scalar(select(Source.drill_id).where(Source.id == post.source_id))
    return sees_drill(session, scope, drill_id)


def drill_visible(column: Any, scope: Scope) -> ColumnElement[bool]:
    """A filter on a drill-id column (of sources or events): no drill, or a drill the scope sees."""
    if scope.everything:
        return true()
    return or_(column.is_(None), column.in_(_seen_drills(scope)))


def post_visible(scope: Scope) -> ColumnElement[bool]:
    """A filter on posts: those whose source belongs to no drill or to a drill the scope sees."""
    if scope.everything:
        return true()
    return Post.source_id.in_(select(Source.id).where(drill_visible(Source.drill_id, scope)))
