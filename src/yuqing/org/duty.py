"""The duty roster (值班表): rotations, overrides, swaps, 24-hour duty; who is on duty, when, and where
nobody is.

Rules (all times are aware; the roster's calendar is Asia/Shanghai):
- A rotation's shift n runs from `start_date + n × shift length` at the handover time (08:30 by
  default) to the next handover; it belongs to member n mod len(members). Shifts count calendar days,
  weekends included. A `working` rotation puts its person on duty only in working hours, an `all_day`
  one for the whole shift.
- An override (a person for an explicit time range) replaces every rotation of the unit there; a swap
  is a pair of overrides bound to one rotation, so a parallel rotation is left alone.
- 24-hour duty: while a unit has a 24-hour period in force, working-hours rotations and overrides
  extend around the clock (the night after Monday's 08:30 handover belongs to Monday's person), and
  `gaps` counts nights and weekends as needing cover.
- Inactive people are never on duty: their turns show up as gaps.
- Who may be on a unit's roster: active people of the unit or of a unit below it (whoever is on
  duty gets the unit's alerts; another unit's people are not the office's to command).
- Inheritance: when nobody of the unit is on duty at a moment, `on_duty` asks its parent, and so on up
  to the root (an alert at night reaches the city's duty officer when the hospital has none); `gaps`
  therefore lists the times when even that finds nobody. Pass inherit=False to see the unit alone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from yuqing.org.models import (
    Duty24hPeriod,
    DutyHours,
    DutyOverride,
    DutyRotation,
    DutyRotationMember,
    DutySwap,
    NotFound,
    OrgError,
    Person,
    ShiftLength,
    Unit,
)
from yuqing.org.scope import Scope, subtree
from yuqing.org.service import ancestors, get_person, get_unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_HANDOVER = dt.time(8, 30)
OFFICE_START = dt.time(8, 30)
OFFICE_END = dt.time(17, 30)
# How finely `gaps` looks for the start and end of working time (changes are found to the minute).
SCAN_STEP = dt.timedelta(minutes=15)

WorkingTime = Callable[[dt.datetime], bool]


class DutyError(OrgError):
    """A roster change that cannot be made (an empty rotation, a swap of a shift nobody holds…)."""


def office_hours(at: dt.datetime) -> bool:
    """The default working-time test: Monday to Friday, 08:30–17:30 Shanghai time. The working-day
    clock with holidays (yuqing.workcal) can be passed instead wherever `is_working_time` is taken."""
    local = _aware(at).astimezone(SHANGHAI)
    return local.weekday() < 5 and OFFICE_START <= local.time() < OFFICE_END


def local_text(at: dt.datetime) -> str:
    """A moment as Shanghai wall-clock text with the weekday: "2026-11-23 周一 08:30"."""
    local = at.astimezone(SHANGHAI)
    return f"{local:%Y-%m-%d} 周{'一二三四五六日'[local.weekday()]} {local:%H:%M}"


@dataclass(frozen=True)
class Shift:
    """One stretch of the roster of a unit, for a calendar."""

    start: dt.datetime
    end: dt.datetime
    unit_id: int
    unit_name: str
    person_id: int
    person_name: str
    source: str  # "rotation" | "override" | "swap"
    rotation: str | None
    hours: DutyHours
    override_id: int | None = None
    swap_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.astimezone(SHANGHAI).isoformat(),
            "end": self.end.astimezone(SHANGHAI).isoformat(),
            "unit_id": self.unit_id,
            "unit": self.unit_name,
            "person_id": self.person_id,
            "person": self.person_name,
            "source": self.source,
            "rotation": self.rotation,
            "hours": self.hours.value,
            "override_id": self.override_id,
            "swap_id": self.swap_id,
        }


@dataclass(frozen=True)
class Gap:
    """A time range that needs someone on duty and has nobody."""

    start: dt.datetime
    end: dt.datetime

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.astimezone(SHANGHAI).isoformat(),
            "end": self.end.astimezone(SHANGHAI).isoformat(),
            "hours": round(self.duration.total_seconds() / 3600, 2),
        }


@dataclass(frozen=True)
class DutyAnswer:
    """Who is on duty for a unit at a moment, and why."""

    at: dt.datetime
    people: list[Person]
    unit: Unit | None  # the unit whose roster answered (an ancestor when inherited); None: nobody
    round_the_clock: bool  # the asked unit is on 24-hour duty
    periods: list[Duty24hPeriod] = field(default_factory=list)


# ---- roster arithmetic --------------------------------------------------------------------------


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise DutyError(f"时间 {at.isoformat()} 没有时区（需要带时区的时间，例如 +08:00）")
    return at


def _local(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=SHANGHAI).astimezone(dt.UTC)


def _duty_day(rotation: DutyRotation, at: dt.datetime) -> dt.date:
    """The day whose shift covers `at`: before the handover, the night still belongs to yesterday."""
    local = at.astimezone(SHANGHAI)
    day = local.date()
    return day - dt.timedelta(days=1) if local.time() < rotation.handover else day


def _shift_index(rotation: DutyRotation, at: dt.datetime) -> int | None:
    day = _duty_day(rotation, at)
    if day < rotation.start_date or (rotation.end_date is not None and day >= rotation.end_date):
        return None
    return (day - rotation.start_date).days // ShiftLength(rotation.shift).days


def _shift_bounds(rotation: DutyRotation, index: int) -> tuple[dt.datetime, dt.datetime]:
    length = ShiftLength(rotation.shift).days
    first = rotation.start_date + dt.timedelta(days=index * length)
    last = first + dt.timedelta(days=length)
    if rotation.end_date is not None and last > rotation.end_date:
        last = rotation.end_date
    return _local(first, rotation.handover), _local(last, rotation.handover)


def _rotation_shifts(
    rotation: DutyRotation, start: dt.datetime, end: dt.datetime
) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """The shifts (index, start, end) of a rotation that overlap [start, end)."""
    length = ShiftLength(rotation.shift).days
    index = max(0, (_duty_day(rotation, start) - rotation.start_date).days // length)
    found: list[tuple[int, dt.datetime, dt.datetime]] = []
    while True:
        first = rotation.start_date + dt.timedelta(days=index * length)
        if rotation.end_date is not None and first >= rotation.end_date:
            break
        shift_start, shift_end = _shift_bounds(rotation, index)
        if shift_start >= end:
            break
        if shift_end > start:
            found.append((index, shift_start, shift_end))
        index += 1
    return found


def _covers(start: dt.datetime, end: dt.datetime | None, at: dt.datetime) -> bool:
    return start <= at and (end is None or at < end)


@dataclass
class _Rotation:
    row: DutyRotation
    members: list[Person]

    def member(self, index: int) -> Person:
        return self.members[index % len(self.members)]


@dataclass
class _Roster:
    """One unit's roster around a time window, loaded once and then evaluated in memory."""

    unit: Unit
    rotations: list[_Rotation]
    overrides: list[DutyOverride]
    periods: list[Duty24hPeriod]
    people: dict[int, Person]

    def in_24h(self, at: dt.datetime) -> list[Duty24hPeriod]:
        return [p for p in self.periods if _covers(p.started_at, p.ended_at, at)]

    def people_at(self, at: dt.datetime, working: bool, round_the_clock: bool) -> list[Person]:
        def active(hours: str) -> bool:
            return hours == DutyHours.ALL_DAY.value or working or round_the_clock

        def live(overrides: Iterable[DutyOverride]) -> list[int]:
            return [o.person_id for o in overrides if _covers(o.starts_at, o.ends_at, at) and active(o.hours)]

        chosen = live(o for o in self.overrides if o.rotation_id is None)
        if not chosen:
            for rotation in self.rotations:
                bound = live(o for o in self.overrides if o.rotation_id == rotation.row.id)
                if bound:
                    chosen.extend(bound)
                    continue
                index = _shift_index(rotation.row, at)
                if index is not None and active(rotation.row.hours):
                    chosen.append(rotation.member(index).id)
        result = [self.people[pid] for pid in dict.fromkeys(chosen)]
        return [p for p in result if p.active]

    def boundaries(self, start: dt.datetime, end: dt.datetime) -> set[dt.datetime]:
        points: set[dt.datetime] = set()
        for rotation in self.rotations:
            for _index, shift_start, shift_end in _rotation_shifts(rotation.row, start, end):
                points.update((shift_start, shift_end))
        for override in self.overrides:
            points.update((override.starts_at, override.ends_at))
        for period in self.periods:
            points.add(period.started_at)
            if period.ended_at is not None:
                points.add(period.ended_at)
        return {p for p in points if start < p < end}


