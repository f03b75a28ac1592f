"""`yuqing bench sweep`: the deadline sweep over 100,000 open deadlines in SQLite.

The deadlines are built from real arrival times: the `published_at` of the first N CED posts,
shifted so that the newest is "now", each starting one of the plan's clocks (report by grade,
first response in working hours, formal reply in working days) whose due time is computed by the
real working-day clock — so the table also shows how fast due times are computed.

Measured, each on the same database state:
- yuqing: `followup.sweep_deadlines` — two bulk UPDATEs guarded by state, then escalation of
  the newly overdue clocks (notices queued in the outbox);
- the same sweep run again at once (idempotent: nothing moves, nothing is sent);
- baseline "row by row": what incident tools commonly do on a periodic tick — load every open
  deadline as an ORM object, compare in Python, write each changed row.
"""

from __future__ import annotations

import datetime as dt
import gzip
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update

from yuqing.bench.common import format_table, run_isolated
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import load_settings

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Shanghai


def _arrivals(path: Path, count: int) -> list[dt.datetime]:
    out: list[dt.datetime] = []
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
        for line in handle:
            row = orjson.loads(line)
            value = row.get("published_at")
            if not value:
                continue
            at = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            out.append(at if at.tzinfo else at.replace(tzinfo=dt.UTC))
            if len(out) >= count:
                break
    out.sort()
    # Spread the arrivals over the 10 days before now, keeping their pattern.
    first, last = out[0], out[-1]
    span = (last - first).total_seconds() or 1.0
    window = dt.timedelta(days=10).total_seconds()
    return [NOW - dt.timedelta(seconds=window * (1 - (a - first).total_seconds() / span)) for a in out]


def _setup(tmp: str, path: Path, count: int) -> tuple[Runtime, float]:
    from yuqing.cases.deadlines import compute_due
    from yuqing.cases.models import Case, Deadline
    from yuqing.cases.plan import load_plan
    from yuqing.db import transaction
    from yuqing.org import service as org
    from yuqing.workcal.service import load_calendar

    rt = open_runtime(load_settings(database_url=f"sqlite:///{tmp}/sweep.db"), clock=lambda: NOW)
    plan = load_plan()
    calendar = load_calendar(rt)
    with transaction(rt.sessions) as session:
        unit = org.create_unit(session, "南京市人民政府", kind="government")
        office = org.add_person(session, "李办公室", unit.id)
        org.grant_role(session, office.id, "office", unit.id)
        case = Case(
            title="基准测试工单",
            unit_id=unit.id,
            stage="detected",
            grade_code="III",
            grade="较大",
            detected_at=NOW,
            known_at=NOW,
            opened_at=NOW,
            stage_changed_at=NOW,
        )
        session.add(case)
        session.flush()
        case_id, unit_id = case.id, unit.id
    arrivals = _arrivals(path, count)
    kinds = [("report", plan.duration("report", g)) for g in ("I", "II", "III", "IV")]
    kinds += [
        ("first_response", plan.duration("first_response", None)),
        ("formal_reply", plan.duration("formal_reply", None)),
    ]
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for i, at in enumerate(arrivals):
        kind, duration = kinds[i % len(kinds)]
        assert duration is not None
        due = compute_due(calendar, at, duration)
        # Old clocks were done long ago; the sweep sees the ones still running.
        state = "pending" if due.at > NOW - dt.timedelta(seconds=15) else "met"
        rows.append(
            {
                "case_id": case_id,
                "kind": kind,
                "unit_id": unit_id,
                "owner_role": "office",
                "rule": str(duration),
                "started_at": at,
                "due_at": due.at,
                "original_due_at": due.at,
                "state": state,
                "done_at": None if state == "pending" else due.at,
                "extended": False,
                "is_drill": False,
            }
        )
    compute_seconds = time.perf_counter() - started
    with transaction(rt.sessions) as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(Deadline), rows[start : start + 5000])
        # Top up to `count` open clocks, due from 2 minutes ago to 50 hours ahead: in a sweep
        # about 0.1% become overdue and 1% due soon, as in a busy office between two sweeps.
        open_count = (
            session.scalar(select(func.count()).select_from(Deadline).where(Deadline.state == "pending")) or 0
        )
        if open_count < count:
            extra = [
                {
                    **rows[i % len(rows)],
                    "state": "pending",
                    "done_at": None,
                    "due_at": NOW + dt.timedelta(minutes=i % 3000 - 2),
                    "original_due_at": NOW + dt.timedelta(minutes=i % 3000 - 2),
                }
                for i in range(count - open_count)
            ]
            for start in range(0, len(extra), 5000):
                session.execute(insert(Deadline), extra[start : start + 5000])
    return rt, compute_seconds / max(len(rows), 1)


