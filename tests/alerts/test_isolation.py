"""One failure does not stop the alerts: a grade signal whose handling fails waits while the others
are alerted, and a failing response duty leaves the others running.

The failures are injected (no known event breaks the alerting): `raise_alert` is made to fail for
one event, or a duty to fail outright, as a defect would.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from tests.cases.test_response import HOSPITAL, import_posts, setup_org
from yuqing.alerts import service as alerts
from yuqing.analysis.models import Event, GradeSignal
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.cases import followup
from yuqing.cli.main import app
from yuqing.runtime import Runtime

OTHER_HOSPITAL = "南京市第一医院发生医疗事故，一名患者输液后死亡，家属聚集在医院门口讨说法，医院称正在调查。"


def two_graded_events(rt: Runtime) -> tuple[int, int]:
    setup_org(rt)
    import_posts(
        rt,
        [
            {"id": "h1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00", "reposts": 620},
            {"id": "s1", "text": OTHER_HOSPITAL, "published_at": "2026-11-20T08:05:00+08:00", "reposts": 700},
        ],
        "two.jsonl",
    )
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        graded = list(
            session.scalars(select(Event.id).where(Event.grade_code.is_not(None)).order_by(Event.first_seen))
        )
    assert len(graded) == 2
    return graded[0], graded[1]


def fail_for(monkeypatch: pytest.MonkeyPatch, event_id: int, error: Exception) -> None:
    original = alerts.raise_alert

    def raise_alert(session: Any, rt: Runtime, event: Event, *args: Any, **kwargs: Any) -> Any:
        if event.id == event_id:
            raise error
        return original(session, rt, event, *args, **kwargs)

    monkeypatch.setattr(alerts, "raise_alert", raise_alert)


def alerted_events(rt: Runtime) -> set[int]:
    return {a["event_id"] for a in alerts.list_alerts(rt)}


def waiting_signals(rt: Runtime) -> list[int]:
    with rt.sessions() as session:
        return list(session.scalars(select(GradeSignal.event_id).where(GradeSignal.handled_at.is_(None))))


def test_a_signal_that_fails_waits_and_the_others_are_alerted(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    hospital, other = two_graded_events(rt)
    fail_for(monkeypatch, hospital, KeyError("a routing defect"))
    result = followup.run_once(rt)
    assert result["alerts"]["created"] == 1 and result["alerts"]["failed"] == 1
    assert result["failed"] == []  # the duty itself ran
    assert alerted_events(rt) == {other}
    assert waiting_signals(rt) == [hospital]  # kept, not marked handled
    # tried again next round, still failing, nothing else disturbed
    assert followup.run_once(rt)["alerts"]["failed"] == 1
    monkeypatch.undo()  # the defect is fixed
    again = followup.run_once(rt)
    assert again["alerts"]["created"] == 1 and again["alerts"]["failed"] == 0
    assert alerted_events(rt) == {hospital, other}
    assert waiting_signals(rt) == []


def test_a_database_failure_stops_the_round_and_sets_nothing_aside(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    hospital, other = two_graded_events(rt)
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    fail_for(monkeypatch, hospital, lost)
    with pytest.raises(OperationalError):
        alerts.process_signals(rt)
    # the signals before it are alerted (each in its own transaction); it waits, with any after it
    assert hospital in waiting_signals(rt) and hospital not in alerted_events(rt)
    monkeypatch.undo()  # the connection is back
    alerts.process_signals(rt)
    assert alerted_events(rt) == {hospital, other} and waiting_signals(rt) == []


def test_a_failing_duty_leaves_the_others_running(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    _hospital, other = two_graded_events(rt)

    def broken(_rt: Runtime) -> None:
        raise RuntimeError("a defect in the deadline sweep")

    monkeypatch.setattr(followup, "sweep_deadlines", broken)
    result = followup.run_once(rt)
    assert result["failed"] == ["deadlines"]
    assert result["alerts"]["created"] == 2  # the alerts still went out
    assert other in alerted_events(rt)
    assert result["deadlines"] == {"due_soon": 0, "overdue": 0, "escalated": 0}

    cli = CliRunner().invoke(app, ["response", "run"], env={"YUQING_DATABASE_URL": rt.settings.database_url})
    assert cli.exit_code == 1
    assert "本轮未完成：时限巡检" in cli.stderr and "其余任务已执行" in cli.stderr