def _load_roster(session: Session, unit: Unit, start: dt.datetime, end: dt.datetime) -> _Roster:
    people: dict[int, Person] = {}

    def person(person_id: int) -> Person:
        if person_id not in people:
            people[person_id] = get_person(session, person_id)
        return people[person_id]

    rotations = []
    for row in session.scalars(
        select(DutyRotation).where(DutyRotation.unit_id == unit.id).order_by(DutyRotation.id)
    ):
        members = session.scalars(
            select(DutyRotationMember.person_id)
            .where(DutyRotationMember.rotation_id == row.id)
            .order_by(DutyRotationMember.position)
        )
        rotations.append(_Rotation(row, [person(pid) for pid in members]))
    overrides = list(
        session.scalars(
            select(DutyOverride)
            .where(
                DutyOverride.unit_id == unit.id, DutyOverride.starts_at < end, DutyOverride.ends_at > start
            )
            .order_by(DutyOverride.starts_at, DutyOverride.id)
        )
    )
    for override in overrides:
        person(override.person_id)
    periods = list(
        session.scalars(
            select(Duty24hPeriod)
            .where(
                Duty24hPeriod.unit_id == unit.id,
                Duty24hPeriod.started_at < end,
                or_(Duty24hPeriod.ended_at.is_(None), Duty24hPeriod.ended_at > start),
            )
            .order_by(Duty24hPeriod.started_at, Duty24hPeriod.id)
        )
    )
    return _Roster(unit, [r for r in rotations if r.members], overrides, periods, people)


