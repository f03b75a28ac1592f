"""事件: the list (by grade and status, newest activity first) and one event with its grade and the
reasons, keywords, trend, sentiment, sites, posts and case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.alerts.jurisdiction import WATCH_ONLY, locate
from yuqing.alerts.models import Alert
from yuqing.analysis import queries as analysis_queries
from yuqing.analysis.grading import GRADE_ORDER, official_rebuttal, rebutted_after_grading
from yuqing.analysis.metrics import FLAG_LABELS
from yuqing.analysis.models import Event, Topic
from yuqing.cases.models import Case, Stage
from yuqing.cases.plan import load_plan
from yuqing.cases.service import OPENERS, event_alert, grade_note_for, may_act
from yuqing.drills.access import sees_drill
from yuqing.org.models import Unit
from yuqing.org.scope import EVERYTHING, scope_of
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user
from yuqing.web.pages import queries
from yuqing.web.pages.common import pager, render

CurrentUser = Annotated[User, Depends(current_user)]
ENTITY_LABELS = {
    "place": "地点",
    "hospital": "医院",
    "school": "学校",
    "company": "企业",
    "office": "机关",
    "person": "人物",
}
STATUS_CHOICES = (("open", "进行中"), ("closed", "已平息"), ("", "全部"))
GRADE_CHOICES = (("", "全部"), ("graded", "已定级"), *((c, queries.GRADE_NAMES[c]) for c in queries.GRADES))


def not_found(request: Request, rt: Runtime, user: User, message: str) -> HTMLResponse:
    return render(request, rt, user, "error.html", {"message": message}, status_code=404)


def event_context(
    rt: Runtime, event_id: int, *, offset: int = 0, person_id: int | None = None
) -> dict[str, Any] | None:
    """The event page; its alerts and cases only those of units the person may see."""
    zone = rt.settings.timezone
    with rt.sessions() as session:
        scope = EVERYTHING if person_id is None else scope_of(session, person_id)
        row = session.execute(
            select(Event, Topic.name).outerjoin(Topic, Topic.id == Event.topic_id).where(Event.id == event_id)
        ).first()
        if row is None or not sees_drill(session, scope, row[0].drill_id):
            return None  # a drill's event is read only by those who may see the drill
        event, topic = row
        metrics = dict(event.metrics or {})
        hourly = list(metrics.get("hourly") or [])
        posts = queries.event_posts(session, event_id, zone, limit=20, offset=offset)
        cases = queries.cases_of_event(session, event_id, scope)
        alerts = queries.alert_page(session, zone, event_id=event_id, limit=20, scope=scope).rows
        elsewhere = _elsewhere(rt, session, event)
        return {
            "event": {
                "id": event.id,
                "title": event.title,
                "topic": topic,
                "grade_code": event.grade_code,
                "grade": event.grade,
                "reasons": event.reasons or [],
                "graded_at": queries.iso(event.graded_at, zone),
                "keywords": event.keywords or [],
                "first_seen": queries.iso(event.first_seen, zone),
                "last_seen": queries.iso(event.last_seen, zone),
                "status": event.status,
                "posts": event.post_count,
                "grade_set_by": event.grade_set_by,
                "grade_note": grade_note_for(session, event, scope),
                "system_grade": queries.GRADE_NAMES.get(event.system_grade_code or "", None),
                "rebutted": rebutted_after_grading(metrics, event.reasons or []),
                "rebuttal": official_rebuttal(metrics, event.reasons or []),
            },
            "metrics": metrics,
            "flags": [
                {"label": FLAG_LABELS.get(k, k), "count": v} for k, v in (metrics.get("flags") or {}).items()
            ],
            # a post without a link is counted under its platform's code: shown by name
            "sites": [queries.PLATFORM_LABELS.get(x, x) for x in list(metrics.get("site_list") or [])[:50]],
            "site_total": len(metrics.get("site_list") or []),
            "platforms": [
                {"label": queries.PLATFORM_LABELS.get(k, k), "count": v}
                for k, v in sorted((metrics.get("platform_counts") or {}).items(), key=lambda kv: -kv[1])
            ],
            "regions": list(metrics.get("region_list") or []),
            "entities": [
                {**e, "label": ENTITY_LABELS.get(str(e.get("kind")), str(e.get("kind")))}
                for e in (event.entities or [])[:8]
            ],
            "trend": {
                "hours": [str(p.get("hour", ""))[5:16].replace("T", " ") for p in hourly],
                "posts": [int(p.get("posts", 0)) for p in hourly],
                "negative_share": [
                    round(100 * int(p.get("negative", 0)) / int(p["posts"]), 1) if p.get("posts") else None
                    for p in hourly
                ],
            },
            "sentiment": queries.sentiment_mix(session, event_id),
            "hot_lists": analysis_queries.hot_list_summary(session, event_id, zone),
            "hot_ranks": analysis_queries.hot_list_rows(session, event_id, zone, limit=50),
            "posts": posts,
            "cases": [
                {"id": c.id, "stage": c.stage, "stage_label": Stage(c.stage).label, "grade": c.grade}
                for c in cases
            ],
            "open_case": next((c.id for c in cases if c.stage != "closed"), None),
            # the newest closed case (cases come newest first): a flare-up reopens it (舆情反复)
            "closed_case": next((c.id for c in cases if c.stage == "closed"), None),
            "alerts": alerts,
            # graded long after its last post: no alert until enough new posts make it active
            "quiet_hours": rt.settings.alert_max_quiet_hours
            if event.alert_held_at is not None
            and not event.alert_held_elsewhere
            and elsewhere is None
            and rt.settings.alert_max_quiet_hours
            else None,
            "revival_posts": load_plan(rt.settings.plan_profile or None).flare_up_posts,
            # located plainly elsewhere: graded and watched, no alert (属地管理)
            "elsewhere": elsewhere,
            "no_alert": _no_alert(rt, session, event) if elsewhere is None else None,
            "not_ours": None if person_id is None or cases else _not_ours(session, event, person_id),
            # the same story told before (a rumour coming back): its earlier handling
            "earlier": [
                {
                    "id": e.id,
                    "title": e.title,
                    "first_seen": queries.iso(e.first_seen, zone),
                    "grade": e.grade,
                    "cases": [c.id for c in queries.cases_of_event(session, e.id, scope)],
                }
                for e in analysis_queries.earlier_events(session, event.id)
            ],
        }


def _not_ours(session: Session, event: Event, person_id: int) -> str | None:
    """Why the person may not open a case on the event, when its alert or its routing names a
    unit neither theirs nor below theirs (one unit does not take another's alert): the page says
    so instead of offering a button that would refuse."""
    from yuqing.alerts.service import route

    alert = event_alert(session, event.id)
    unit = session.get(Unit, alert.unit_id) if alert is not None else route(session, event)
    if unit is None or may_act(session, person_id, unit.id, OPENERS):
        return None
    return f"本事件的责任单位为{unit.name}，工单由该单位或其上级单位开立；如与本单位有关，请与其联系。"


def _no_alert(rt: Runtime, session: Session, event: Event) -> str | None:
    """Why a graded event raised no alert, when the page has no other note to say so: no unit
    answers for it, its grade is below the unit's alert threshold, or its alert is about to be
    raised. None when it raised one (for any unit), has a case, is held as old, or is ungraded."""
    from yuqing.alerts.service import route

    if event.grade_code is None or event.is_drill or event.alert_held_at is not None:
        return None
    if session.scalar(select(Alert.id).where(Alert.event_id == event.id).limit(1)) is not None:
        return None
    if session.scalar(select(Case.id).where(Case.event_id == event.id).limit(1)) is not None:
        return None
    unit = route(session, event)
    if unit is None:
        return (
            "已定级但未发预警：该事件的专题未指定责任单位，也无法从涉及的单位或地域确定责任单位"
            "（可在「专题」中为专题指定责任单位）。"
        )
    threshold = unit.alert_threshold or "IV"
    if GRADE_ORDER.get(event.grade_code, 0) < GRADE_ORDER.get(threshold, 1):
        return (
            f"已定级但未发预警：{unit.name}的预警起点为{queries.GRADE_NAMES.get(threshold, threshold)}，"
            f"{event.grade or ''}事件只定级、不发预警。"
        )
    return f"预警将在后台下一轮处置任务中向{unit.name}发出。"


def _elsewhere(rt: Runtime, session: Session, event: Event) -> str | None:
    """Where the event is, when that is plainly outside every unit's places and it raised no alert."""
    if rt.settings.alert_outside_regions or event.grade_code is None or event.is_drill:
        return None
    if session.scalar(select(Alert.id).where(Alert.event_id == event.id).limit(1)) is not None:
        return None
    if session.scalar(select(Case.id).where(Case.event_id == event.id).limit(1)) is not None:
        return None  # a unit took it up all the same
    where = locate(session, event, held=bool(event.alert_held_elsewhere))
    return f"{where.note}。{WATCH_ONLY}。" if where.outside else None


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/events", response_class=HTMLResponse)
    def event_list(
        request: Request,
        user: CurrentUser,
        status: str = "open",
        grade: str = "",
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> HTMLResponse:
        status = status if status in {s for s, _ in STATUS_CHOICES} else "open"
        grade = grade if grade in {g for g, _ in GRADE_CHOICES} else ""
        with rt.sessions() as session:
            page = queries.event_page(
                session,
                rt.settings.timezone,
                status=status or None,
                grade=grade or None,
                offset=offset,
                mark_elsewhere=not rt.settings.alert_outside_regions,
            )
        context = {
            "page": page,
            "status": status,
            "grade": grade,
            "status_choices": STATUS_CHOICES,
            "grade_choices": GRADE_CHOICES,
            "next_url": pager(request, page.next_offset),
            "previous_url": pager(request, page.previous_offset),
        }
        return render(request, rt, user, "events.html", context, active="events")

    @router.get("/events/{event_id}", response_class=HTMLResponse)
    def event_detail(
        request: Request, event_id: int, user: CurrentUser, offset: Annotated[int, Query(ge=0)] = 0
    ) -> HTMLResponse:
        context = event_context(rt, event_id, offset=offset, person_id=user.person_id)
        if context is None:
            return not_found(request, rt, user, f"找不到事件 {event_id}")
        page = context["posts"]
        context["next_url"] = pager(request, page.next_offset)
        context["previous_url"] = pager(request, page.previous_offset)
        return render(request, rt, user, "event.html", context, active="events")

    return router