def _reset(rt: Runtime) -> None:
    """Put the open clocks back as they were before the sweep, for the baseline."""
    from yuqing.cases.models import Deadline
    from yuqing.db import transaction

    with transaction(rt.sessions) as session:
        session.execute(
            update(Deadline).values(state="pending", escalated_at=None).where(Deadline.done_at.is_(None))
        )


def _measure(path: Path, count: int) -> dict[str, Any]:
    from yuqing.cases.followup import sweep_deadlines
    from yuqing.cases.models import Deadline

    with tempfile.TemporaryDirectory() as tmp:
        rt, per_due = _setup(tmp, path, count)
        with rt.sessions() as session:
            open_clocks = (
                session.scalar(select(func.count()).select_from(Deadline).where(Deadline.state == "pending"))
                or 0
            )
        t0 = time.perf_counter()
        first = sweep_deadlines(rt)
        first_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = sweep_deadlines(rt)
        second_seconds = time.perf_counter() - t0
        _reset(rt)
        t0 = time.perf_counter()
        baseline_moved = _baseline(rt)
        baseline_seconds = time.perf_counter() - t0
        rt.close()
    return {
        "open": open_clocks,
        "per_due_us": per_due * 1e6,
        "first": (first_seconds, first.as_dict()),
        "second": (second_seconds, second.as_dict()),
        "baseline": (baseline_seconds, baseline_moved),
    }


def _baseline(rt: Runtime) -> int:
    """Row by row: every open deadline loaded as an object, compared in Python, changed rows written."""
    from yuqing.cases.models import Deadline

    moved = 0
    soon = NOW + dt.timedelta(minutes=30)
    with rt.sessions() as session:
        for deadline in session.scalars(
            select(Deadline).where(Deadline.state.in_(("pending", "due_soon")))
        ).all():
            new = (
                "overdue"
                if deadline.due_at <= NOW
                else ("due_soon" if deadline.due_at <= soon else deadline.state)
            )
            if new != deadline.state:
                deadline.state = new
                session.commit()
                moved += 1
    return moved


def run(path: Path, *, count: int) -> str:
    result = run_isolated(_measure, path, count)
    first_s, first = result["first"]
    second_s, second = result["second"]
    base_s, base_moved = result["baseline"]
    table = format_table(
        ["run", "open deadlines", "ms", "due soon", "overdue", "escalated"],
        [
            [
                "yuqing sweep",
                result["open"],
                first_s * 1000,
                first["due_soon"],
                first["overdue"],
                first["escalated"],
            ],
            [
                "yuqing sweep again (idempotent)",
                result["open"],
                second_s * 1000,
                second["due_soon"],
                second["overdue"],
                second["escalated"],
            ],
            [
                "baseline: row by row (ORM objects, write per change)",
                result["open"],
                base_s * 1000,
                "-",
                base_moved,
                "-",
            ],
        ],
    )
    return (
        f"yuqing bench sweep — {result['open']:,} open deadlines "
        f"(started at the arrival times of {path.name}), SQLite\n\n"
        f"{table}\n\nworking-day clock: {result['per_due_us']:.1f} µs per due time computed\n"
        f"peak memory {result['peak_rss_mb']:.0f} MB; target: sweep under 1 s"
    )
