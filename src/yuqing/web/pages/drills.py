"""演练: the shipped scenarios and the drills run so far, with a form to create and start one; and
one drill watched as it runs — progress, the events, alerts and cases it produced, the injects,
its log, the live score — with 暂停 / 继续 / 结束 as the state table (`yuqing.drills.states`)
allows, and 「生成演练总结」.

Thin over the drills domain: the service changes states and lists, `yuqing.drills.report` gathers
what the watch page shows (the same data the 演练总结 is written from), and who may act is
`yuqing.web.api.drills`'s rule (办公室 or 管理员). The request never replays anything: the drill
worker of `yuqing serve` feeds a started drill at its speed, whether or not anyone watches."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yuqing.drills import service
from yuqing.drills.models import DrillRunner, DrillState
from yuqing.drills.report import drill_report_data
from yuqing.drills.states import TRANSITIONS
from yuqing.org.models import PermissionDenied
from yuqing.org.scope import scope_of
from yuqing.runtime import Runtime
from yuqing.web.api.drills import Action, change_drill, create_and_start, may_operate, record_creation
from yuqing.web.api.errors import error_status
from yuqing.web.api.reports import WRITERS
from yuqing.web.auth import User, current_user, verify_csrf
from yuqing.web.pages import queries
from yuqing.web.pages.common import act, render

CurrentUser = Annotated[User, Depends(current_user)]
# The buttons of the watch page, in the order shown (the state table decides which appear).
BUTTONS: tuple[tuple[str, str], ...] = (
    ("start", "开始"),
    ("pause", "暂停"),
    ("resume", "继续"),
    ("stop", "结束"),
)
# While the drill's clock can still move (or be moved), the watch page reloads its panel.
LIVE_STATES = frozenset({DrillState.RUNNING.value, DrillState.PAUSED.value})
REFRESH_SECONDS = 5
# The log lines the watch page shows, newest first (the 演练总结 has them all).
TIMELINE_LINES = 100
SPEEDS = (1, 2, 6, 12, 30, 60)


def span_text(seconds: float) -> str:
    """「45 分钟」, 「7.5 小时」: a scenario's time as people say it."""
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分钟"
    return f"{seconds / 3600:.1f} 小时"


def buttons_for(state: str) -> list[tuple[str, str]]:
    """The actions the state table allows from this state, as (action, button label)."""
    allowed = {action for (source, action) in TRANSITIONS if source == state and action != "finish"}
    return [(action, label) for action, label in BUTTONS if action in allowed]


def parse_speed(text: str) -> float:
    try:
        speed = float(text.strip())
    except ValueError:
        raise ValueError(f"倍速应为大于 0 的数，实为 {text!r}") from None
    if not math.isfinite(speed) or speed <= 0:
        raise ValueError(f"倍速应为大于 0 的数，实为 {text!r}")
    return speed


def progress(view: dict[str, Any]) -> dict[str, Any]:
    """The figures of the progress bars."""
    duration = float(view["scenario_duration_seconds"]) or 1.0
    elapsed = min(float(view["scenario_seconds"]), duration)
    speed = float(view["speed"])
    return {
        "posts_fed": view["posts_fed"],
        "posts_total": view["posts_total"],
        "elapsed": round(elapsed),
        "duration": round(duration),
        "elapsed_text": span_text(elapsed),
        "duration_text": span_text(duration),
        "real_duration_text": span_text(duration / speed),
        "percent": round(100 * elapsed / duration),
    }


def watch_context(rt: Runtime, drill_id: int, person_id: int) -> dict[str, Any]:
    """What the watch page shows (LookupError when there is no such drill or
    it belongs to a unit the person may not see)."""
    service.check_may_see(rt, drill_id, person_id)
    data = drill_report_data(rt, drill_id)
    view = data["drill"]
    with rt.sessions() as session:
        scope = scope_of(session, person_id)
        alerts = [
            row
            for alert_id in view["alerts"]
            for row in queries.alert_page(
                session, rt.settings.timezone, alert_id=alert_id, limit=1, scope=scope
            ).rows
        ]
    # Cases, and the alert and case lines of the timeline, of units the viewer may not see (a unit
    # above that took the alert over) are left out, as from every other list of cases.
    cases = [case for case in data["cases"] if scope.sees(case["unit_id"])]
    timeline = [line for line in data["timeline"] if line["unit_id"] is None or scope.sees(line["unit_id"])]
    injects = data["scenario"]["injects"]
    return {
        "drill": view,
        "scenario": data["scenario"],
        "participants": data["participants"],
        "events": data["events"],
        "alerts": alerts,
        "cases": cases,
        "score": data["score"],
        "progress": progress(view),
        "buttons": buttons_for(view["state"]),
        "live": view["state"] in LIVE_STATES,
        "refresh_seconds": REFRESH_SECONDS,
        "delivered": [line for line in timeline if line["kind"] == "inject"],
        "upcoming": injects[view["injects_fed"] :],
        "timeline": list(reversed(timeline))[:TIMELINE_LINES],
        "timeline_total": len(timeline),
        "served": view["runner"] == DrillRunner.SERVER.value,
    }


