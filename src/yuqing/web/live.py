"""`GET /live`: server-sent events for the console — a new or re-opened alert (`event: alert`)
and a deadline changing state (`event: deadline`: due soon, overdue, met, missed).

Each connection polls the database every few seconds (in the thread pool) and remembers what it
has sent, keyed by ids, so nothing is sent twice on one connection. Alerts are new when they were
raised or merged into after `since` (the page's server time, or the `Last-Event-ID` the browser
sends when it reconnects); deadlines are compared with their state when the connection opened.
Each person hears of the alerts and case clocks of the units they may see (`yuqing.org.scope`),
as on the alert and case lists. A comment line every 15 seconds keeps proxies from closing an
idle stream; the stream ends when the browser goes away.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from yuqing.alerts.models import Alert, AlertStatus
from yuqing.cases.models import Case, Deadline, DeadlineState
from yuqing.cases.service import deadline_view
from yuqing.org.models import Unit
from yuqing.org.scope import EVERYTHING, Scope, scope_of
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user

# States worth a notice; `pending` and `cancelled` are not.
NOTICE_STATES = (
    DeadlineState.DUE_SOON.value,
    DeadlineState.OVERDUE.value,
    DeadlineState.MET.value,
    DeadlineState.MISSED.value,
)
_RUNNING = (DeadlineState.DUE_SOON.value, DeadlineState.OVERDUE.value)
_DONE = (DeadlineState.MET.value, DeadlineState.MISSED.value)
# How far behind the clock the cursor stays: a transaction that began before a poll and committed
# after it still has its rows found by the next one (the sent keys stop repeats).
_LAG = dt.timedelta(minutes=2)
# A page left open over a weekend does not replay days of alerts when its stream reconnects.
_MAX_BACK = dt.timedelta(hours=1)


@dataclass(frozen=True)
class LiveTiming:
    """How often a stream polls and sends a heartbeat, and when it ends: the browser reconnects
    at once (`Last-Event-ID` carries on where it left off), and a server shutting down, which
    waits for open responses, never waits longer than this for a stream (tests shorten it)."""

    poll_seconds: float = 2.0
    heartbeat_seconds: float = 15.0
    max_seconds: float | None = 60.0


@dataclass
class LiveFeed:
    """What one connection has seen. `prime()` once, then `poll()` returns what is new."""

    rt: Runtime
    since: dt.datetime
    # The units whose alerts and case clocks this person may see (`yuqing.org.scope`).
    scope: Scope = EVERYTHING
    sent_alerts: set[tuple[int, int]] = field(default_factory=set)
    deadline_states: dict[int, str] = field(default_factory=dict)
    # The clock at the last poll: a reconnecting stream starts from here (its `Last-Event-ID`).
    polled_at: dt.datetime | None = None

    def prime(self) -> None:
        """Remember the running clocks' states as they are: only later changes are news. A clock
        that turned due soon or overdue after `since` (told by its due time: the sweep moves it
        then) is news all the same, so a reconnecting stream misses nothing."""
        from yuqing.cases.plan import load_plan

        soon = dt.timedelta(minutes=load_plan(self.rt.settings.plan_profile or None).due_soon_minutes)
        with self.rt.sessions() as session:
            rows = session.execute(
                select(Deadline.id, Deadline.state, Deadline.due_at).where(Deadline.state.in_(_RUNNING))
            )
            for row in rows:
                turned = row.due_at if row.state == DeadlineState.OVERDUE.value else row.due_at - soon
                if turned <= self.since:
                    self.deadline_states[row.id] = row.state

    def poll(self) -> list[tuple[str, dict[str, Any]]]:
        """(event name, data) for each alert and deadline change not yet sent on this connection."""
        now = self.rt.clock()
        zone = self.rt.settings.timezone
        out: list[tuple[str, dict[str, Any]]] = []
        with self.rt.sessions() as session:
            alerts = session.execute(
                select(Alert, Unit.name)
                .join(Unit, Unit.id == Alert.unit_id)
                .where(
                    Alert.status == AlertStatus.OPEN.value,
                    Alert.updated_at > self.since,
                    self.scope.where(Alert.unit_id),
                )
                .order_by(Alert.updated_at, Alert.id)
            )
            for alert, unit_name in alerts:
                key = (alert.id, alert.repeats)
                if key in self.sent_alerts:
                    continue
                self.sent_alerts.add(key)
                out.append(
                    (
                        "alert",
                        {
                            "id": alert.id,
                            "grade": alert.grade,
                            "grade_code": alert.grade_code,
                            "title": alert.title,
                            "unit": unit_name,
                            "kind": alert.kind,
                            "repeats": alert.repeats,
                            "is_drill": alert.is_drill,
                        },
                    )
                )
            deadlines = session.execute(
                select(Deadline, Case.title, Unit.name)
                .join(Case, Case.id == Deadline.case_id)
                .join(Unit, Unit.id == Deadline.unit_id)
                .where(
                    Deadline.state.in_(_RUNNING)
                    | (Deadline.state.in_(_DONE) & (Deadline.done_at > self.since)),
                    self.scope.where(Case.unit_id),
                )
                .order_by(Deadline.id)
            )
            for deadline, case_title, unit_name in deadlines:
                if self.deadline_states.get(deadline.id) == deadline.state:
                    continue
                self.deadline_states[deadline.id] = deadline.state
                view = deadline_view(deadline, zone, {deadline.unit_id: unit_name})
                out.append(
                    (
                        "deadline",
                        {
                            "id": deadline.id,
                            "case_id": deadline.case_id,
                            "case_title": case_title,
                            "unit": unit_name,
                            "kind": deadline.kind,
                            "label": view["label"],
                            "state": deadline.state,
                            "state_label": view["state_label"],
                            "due_at": view["due_at"],
                        },
                    )
                )
        self.since = max(self.since, now - _LAG)
        self.polled_at = now
        return out


def format_event(name: str, data: dict[str, Any], event_id: str | None = None) -> str:
    """One server-sent event; the data is one line of JSON (no raw newlines can break the frame)."""
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def parse_since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        found = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return found.replace(tzinfo=dt.UTC) if found.tzinfo is None else found.astimezone(dt.UTC)


async def stream(request: Request, feed: LiveFeed, timing: LiveTiming) -> AsyncIterator[str]:
    """The event stream of one connection, until the browser leaves (or `max_seconds`)."""
    started = time.monotonic()
    yield "retry: 2000\n: connected\n\n"
    await run_in_threadpool(feed.prime)
    last_beat = time.monotonic()
    next_poll = 0.0
    step = min(0.5, timing.poll_seconds)
    while True:
        if await request.is_disconnected():
            return
        now = time.monotonic()
        if timing.max_seconds is not None and now - started >= timing.max_seconds:
            return
        if now >= next_poll:
            events = await run_in_threadpool(feed.poll)
            next_poll = time.monotonic() + timing.poll_seconds
            cursor = (feed.polled_at or feed.since).isoformat()
            for name, data in events:
                yield format_event(name, data, cursor)
            if not events:
                yield f"id: {cursor}\n\n"  # where a reconnect carries on, though nothing was new
        if time.monotonic() - last_beat >= timing.heartbeat_seconds:
            last_beat = time.monotonic()
            yield ": heartbeat\n\n"
        await asyncio.sleep(step)


def _scope(rt: Runtime, user: User) -> Scope:
    with rt.sessions() as session:
        return scope_of(session, user.person_id)


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/live")
    async def live(
        request: Request,
        user: Annotated[User, Depends(current_user)],
        since: Annotated[str | None, Query()] = None,
    ) -> StreamingResponse:
        # A reconnecting EventSource says where it got to; a fresh page says when it was drawn.
        now = rt.clock()
        start = parse_since(request.headers.get("last-event-id")) or parse_since(since) or now
        start = min(max(start, now - _MAX_BACK), now)
        timing: LiveTiming = getattr(request.app.state, "live_timing", None) or LiveTiming()
        feed = LiveFeed(rt, start, await run_in_threadpool(_scope, rt, user))
        return StreamingResponse(
            stream(request, feed, timing),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
