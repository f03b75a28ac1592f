"""A graded event that raised no alert says why on its page: no unit answers for it, its grade is
below the unit's alert threshold, or its alert is about to be raised."""

from __future__ import annotations

from sqlalchemy import update

from tests.cases.test_response import graded_event
from yuqing.alerts import service as alerts
from yuqing.analysis.models import Event
from yuqing.cases import followup
from yuqing.db import transaction
from yuqing.org.models import Unit
from yuqing.runtime import Runtime
from yuqing.web.pages.events import event_context


def _note(rt: Runtime, event_id: int) -> str | None:
    page = event_context(rt, event_id)
    assert page is not None
    note: str | None = page["no_alert"]
    return note


def test_a_graded_event_without_an_alert_says_why(rt: Runtime) -> None:
    event_id = graded_event(rt)
    assert _note(rt, event_id) == "预警将在后台下一轮处置任务中向市卫生健康委员会发出。"
    with transaction(rt.sessions) as session:
        # as if graded 一般, at a unit that alerts from 较大 up
        session.execute(update(Event).where(Event.id == event_id).values(grade_code="IV", grade="一般"))
        session.execute(update(Unit).where(Unit.name == "市卫生健康委员会").values(alert_threshold="III"))
    assert followup.run_once(rt)["alerts"]["below_threshold"] == 1
    assert alerts.list_alerts(rt) == []
    below = "已定级但未发预警：市卫生健康委员会的预警起点为较大，一般事件只定级、不发预警。"
    assert _note(rt, event_id) == below
    with transaction(rt.sessions) as session:
        session.execute(update(Unit).where(Unit.name == "市卫生健康委员会").values(alert_threshold="IV"))
        session.execute(update(Event).where(Event.id == event_id).values(grade_code="I", grade="特别重大"))
    alerts.process_signals(rt)  # no new signal: the note stays until one comes
    with transaction(rt.sessions) as session:
        alerts.raise_alert(
            session,
            rt,
            session.get(Event, event_id),  # type: ignore[arg-type]
            "new",
            alerts.load_plan(None),
            alerts.load_calendar(rt),
            alerts.AlertCounts(),
        )
    assert _note(rt, event_id) is None  # alerted: nothing to explain
