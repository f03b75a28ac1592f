"""The duty roster: rotations, overrides, swaps, 24-hour duty, calendar shifts and gaps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from tests.org.test_org import build_tree
from yuqing.org import duty, service
from yuqing.org.duty import DutyError, Gap
from yuqing.org.models import DutyHours, Person, ShiftLength
from yuqing.runtime import Runtime

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = dt.date(2026, 11, 23)


def sh(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Shanghai time in the week of Monday 23 November 2026 (day 23 = Monday … 29 = Sunday)."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def session(rt: Runtime) -> Iterator[Session]:
    with rt.sessions() as session, session.begin():
        yield session


@pytest.fixture
def units(session: Session) -> dict[str, int]:
    return build_tree(session)


@pytest.fixture
def staff(session: Session, units: dict[str, int]) -> dict[str, int]:
    # A roster takes only people of its unit or below: the hospital's people serve the commission's
    # roster too, the city's 刘洋 only the city's.
    people = {}
    for name in ["张伟", "李娜", "陈静"]:
        people[name] = service.add_person(session, name, units["gulou_hospital"]).id
    for name in ["王芳", "赵强", "周磊"]:
        people[name] = service.add_person(session, name, units["health"]).id
    people["刘洋"] = service.add_person(session, "刘洋", units["city"]).id
    return people


def who(people: list[Person]) -> list[str]:
    return [p.name for p in people]


def gap_texts(found: list[Gap]) -> list[str]:
    return [f"{duty.local_text(g.start)} → {duty.local_text(g.end)}" for g in found]


def test_daily_rotation_across_days(session: Session, units: dict[str, int], staff: dict[str, int]) -> None:
    health = units["health"]
    duty.set_rotation(session, health, [staff["张伟"], staff["李娜"], staff["王芳"]], MONDAY)

    def on(at: dt.datetime) -> list[str]:
        return who(duty.on_duty(session, health, at, inherit=False))

    assert on(sh(23, 10)) == ["张伟"]
    assert on(sh(24, 9)) == ["李娜"]
    assert on(sh(25, 17, 29)) == ["王芳"]
    assert on(sh(26, 10)) == ["张伟"]  # round again
    assert on(sh(24, 8, 0)) == []  # working-hours rotation: before 08:30 nobody
    assert on(sh(23, 22)) == []
    assert on(sh(22, 10)) == []  # the day before it starts

    night = duty.set_rotation(
        session, health, [staff["赵强"], staff["陈静"]], MONDAY, hours="all_day", name="夜间值班"
    )
    # An all-day shift runs to the next handover: Tuesday 08:00 still belongs to Monday's person.
    assert on(sh(24, 8, 0)) == ["赵强"]
    assert on(sh(24, 8, 30)) == ["李娜", "陈静"]  # two rotations side by side
    assert night.hours == DutyHours.ALL_DAY


def test_weekly_rotation_and_replacing_a_rotation(
    session: Session, units: dict[str, int], staff: dict[str, int]
) -> None:
    health = units["health"]
    duty.set_rotation(
        session, health, [staff["张伟"], staff["李娜"]], MONDAY, shift=ShiftLength.WEEKLY, hours="all_day"
    )
    assert who(duty.on_duty(session, health, sh(29, 3))) == ["张伟"]
    assert who(duty.on_duty(session, health, sh(30, 9))) == ["李娜"]
    # A new rotation of the same name takes over from its start; the past roster stays as it was.
    duty.set_rotation(session, health, [staff["王芳"]], dt.date(2026, 11, 26), hours="all_day")
    assert who(duty.on_duty(session, health, sh(25, 12))) == ["张伟"]
    assert who(duty.on_duty(session, health, sh(26, 12))) == ["王芳"]
    assert who(duty.on_duty(session, health, sh(30, 12))) == ["王芳"]
    with pytest.raises(DutyError, match="至少需要一个人"):
        duty.set_rotation(session, health, [], MONDAY)


def test_override_wins_over_the_rotation(
    session: Session, units: dict[str, int], staff: dict[str, int]
) -> None:
    health = units["health"]
    duty.set_rotation(session, health, [staff["张伟"], staff["李娜"]], MONDAY)
    duty.add_override(session, health, staff["赵强"], sh(24, 12), sh(24, 14), note="李娜 午间外出")
    assert who(duty.on_duty(session, health, sh(24, 13))) == ["赵强"]
    assert who(duty.on_duty(session, health, sh(24, 14))) == ["李娜"]

    calendar = duty.shifts(session, health, sh(24, 0), sh(25, 0))
    assert [(s.person_name, s.source, s.start.astimezone(SHANGHAI).hour) for s in calendar] == [
        ("张伟", "rotation", 0),  # the tail of Monday's shift, clipped to the range
        ("李娜", "rotation", 8),
        ("赵强", "override", 12),
        ("李娜", "rotation", 14),
    ]
    with pytest.raises(DutyError, match="晚于"):
        duty.add_override(session, health, staff["赵强"], sh(24, 14), sh(24, 12))
    # a typo in the year, a note past the form's limit: refused, not a century of duty
    ancient = dt.datetime(1900, 1, 1, 8, 30, tzinfo=sh(24, 12).tzinfo)
    with pytest.raises(DutyError, match="最长 92 天"):
        duty.add_override(session, health, staff["赵强"], ancient, sh(24, 12))
    with pytest.raises(DutyError, match="说明最多 200 字，实为 1000 字"):
        duty.add_override(session, health, staff["赵强"], sh(24, 12), sh(24, 14), note="长" * 1000)
    with pytest.raises(DutyError, match="时区"):
        duty.on_duty(session, health, dt.datetime(2026, 11, 24, 10))


def test_swap_exchanges_two_shifts_and_can_be_undone(
    session: Session, units: dict[str, int], staff: dict[str, int]
) -> None:
    health = units["health"]
    duty.set_rotation(session, health, [staff["张伟"], staff["李娜"], staff["王芳"]], MONDAY)
    parallel = duty.set_rotation(session, health, [staff["周磊"]], MONDAY, name="领导带班")
    record = duty.swap(session, health, staff["张伟"], MONDAY, staff["李娜"], dt.date(2026, 11, 24))
    assert who(duty.on_duty(session, health, sh(23, 10))) == ["李娜", "周磊"]  # the 领导带班 is untouched
    assert who(duty.on_duty(session, health, sh(24, 10))) == ["张伟", "周磊"]
    assert who(duty.on_duty(session, health, sh(25, 10))) == ["王芳", "周磊"]
    sources = {(s.person_name, s.source) for s in duty.shifts(session, health, sh(23, 8, 30), sh(25, 8, 30))}
    assert ("李娜", "swap") in sources and ("张伟", "swap") in sources and ("周磊", "rotation") in sources
    assert parallel.name == "领导带班"

    with pytest.raises(DutyError, match="已经调过"):
        duty.swap(session, health, staff["李娜"], dt.date(2026, 11, 24), staff["王芳"], dt.date(2026, 11, 25))
    with pytest.raises(DutyError, match="不在"):
        duty.swap(session, health, staff["王芳"], MONDAY, staff["张伟"], dt.date(2026, 11, 26))

    # An override replaces the swapped shift too, on the calendar as in on_duty.
    duty.add_override(session, health, staff["赵强"], sh(24, 12), sh(24, 14))
    assert who(duty.on_duty(session, health, sh(24, 13))) == ["赵强"]
    tuesday = [
        (s.person_name, s.start.astimezone(SHANGHAI).hour)
        for s in duty.shifts(session, health, sh(24, 8, 30), sh(24, 20))
        if s.rotation != "领导带班"
    ]
    assert tuesday == [("张伟", 8), ("赵强", 12), ("张伟", 14)]

    duty.undo_swap(session, record.id)
    assert who(duty.on_duty(session, health, sh(23, 10))) == ["张伟", "周磊"]
    assert who(duty.on_duty(session, health, sh(24, 10))) == ["李娜", "周磊"]


def test_a_unit_with_nobody_on_duty_falls_back_to_its_parent(
    session: Session, units: dict[str, int], staff: dict[str, int]
) -> None:
    duty.set_rotation(session, units["city"], [staff["刘洋"]], MONDAY, hours="all_day")
    duty.set_rotation(session, units["gulou_hospital"], [staff["陈静"]], MONDAY)
    day = duty.duty_at(session, units["gulou_hospital"], sh(23, 10))
    assert who(day.people) == ["陈静"] and day.unit is not None and day.unit.name == "鼓楼医院"
    night = duty.duty_at(session, units["gulou_hospital"], sh(23, 23))
    assert who(night.people) == ["刘洋"] and night.unit is not None and night.unit.name == "南京市人民政府"
    assert duty.on_duty(session, units["gulou_hospital"], sh(23, 23), inherit=False) == []
    assert who(duty.on_duty(session, units["school"], sh(23, 10))) == ["刘洋"]
    assert duty.gaps(session, units["gulou_hospital"], sh(23, 0), sh(30, 0)) == []


def test_24_hour_duty_extends_shifts_and_gaps_show_the_nights(
    session: Session, units: dict[str, int], staff: dict[str, int]
) -> None:
    hospital = units["gulou_hospital"]
    # The hospital's rotation begins on Tuesday; a 重大 case opens on Monday evening.
    duty.set_rotation(session, hospital, [staff["张伟"], staff["李娜"]], dt.date(2026, 11, 24))
    week = (sh(23, 18), sh(26, 0))
    assert duty.gaps(session, hospital, *week) == []  # nights need nobody on normal duty

    duty.start_24h_duty(session, hospital, "重大事件 #12 处置中", sh(23, 20), key="case:12")
    assert gap_texts(duty.gaps(session, hospital, *week)) == ["2026-11-23 周一 20:00 → 2026-11-24 周二 08:30"]
    # Tuesday's person carries the shift through the night to Wednesday's handover.
    answer = duty.duty_at(session, hospital, sh(25, 3))
    assert who(answer.people) == ["张伟"] and answer.round_the_clock
    assert [p.reason for p in answer.periods] == ["重大事件 #12 处置中"]

    duty.add_override(session, hospital, staff["陈静"], sh(23, 20), sh(24, 8, 30), note="首夜值守")
    assert duty.gaps(session, hospital, *week) == []

    # A second case keeps 24-hour duty on when the first closes.
    duty.start_24h_duty(session, hospital, "特别重大事件 #15 处置中", sh(24, 9), key="case:15")
    duty.end_24h_duty(session, hospital, "#12 已结案", sh(24, 12), key="case:12")
    assert duty.on_duty(session, hospital, sh(24, 23)) != []
    ended = duty.end_24h_duty(session, hospital, "#15 已结案", sh(24, 18), key="case:15")
    assert [p.end_reason for p in ended] == ["#15 已结案"]
    assert duty.on_duty(session, hospital, sh(25, 23)) == []
    assert duty.duty_24h_periods(session, hospital, sh(25, 23)) == []
    # The record keeps the past: Tuesday night, before the end, was on 24-hour duty.
    assert who(duty.on_duty(session, hospital, sh(24, 17, 45))) == ["张伟"]


def test_gaps_in_working_hours_and_a_custom_working_clock(
    session: Session, units: dict[str, int], staff: dict[str, int]
) -> None:
    health = units["health"]
    duty.set_rotation(session, health, [staff["张伟"], staff["李娜"]], MONDAY)
    service.update_person(session, staff["李娜"], active=False)  # left: her turns are now uncovered
    found = duty.gaps(session, health, sh(23, 0), sh(28, 0), inherit=False)
    assert gap_texts(found) == [
        "2026-11-24 周二 08:30 → 2026-11-24 周二 17:30",
        "2026-11-26 周四 08:30 → 2026-11-26 周四 17:30",
    ]
    assert found[0].as_dict()["hours"] == 9.0

    def mornings(at: dt.datetime) -> bool:
        local = at.astimezone(SHANGHAI)
        return local.weekday() < 5 and dt.time(9, 5) <= local.time() < dt.time(11, 40)

    narrow = duty.gaps(session, health, sh(24, 0), sh(25, 0), is_working_time=mornings, inherit=False)
    assert gap_texts(narrow) == ["2026-11-24 周二 09:05 → 2026-11-24 周二 11:40"]


def test_24_hour_duty_makes_weekends_need_cover(
    session: Session, units: dict[str, int], staff: dict[str, int]
) -> None:
    school = units["school"]
    duty.start_24h_duty(session, school, "重大事件 #20 处置中", sh(28, 0))
    assert duty.start_24h_duty(session, school, "重复开启", sh(28, 1)).reason == "重大事件 #20 处置中"
    found = duty.gaps(session, school, sh(27, 0), sh(30, 0), inherit=False)
    assert gap_texts(found) == [
        "2026-11-27 周五 08:30 → 2026-11-27 周五 17:30",
        "2026-11-28 周六 00:00 → 2026-11-30 周一 00:00",
    ]
    duty.end_24h_duty(session, school, "事件平息", sh(29, 0))
    assert gap_texts(duty.gaps(session, school, sh(28, 0), sh(30, 0), inherit=False)) == [
        "2026-11-28 周六 00:00 → 2026-11-29 周日 00:00"
    ]


def test_a_roster_takes_only_people_of_its_unit_or_below(
    session: Session, units: dict[str, int], staff: dict[str, int]
) -> None:
    health = units["health"]
    with pytest.raises(DutyError, match="刘洋（南京市人民政府） 不是 市卫生健康委员会 或其下级单位的人员"):
        duty.set_rotation(session, health, [staff["王芳"], staff["刘洋"]], MONDAY)
    with pytest.raises(DutyError, match="不能排入 南京市第一中学 的值班表"):
        duty.add_override(session, units["school"], staff["张伟"], sh(23, 20), sh(24, 8, 30))
    assert duty.rotations_of(session, health) == []
    # The hospital's people may serve the commission above it; the city's person the city.
    duty.set_rotation(session, health, [staff["王芳"], staff["陈静"]], MONDAY)
    duty.add_override(session, units["city"], staff["刘洋"], sh(23, 20), sh(24, 8, 30))
    assert [p.name for p, _unit in duty.eligible_people(session, health)] == [
        "王芳",
        "赵强",
        "周磊",
        "张伟",
        "李娜",
        "陈静",
    ]
