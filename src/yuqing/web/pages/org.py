"""组织与人员: the unit tree, who is on duty for each unit now (and whether it is on 24-hour duty),
people with their roles; 信息源 (with the post search) is a read-only list here too (专题 has its
own module, `topics`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from yuqing.ingest import queries as ingest_queries
from yuqing.org import duty
from yuqing.org.service import tree_view
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user
from yuqing.web.pages import queries
from yuqing.web.pages.common import render
from yuqing.workcal.service import load_calendar

CurrentUser = Annotated[User, Depends(current_user)]
# The duty question is asked per unit; a very large tree shows the first units only.
MAX_DUTY_UNITS = 200


def flatten(nodes: list[dict[str, Any]], depth: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for node in nodes:
        out.append({**node, "depth": depth})
        out.extend(flatten(node["children"], depth + 1))
    return out


def duty_now(rt: Runtime, session: Session, units: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    now = rt.clock()
    calendar = load_calendar(rt)
    found: dict[int, dict[str, Any]] = {}
    for unit in units[:MAX_DUTY_UNITS]:
        answer = duty.duty_at(session, unit["id"], now, is_working_time=calendar.is_working_time)
        found[unit["id"]] = {
            "people": [p.name for p in answer.people],
            "answered_by": answer.unit.name if answer.unit else None,
            "inherited": answer.unit is not None and answer.unit.id != unit["id"],
            "round_the_clock": answer.round_the_clock,
            "reasons": [p.reason for p in answer.periods],
        }
    return found


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/org", response_class=HTMLResponse)
    def organisation(request: Request, user: CurrentUser) -> HTMLResponse:
        with rt.sessions() as session:
            units = flatten(tree_view(session))
            on_duty = duty_now(rt, session, units)
            people = queries.people_with_roles(session)
        context = {
            "units": units,
            "on_duty": on_duty,
            "people": people,
            "truncated": len(units) > MAX_DUTY_UNITS,
            "at": rt.clock(),
        }
        return render(request, rt, user, "org.html", context, active="org")

    @router.get("/sources", response_class=HTMLResponse)
    def source_list(request: Request, user: CurrentUser) -> HTMLResponse:
        context = {"sources": ingest_queries.list_sources(rt)}
        return render(request, rt, user, "sources.html", context, active="sources")

    @router.get("/posts", response_class=HTMLResponse)
    def post_search(
        request: Request,
        user: CurrentUser,
        q: str = "",
        source: Annotated[int | None, Query()] = None,
        before: Annotated[int | None, Query(ge=1)] = None,
    ) -> HTMLResponse:
        q = q.strip()[:100]
        with rt.sessions() as session:
            names = queries.source_names(session)
            result = (
                queries.search_posts(session, rt.settings.timezone, q, before=before, source_id=source)
                if q
                else None
            )
        more = None
        if result is not None and result.continue_before is not None:
            params: dict[str, Any] = {"q": q, "before": result.continue_before}
            if source is not None:
                params["source"] = source
            more = "/posts?" + urlencode(params)
        context = {"q": q, "source": source, "sources": names, "result": result, "more_url": more}
        return render(request, rt, user, "posts.html", context, active="sources")

    return router