def _load_chain(
    session: Session, unit_id: int, start: dt.datetime, end: dt.datetime, inherit: bool
) -> list[_Roster]:
    units = ancestors(session, unit_id) if inherit else [get_unit(session, unit_id)]
    return [_load_roster(session, unit, start, end) for unit in units]


def _answer(chain: Sequence[_Roster], at: dt.datetime, working: bool) -> DutyAnswer:
    asked = chain[0]
    own_periods = asked.in_24h(at)
    for roster in chain:
        round_the_clock = bool(own_periods or roster.in_24h(at))
        found = roster.people_at(at, working, round_the_clock)
        if found:
            return DutyAnswer(at, found, roster.unit, bool(own_periods), own_periods)
    return DutyAnswer(at, [], None, bool(own_periods), own_periods)


def _working_changes(
    is_working_time: WorkingTime, start: dt.datetime, end: dt.datetime, step: dt.timedelta = SCAN_STEP
) -> set[dt.datetime]:
    """Where working time begins or ends in (start, end), found to the minute by sampling every
    `step` and bisecting; a working spell shorter than `step` can be missed."""
    minute = dt.timedelta(minutes=1)
    changes: set[dt.datetime] = set()
    here = start.astimezone(dt.UTC).replace(second=0, microsecond=0)
    before = is_working_time(here)
    while here < end:
        there = here + step
        now = is_working_time(there)
        if now != before:
            low, high = here, there
            while high - low > minute:
                middle = low + ((high - low) // minute // 2) * minute
                if is_working_time(middle) == before:
                    low = middle
                else:
                    high = middle
            if start < high < end:
                changes.add(high)
            before = now
        here = there
    return changes


# ---- questions ----------------------------------------------------------------------------------


def duty_at(
    session: Session,
    unit_id: int,
    at: dt.datetime,
    *,
    is_working_time: WorkingTime = office_hours,
    inherit: bool = True,
) -> DutyAnswer:
    """Who is on duty for the unit at `at`, which unit's roster answered, and whether 24-hour duty is on."""
    at = _aware(at)
    chain = _load_chain(session, unit_id, at, at + dt.timedelta(microseconds=1), inherit)
    return _answer(chain, at, is_working_time(at))


def on_duty(
    session: Session,
    unit_id: int,
    at: dt.datetime,
    *,
    is_working_time: WorkingTime = office_hours,
    inherit: bool = True,
) -> list[Person]:
    """The people on duty for the unit at `at` (overrides win over rotations; when the unit has
    nobody, its parent's roster answers, and so on up)."""
    return duty_at(session, unit_id, at, is_working_time=is_working_time, inherit=inherit).people


def shifts(
    session: Session, unit_id: int, start: dt.datetime, end: dt.datetime, *, inherit: bool = True
) -> list[Shift]:
    """The roster between start and end for a calendar: rotation shifts, cut where overrides replace
    them, and the overrides. A unit with no roster at all in the range shows its nearest ancestor's."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        raise DutyError("结束时间必须晚于开始时间")
    for roster in _load_chain(session, unit_id, start, end, inherit):
        found = _roster_shifts(roster, start, end)
        if found:
            return found
    return []


def _roster_shifts(roster: _Roster, start: dt.datetime, end: dt.datetime) -> list[Shift]:
    found: list[Shift] = []
    unit = roster.unit
    names = {r.row.id: r.row.name for r in roster.rotations}
    for rotation in roster.rotations:
        replacing = [
            (o.starts_at, o.ends_at)
            for o in roster.overrides
            if o.rotation_id is None or o.rotation_id == rotation.row.id
        ]
        for index, shift_start, shift_end in _rotation_shifts(rotation.row, start, end):
            person = rotation.member(index)
            for piece_start, piece_end in _subtract(
                (max(shift_start, start), min(shift_end, end)), replacing
            ):
                found.append(
                    Shift(
                        piece_start,
                        piece_end,
                        unit.id,
                        unit.name,
                        person.id,
                        person.name,
                        "rotation",
                        rotation.row.name,
                        DutyHours(rotation.row.hours),
                    )
                )
    unit_wide = [(o.starts_at, o.ends_at) for o in roster.overrides if o.rotation_id is None]
    for override in roster.overrides:
        person = roster.people[override.person_id]
        span = (max(override.starts_at, start), min(override.ends_at, end))
        # A unit-wide override also replaces a swap's shift where the two overlap.
        pieces = [span] if override.rotation_id is None else _subtract(span, unit_wide)
        for piece_start, piece_end in pieces:
            found.append(
                Shift(
                    piece_start,
                    piece_end,
                    unit.id,
                    unit.name,
                    person.id,
                    person.name,
                    "swap" if override.swap_id is not None else "override",
                    names.get(override.rotation_id) if override.rotation_id is not None else None,
                    DutyHours(override.hours),
                    override.id,
                    override.swap_id,
                )
            )
    return sorted(found, key=lambda s: (s.start, s.rotation or "", s.person_id))


def _subtract(
    span: tuple[dt.datetime, dt.datetime], holes: Iterable[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    pieces = [span]
    for hole_start, hole_end in holes:
        next_pieces = []
        for piece_start, piece_end in pieces:
            if hole_end <= piece_start or hole_start >= piece_end:
                next_pieces.append((piece_start, piece_end))
                continue
            if piece_start < hole_start:
                next_pieces.append((piece_start, hole_start))
            if hole_end < piece_end:
                next_pieces.append((hole_end, piece_end))
        pieces = next_pieces
    return pieces


def gaps(
    session: Session,
    unit_id: int,
    start: dt.datetime,
    end: dt.datetime,
    *,
    is_working_time: WorkingTime = office_hours,
    inherit: bool = True,
) -> list[Gap]:
    """The time ranges between start and end that need someone on duty (working time, and all the
    time while the unit is on 24-hour duty) and where `on_duty` would find nobody."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        raise DutyError("结束时间必须晚于开始时间")
    chain = _load_chain(session, unit_id, start, end, inherit)
    points = {start, end} | _working_changes(is_working_time, start, end)
    for roster in chain:
        points |= roster.boundaries(start, end)
    ordered = sorted(points)
    found: list[Gap] = []
    for here, there in pairwise(ordered):
        working = is_working_time(here)
        needed = working or bool(chain[0].in_24h(here))
        if not needed or _answer(chain, here, working).people:
            continue
        if found and found[-1].end == here:
            found[-1] = Gap(found[-1].start, there)
        else:
            found.append(Gap(here, there))
    return found


# ---- changing the roster ------------------------------------------------------------------------


def rotations_of(session: Session, unit_id: int, *, current_on: dt.date | None = None) -> list[DutyRotation]:
    """A unit's rotations (only those in force on `current_on` when given)."""
    query = select(DutyRotation).where(DutyRotation.unit_id == unit_id).order_by(DutyRotation.id)
    rows = list(session.scalars(query))
    if current_on is None:
        return rows
    return [r for r in rows if r.start_date <= current_on and (r.end_date is None or current_on < r.end_date)]


def rotation_members(session: Session, rotation_id: int) -> list[Person]:
    ids = session.scalars(
        select(DutyRotationMember.person_id)
        .where(DutyRotationMember.rotation_id == rotation_id)
        .order_by(DutyRotationMember.position)
    )
    return [get_person(session, pid) for pid in ids]


def eligible_people(session: Session, unit_id: int) -> list[tuple[Person, str]]:
    """The people who may go on the unit's roster (active, of the unit or below), with their unit's
    name: the unit's own first."""
    units = subtree(session, unit_id)
    rows = session.execute(
        select(Person, Unit.name)
        .join(Unit, Unit.id == Person.unit_id)
        .where(Person.active.is_(True), Person.unit_id.in_(sorted(units)))
        .order_by(Person.unit_id != unit_id, Person.unit_id, Person.id)
    )
    return [(person, name) for person, name in rows]


def _check_members(session: Session, unit: Unit, people: Iterable[Person]) -> None:
    """DutyError unless every person belongs to the unit or a unit below it."""
    units = subtree(session, unit.id)
    outside = [p for p in people if p.unit_id not in units]
    if outside:
        names = "、".join(f"{p.name}（{get_unit(session, p.unit_id).name}）" for p in outside)
        raise DutyError(
            f"{names} 不是 {unit.name} 或其下级单位的人员，不能排入 {unit.name} 的值班表"
            "（值班人员会收到该单位的预警）"
        )


def set_rotation(
    session: Session,
    unit_id: int,
    people: Sequence[int],
    start: dt.date,
    *,
    shift: ShiftLength | str = ShiftLength.DAILY,
    hours: DutyHours | str = DutyHours.WORKING,
    handover: dt.time = DEFAULT_HANDOVER,
    name: str = "值班",
) -> DutyRotation:
    """Set the unit's rotation of this name from `start` on. A rotation of the same name ends where this
    one starts (the past roster is kept), and swaps of its shifts from then on are undone."""
    unit = get_unit(session, unit_id)
    if not people:
        raise DutyError("轮值表至少需要一个人")
    members = [get_person(session, pid) for pid in people]
    inactive = [p.name for p in members if not p.active]
    if inactive:
        raise DutyError(f"{'、'.join(inactive)} 已停用，不能排班")
    _check_members(session, unit, members)
    try:
        length, covered = ShiftLength(shift), DutyHours(hours)
    except ValueError as exc:
        raise DutyError(f"班次应为 daily/weekly，时段应为 working/all_day：{exc}") from None
    label = name.strip() or "值班"
    for old in session.scalars(
        select(DutyRotation).where(DutyRotation.unit_id == unit.id, DutyRotation.name == label)
    ):
        if old.end_date is not None and old.end_date <= start:
            continue
        old.end_date = max(start, old.start_date)
        cut = _local(old.end_date, old.handover)
        for swap_row in list(session.scalars(select(DutySwap).where(DutySwap.rotation_id == old.id))):
            if max(swap_row.shift_a_start, swap_row.shift_b_start) >= cut:
                undo_swap(session, swap_row.id)
    rotation = DutyRotation(
        unit_id=unit.id,
        name=label,
        shift=length.value,
        hours=covered.value,
        handover=handover.replace(tzinfo=None),
        start_date=start,
        end_date=None,
    )
    session.add(rotation)
    session.flush()
    for position, person in enumerate(members):
        session.add(DutyRotationMember(rotation_id=rotation.id, position=position, person_id=person.id))
    session.flush()
    return rotation


# A temporary arrangement covers days or weeks; a typo (1900-01-01) would put one person on duty
# for a century, and a note longer than the form's limit came in past the form.
MAX_OVERRIDE = dt.timedelta(days=92)
MAX_NOTE = 200


def add_override(
    session: Session,
    unit_id: int,
    person_id: int,
    start: dt.datetime,
    end: dt.datetime,
    *,
    note: str | None = None,
    hours: DutyHours | str = DutyHours.ALL_DAY,
) -> DutyOverride:
    """Put a person on duty for the unit from start to end, in place of the rotations there."""
    unit = get_unit(session, unit_id)
    person = get_person(session, person_id)
    start, end = _aware(start), _aware(end)
    if end <= start:
        raise DutyError("结束时间必须晚于开始时间")
    if end - start > MAX_OVERRIDE:
        raise DutyError(f"一项临时安排最长 {MAX_OVERRIDE.days} 天；更长的安排请调整轮班")
    if start.year < 2000 or end.year > 2100:
        raise DutyError(f"日期超出范围：{start:%Y-%m-%d} 至 {end:%Y-%m-%d}")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise DutyError(f"说明最多 {MAX_NOTE} 字，实为 {len(note)} 字")
    if not person.active:
        raise DutyError(f"{person.name} 已停用，不能排班")
    _check_members(session, unit, [person])
    override = DutyOverride(
        unit_id=unit.id,
        person_id=person.id,
        starts_at=start,
        ends_at=end,
        hours=DutyHours(hours).value,
        note=note,
    )
    session.add(override)
    session.flush()
    return override


def remove_override(session: Session, override_id: int) -> None:
    override = session.get(DutyOverride, override_id)
    if override is None:
        raise NotFound(f"找不到值班调整 {override_id}")
    if override.swap_id is not None:
        raise DutyError(f"值班调整 {override_id} 属于调班 {override.swap_id}，请撤销该调班")
    session.delete(override)
    session.flush()


def swap(
    session: Session,
    unit_id: int,
    person_a_id: int,
    day_a: dt.date,
    person_b_id: int,
    day_b: dt.date,
    *,
    rotation_name: str | None = None,
) -> DutySwap:
    """A holds the shift of day_a and B that of day_b in one of the unit's rotations; afterwards B
    takes day_a's shift and A day_b's. Undo with `undo_swap`."""
    unit = get_unit(session, unit_id)
    person_a, person_b = get_person(session, person_a_id), get_person(session, person_b_id)
    if person_a.id == person_b.id:
        raise DutyError("调班需要两个不同的人")
    found = _find_swap_shifts(session, unit.id, person_a.id, day_a, person_b.id, day_b, rotation_name)
    if found is None:
        raise DutyError(
            f"{unit.name} 的轮值表里 {person_a.name} 不在 {day_a.isoformat()} 值班，"
            f"或 {person_b.name} 不在 {day_b.isoformat()} 值班"
        )
    row, index_a, index_b = found
    if index_a == index_b:
        raise DutyError("两个日期是同一个班次，无需调班")
    shift_a, shift_b = _shift_bounds(row, index_a), _shift_bounds(row, index_b)
    for shift_start, shift_end in (shift_a, shift_b):
        taken = session.scalar(
            select(DutyOverride.id).where(
                DutyOverride.rotation_id == row.id,
                DutyOverride.starts_at < shift_end,
                DutyOverride.ends_at > shift_start,
            )
        )
        if taken is not None:
            raise DutyError(f"{local_text(shift_start)} 的班次已经调过，请先撤销原来的调班")
    record = DutySwap(
        unit_id=unit.id,
        rotation_id=row.id,
        person_a_id=person_a.id,
        shift_a_start=shift_a[0],
        person_b_id=person_b.id,
        shift_b_start=shift_b[0],
    )
    session.add(record)
    session.flush()
    note = f"调班：{person_a.name} ↔ {person_b.name}"
    for person, (shift_start, shift_end) in ((person_b, shift_a), (person_a, shift_b)):
        session.add(
            DutyOverride(
                unit_id=unit.id,
                person_id=person.id,
                starts_at=shift_start,
                ends_at=shift_end,
                hours=row.hours,
                rotation_id=row.id,
                swap_id=record.id,
                note=note,
            )
        )
    session.flush()
    return record


def _find_swap_shifts(
    session: Session,
    unit_id: int,
    person_a_id: int,
    day_a: dt.date,
    person_b_id: int,
    day_b: dt.date,
    rotation_name: str | None,
) -> tuple[DutyRotation, int, int] | None:
    """The rotation where A holds day_a's shift and B day_b's, with the two shift numbers."""
    for row in rotations_of(session, unit_id):
        if rotation_name is not None and row.name != rotation_name:
            continue
        members = rotation_members(session, row.id)
        index_a = _shift_index(row, _local(day_a, row.handover))
        index_b = _shift_index(row, _local(day_b, row.handover))
        if index_a is None or index_b is None or not members:
            continue
        holder_a, holder_b = members[index_a % len(members)], members[index_b % len(members)]
        if holder_a.id == person_a_id and holder_b.id == person_b_id:
            return row, index_a, index_b
    return None


def undo_swap(session: Session, swap_id: int) -> None:
    """Give both shifts back to the people the rotation names."""
    record = session.get(DutySwap, swap_id)
    if record is None:
        raise NotFound(f"找不到调班 {swap_id}")
    session.execute(delete(DutyOverride).where(DutyOverride.swap_id == record.id))
    session.delete(record)
    session.flush()


# ---- 24-hour duty -------------------------------------------------------------------------------


def start_24h_duty(
    session: Session, unit_id: int, reason: str, at: dt.datetime, *, key: str | None = None
) -> Duty24hPeriod:
    """Put the unit on 24-hour duty from `at`. `key` (e.g. "case:12") names the cause so that ending
    it leaves other causes' periods alone; starting a key that is already on changes nothing."""
    unit = get_unit(session, unit_id)
    at = _aware(at)
    if not reason.strip():
        raise DutyError("开启24小时值班需要说明原因")
    key_test = Duty24hPeriod.key.is_(None) if key is None else Duty24hPeriod.key == key
    existing = session.scalar(
        select(Duty24hPeriod).where(
            Duty24hPeriod.unit_id == unit.id, Duty24hPeriod.ended_at.is_(None), key_test
        )
    )
    if existing is not None:
        return existing
    period = Duty24hPeriod(unit_id=unit.id, key=key, reason=reason.strip(), started_at=at)
    session.add(period)
    session.flush()
    return period


def end_24h_duty(
    session: Session, unit_id: int, reason: str, at: dt.datetime, *, key: str | None = None
) -> list[Duty24hPeriod]:
    """End the unit's open 24-hour period of this key at `at` (every open period when key is None).
    Returns the periods ended; the unit stays on 24-hour duty while another cause's period is open."""
    unit = get_unit(session, unit_id)
    at = _aware(at)
    query = select(Duty24hPeriod).where(Duty24hPeriod.unit_id == unit.id, Duty24hPeriod.ended_at.is_(None))
    if key is not None:
        query = query.where(Duty24hPeriod.key == key)
    ended = list(session.scalars(query))
    for period in ended:
        period.ended_at = max(at, period.started_at)
        period.end_reason = reason.strip() or None
    session.flush()
    return ended


def duty_24h_periods(session: Session, unit_id: int, at: dt.datetime) -> list[Duty24hPeriod]:
    """The unit's 24-hour periods in force at `at` (empty: normal duty)."""
    at = _aware(at)
    rows = session.scalars(
        select(Duty24hPeriod)
        .where(Duty24hPeriod.unit_id == unit_id, Duty24hPeriod.started_at <= at)
        .order_by(Duty24hPeriod.started_at, Duty24hPeriod.id)
    )
    return [p for p in rows if p.ended_at is None or at < p.ended_at]


def duty_24h_periods_between(
    session: Session, unit_id: int, start: dt.datetime, end: dt.datetime
) -> list[Duty24hPeriod]:
    """The unit's 24-hour periods that overlap [start, end), oldest first (for a calendar)."""
    start, end = _aware(start), _aware(end)
    return list(
        session.scalars(
            select(Duty24hPeriod)
            .where(
                Duty24hPeriod.unit_id == unit_id,
                Duty24hPeriod.started_at < end,
                or_(Duty24hPeriod.ended_at.is_(None), Duty24hPeriod.ended_at > start),
            )
            .order_by(Duty24hPeriod.started_at, Duty24hPeriod.id)
        )
    )


# 「特别重大事件处置中（工单 #12）」, 「特别重大预警待处置（预警 #3）」: the case or alert a 24-hour
# period was started for; 「预警 #3 已开立工单 #12，…」 in how one ended.
_CASE_REF = re.compile(r"（(?:工单|预警) #\d+）")
_BARE_REF = re.compile(r"(工单|预警) #\d+ ?")


def reason_seen(period: Duty24hPeriod, scope: Scope) -> str:
    """A 24-hour period's reason as this viewer may read it: the case or alert number of a unit
    the viewer may not see is left out (ids tell another unit nothing of what it holds); the grade
    stays, as the organisation's duty is everyone's to see."""
    return period.reason if scope.sees(period.unit_id) else _CASE_REF.sub("", period.reason)


def end_reason_seen(period: Duty24hPeriod, scope: Scope) -> str | None:
    """How the period ended, the case and alert numbers left out as in `reason_seen`."""
    if period.end_reason is None or scope.sees(period.unit_id):
        return period.end_reason
    return _BARE_REF.sub(r"\1", _CASE_REF.sub("", period.end_reason))
