"""A 重大 or 特别重大 alert puts its unit on 24-hour duty at once (PRODUCT.md §2.7), before a case is
opened: at night the alert then reaches the rotation's duty officer first, and the roster's gaps
show who is missing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from tests.cases.test_response import graded_event
from tests.conftest import FakeClock
from yuqing.alerts import service as alerts
from yuqing.alerts.models import AlertRecipient
from yuqing.analysis.models import Event
from yuqing.cases import followup
from yuqing.cases import service as cases
from yuqing.db import transaction
from yuqing.org import duty
from yuqing.org import service as org
from yuqing.org.models import Duty24hPeriod
from yuqing.runtime import Runtime


def _periods(rt: Runtime) -> list[Duty24hPeriod]:
    with rt.sessions() as session:
        return list(session.scalars(select(Duty24hPeriod).order_by(Duty24hPeriod.id)))


def test_a_grave_alert_at_night_puts_its_unit_on_24_hour_duty_until_a_case_takes_over(
    rt: Runtime, clock: FakeClock
) -> None:
    event_id = graded_event(rt)
    with transaction(rt.sessions) as session:
        health = org.find_unit(session, "市卫生健康委员会")
        wang = org.find_person(session, "王值班")
        # 王值班 is on duty in working hours only
        duty.set_rotation(session, health.id, [wang.id], dt.date(2026, 11, 1), hours="working", name="值班")
        health_id, wang_id = health.id, wang.id
        night = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        assert duty.on_duty(session, health_id, night, inherit=False) == []
    clock.now = night.astimezone(dt.UTC)
    assert followup.run_once(rt)["alerts"]["created"] == 1
    [alert] = alerts.list_alerts(rt)
    assert (alert["event_id"], alert["grade"]) == (event_id, "特别重大")
    [period] = _periods(rt)
    assert (period.unit_id, period.key, period.ended_at) == (health_id, f"alert:{alert['id']}", None)
    assert period.reason == f"特别重大预警待处置（预警 #{alert['id']}）"
    with rt.sessions() as session:
        # the working-hours rotation now covers the night: the alert's first level reached 王值班
        assert [p.id for p in duty.on_duty(session, health_id, clock.now, inherit=False)] == [wang_id]
        first = session.scalars(
            select(AlertRecipient.person_id).where(
                AlertRecipient.alert_id == alert["id"], AlertRecipient.level == 0
            )
        ).all()
        assert wang_id in first
    # a second round changes nothing
    followup.run_once(rt)
    assert len(_periods(rt)) == 1 and _periods(rt)[0].ended_at is None
    # a case opened on the alert keeps the unit on 24-hour duty under its own key; the alert's ends
    case = cases.open_case(rt, "李办公室", alert_id=alert["id"])
    by_key = {p.key: p for p in _periods(rt)}
    assert by_key[f"alert:{alert['id']}"].ended_at is not None
    assert (
        by_key[f"alert:{alert['id']}"].end_reason
        == f"预警 #{alert['id']} 已开立工单 #{case['id']}，值班安排随工单"
    )
    assert by_key[f"case:{case['id']}"].ended_at is None
    with rt.sessions() as session:
        assert duty.duty_24h_periods(session, health_id, clock.now)


def test_a_lesser_alert_leaves_the_roster_alone(rt: Runtime, clock: FakeClock) -> None:
    event_id = graded_event(rt)
    with transaction(rt.sessions) as session:
        event = session.get(Event, event_id)
        assert event is not None
        event.grade_code, event.grade = "III", "较大"  # as if graded 较大
    followup.run_once(rt)
    assert len(alerts.list_alerts(rt)) == 1
    assert _periods(rt) == []