def scenario_rows() -> list[dict[str, Any]]:
    return [
        {
            **s,
            "duration_text": span_text(s["duration_seconds"]),
            "hours": round(s["duration_seconds"] / 3600, 1),
        }
        for s in service.list_scenarios()
    ]


def drill_rows(rt: Runtime, person_id: int) -> list[dict[str, Any]]:
    """The drills of the units the person sees, each with its score once the drill has raised an
    alert (before, nothing is timed)."""
    rows = []
    for view in service.list_drills(rt, actor=person_id):
        scored = service.score_drill(rt, view["id"]) if view["alerts"] else None
        rows.append({**view, "score": scored})
    return rows


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def list_page(
        request: Request,
        user: User,
        *,
        error: str | None = None,
        code: int = 200,
        form: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        with rt.sessions() as session:
            # only those the drill may exercise: another unit's people are refused on creation
            eligible = service.eligible_participants(session, user.person_id)
            people = [p for p in queries.people_with_roles(session) if p["active"] and p["id"] in eligible]
        context = {
            "scenarios": scenario_rows(),
            "drills": drill_rows(rt, user.person_id),
            "people": people,
            "speeds": SPEEDS,
            "may_operate": may_operate(user),
            "form": form or {"speed": "1", "participants": []},
            "error": error,
        }
        return render(request, rt, user, "drills.html", context, active="drills", status_code=code)

    def watch_page(
        request: Request, user: User, drill_id: int, *, error: str | None = None, code: int = 200
    ) -> HTMLResponse:
        try:
            context = watch_context(rt, drill_id, user.person_id)
        except (LookupError, PermissionDenied) as exc:
            # A refused action on a drill one may not see: its own reason, else why it is not shown.
            shown = {"message": error or str(exc)}
            status = code if error else error_status(exc)
            return render(request, rt, user, "error.html", shown, status_code=status)
        context |= {
            "error": error,
            "may_operate": may_operate(user),
            "may_report": user.holds(*WRITERS),
        }
        return render(request, rt, user, "drill.html", context, active="drills", status_code=code)

    @router.get("/drills", response_class=HTMLResponse)
    def drill_list(request: Request, user: CurrentUser) -> HTMLResponse:
        return list_page(request, user)

    @router.post("/drills", dependencies=[Depends(verify_csrf)])
    def drill_create(
        request: Request,
        user: CurrentUser,
        scenario: Annotated[str, Form()] = "",
        speed: Annotated[str, Form()] = "1",
        participants: Annotated[list[str] | None, Form()] = None,
        allow_external: Annotated[str, Form()] = "",
    ) -> Response:
        people = [p.strip() for p in participants or [] if p.strip()]
        outside = allow_external == "1"
        form = {"scenario": scenario, "speed": speed, "participants": people, "allow_external": outside}
        detail = {"scenario": scenario, "speed": speed, "participants": people, "allow_external": outside}
        try:
            view = record_creation(
                rt,
                user,
                request,
                detail,
                lambda: create_and_start(
                    rt,
                    user,
                    scenario=scenario,
                    speed=parse_speed(speed),
                    participants=people,
                    allow_external=outside,
                    via="web",
                ),
            )
        except (ValueError, LookupError) as exc:
            return list_page(request, user, error=str(exc), code=error_status(exc), form=form)
        return RedirectResponse(f"/drills/{view['id']}?done=drill_start", status_code=303)

    @router.get("/drills/{drill_id}", response_class=HTMLResponse)
    def drill_show(request: Request, user: CurrentUser, drill_id: int) -> HTMLResponse:
        return watch_page(request, user, drill_id)

    @router.get("/drills/{drill_id}/panel", response_class=HTMLResponse)
    def drill_panel(request: Request, user: CurrentUser, drill_id: int) -> HTMLResponse:
        """The watch page's live part alone: what the page reloads every few seconds while the
        drill runs or is paused."""
        try:
            context = watch_context(rt, drill_id, user.person_id)
        except (LookupError, PermissionDenied) as exc:
            return render(
                request,
                rt,
                user,
                "_message.html",
                {"error": str(exc), "unread": 0},
                status_code=error_status(exc),
            )
        context |= {"unread": 0, "may_operate": may_operate(user)}
        return render(request, rt, user, "_drill_panel.html", context)

    @router.post("/drills/{drill_id}/{action}", dependencies=[Depends(verify_csrf)])
    def drill_change(request: Request, user: CurrentUser, drill_id: int, action: Action) -> Response:
        return act(
            request,
            rt,
            user,
            action=f"drill.{action}",
            target=f"drill:{drill_id}",
            call=lambda: change_drill(rt, user, drill_id, action, "web"),
            done=f"drill_{action}",
            redirect_to=f"/drills/{drill_id}",
            on_error=lambda message, status: watch_page(request, user, drill_id, error=message, code=status),
        )

    return router
