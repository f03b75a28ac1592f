"""总览: active events by grade, the volume and negative share of the last 72 hours, alerts
awaiting acknowledgement, clocks running out, cases by stage; `?screen=1` is the wall display."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.analysis.models import Event, PostAnalysis
from yuqing.cases.models import STAGE_LABELS
from yuqing.org.scope import EVERYTHING, scope_of
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user
from yuqing.web.pages import queries
from yuqing.web.pages.common import render

CurrentUser = Annotated[User, Depends(current_user)]


class SeriesCache:
    """The 72-hour series, kept between requests while the events have not changed.

    The series is the dashboard's one heavy read (the hourly series of every event active in the
    window), and wall displays ask for it every 15 seconds. The events' hourly series only change
    when the pipeline analyses posts, so two primary-key lookups tell whether it can have changed
    — the newest event, the newest analysed post — and a new hour always starts a new series.
    Exact, never stale: while the pipeline is adding posts it is recomputed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[Any, ...], dict[str, Any]] | None = None

    @staticmethod
    def key(session: Session, now: dt.datetime, zone: str) -> tuple[Any, ...]:
        newest_event = session.scalar(select(func.max(Event.id)))
        newest_post = session.scalar(select(func.max(PostAnalysis.post_id)))
        return (now.replace(minute=0, second=0, microsecond=0), zone, newest_event, newest_post)

    def get(self, session: Session, now: dt.datetime, zone: str) -> dict[str, Any]:
        key = self.key(session, now, zone)
        with self._lock:
            entry = self._entry
        if entry is not None and entry[0] == key:
            return entry[1]
        series = queries.volume_series(session, now, zone)
        with self._lock:
            self._entry = (key, series)
        return series


def dashboard_data(rt: Runtime, cache: SeriesCache, user: User | None = None) -> dict[str, Any]:
    """The panels; alerts, clocks and cases only of the units the user may see (all without one)."""
    zone = rt.settings.timezone
    with rt.sessions() as session:
        scope = EVERYTHING if user is None else scope_of(session, user.person_id)
        grades = queries.active_grade_counts(session)
        elsewhere = {} if rt.settings.alert_outside_regions else queries.active_elsewhere_counts(session)
        stages = queries.cases_by_stage(session, scope)
        return {
            "grades": [
                {
                    "code": code,
                    "name": queries.GRADE_NAMES[code],
                    "count": grades[code],
                    "elsewhere": elsewhere.get(code, 0),
                }
                for code in queries.GRADES
            ],
            "series": cache.get(session, rt.clock(), zone),
            "alerts": _with_report_due(
                rt, queries.alert_page(session, zone, status="open", limit=10, scope=scope).rows
            ),
            "deadlines": queries.upcoming_deadlines(session, zone, limit=10, scope=scope),
            "stages": [{"stage": s, "label": STAGE_LABELS[s], "count": n} for s, n in stages.items()],
        }


def _with_report_due(rt: Runtime, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each alert with no case yet carries the plan's report-up time, counted from the alert (the
    clock a case would start with): the 1-hour clock of a 特别重大 runs before anyone opens one."""
    from yuqing.web.pages.alerts import report_due

    now = rt.clock()
    for alert in alerts:
        alert["report_due"] = None if alert["case_id"] or alert["is_drill"] else report_due(rt, alert, now)
    return alerts


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cache = SeriesCache()

    @router.get("/", response_class=HTMLResponse)
    def dashboard(
        request: Request, user: CurrentUser, screen: Annotated[bool, Query()] = False
    ) -> HTMLResponse:
        context = {"screen": screen, **dashboard_data(rt, cache, user)}
        return render(request, rt, user, "dashboard.html", context, active="dashboard")

    @router.get("/dashboard/panels", response_class=HTMLResponse)
    def panels(request: Request, user: CurrentUser, screen: Annotated[bool, Query()] = False) -> HTMLResponse:
        """The dashboard's panels alone: what the wall display reloads every 15 seconds."""
        context = {"screen": screen, "unread": 0, **dashboard_data(rt, cache, user)}
        return render(request, rt, user, "dashboard_panels.html", context)

    return router
