"""What other domains need to know about drills, without importing the drill service.

- Every drill post's text starts with the drill's mark (`【演练#7】`): people see it wherever the
  post appears, and the mark makes each drill's copy of a scenario a text of its own, so the exact
  duplicate check neither swallows it as a copy of a real post nor as a copy of another drill's.
  The pipeline reads the post without the mark (`strip_post_mark`), so topic rules, sentiment and
  clustering see the incident's own words.
- Notices about a drill's event stay in-app unless the drill was started allowing outside
  channels (`notices_internal_only`).
- A drill's alerts stay inside the unit that runs it (`drill_unit`): a school bureau's drill of a
  hospital rumour exercises the bureau, not the health commission, which could neither see nor
  stop it.
- A drill that has ended (stopped, or closed after its replay) is over (`ended_drill`): its events
  raise no more alerts, its cases take no more actions, no case is opened on it.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.analysis.models import Event
from yuqing.drills.models import Drill, DrillState

__all__ = [
    "DRILL_PREFIX",
    "ENDED_STATES",
    "drill_unit",
    "ended_drill",
    "notices_internal_only",
    "post_mark",
    "strip_post_mark",
]
# The states in which a drill is over.
ENDED_STATES = (DrillState.STOPPED.value, DrillState.CLOSED.value)

# The prefix of every title and message about a drill.
DRILL_PREFIX = "【演练】"
_POST_MARK = re.compile(r"^【演练#\d+】")


def post_mark(drill_id: int) -> str:
    return f"【演练#{drill_id}】"


def strip_post_mark(text: str) -> str:
    """The post's text without a drill's mark (unchanged when it has none)."""
    return _POST_MARK.sub("", text, count=1)


def notices_internal_only(session: Session, event_id: int | None) -> bool:
    """True when notices about this event must stay in-app: it is a drill's event and the drill
    was not started with outside channels allowed."""
    if event_id is None:
        return False
    row = session.execute(select(Event.is_drill, Event.drill_id).where(Event.id == event_id)).first()
    if row is None or not row.is_drill:
        return False
    allowed = session.scalar(select(Drill.allow_external).where(Drill.id == row.drill_id))
    return not allowed


def drill_unit(session: Session, event: Event) -> int | None:
    """The unit running the drill whose event this is (None for a real event, or a drill the
    operator created at the command line for the whole organisation)."""
    if not event.is_drill or event.drill_id is None:
        return None
    return session.scalar(select(Drill.unit_id).where(Drill.id == event.drill_id))


def ended_drill(session: Session, drill_id: int | None) -> int | None:
    """The drill's id when it has ended (stopped, or closed after its replay); None for no drill
    or one still going."""
    if drill_id is None:
        return None
    state = session.scalar(select(Drill.state).where(Drill.id == drill_id))
    return drill_id if state in ENDED_STATES else None
