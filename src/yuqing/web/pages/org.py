"""组织与人员: the unit tree, who is on duty for each unit now (and whether it is on 24-hour duty),
people with their roles; 信息源 (with the post search) is a read-only list here too (专题 has its
own module, `topics`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from yuqing.ingest import queries as ingest_queries
from yuqing.org import duty
from yuqing.org.scope import Scope, scope_of
from yuqing.org.service import tree_view
from yuqing.runtime import Runtime
from yuqing.web.auth import User, audit, current_user, verify_csrf
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


def duty_now(
    rt: Runtime, session: Session, units: list[dict[str, Any]], scope: Scope
) -> dict[int, dict[str, Any]]:
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
            "reasons": [duty.reason_seen(p, scope) for p in answer.periods],
        }
    return found


DEAD_LETTERS_SHOWN = 200
_STAGES = {
    "ingest.fetch": "采集",
    "ingest.receive": "接收推送",
    "ingest.parse": "解析",
    "ingest.prepare": "整理",
    "ingest.store": "入库",
    "ingest.normalise": "整理",
    "ingest.extract": "提取正文",
    "ingest.map": "字段映射",
    "analysis": "分析",
}


def _where(location: str | None) -> str:
    """「第 3 行」 for `line=3`, 「第 5 条」 for `item=5`, 「推送内容」 for `body`; else as stored."""
    if not location:
        return ""
    kind, _, number = location.partition("=")
    if number.isdigit() and kind in ("line", "item", "row"):
        return f"第 {number} {'行' if kind in ('line', 'row') else '条'}"
    return "推送内容" if location == "body" else location


def _scope(rt: Runtime, user: User) -> Scope:
    with rt.sessions() as session:
        return scope_of(session, user.person_id)


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/org", response_class=HTMLResponse)
    def organisation(request: Request, user: CurrentUser) -> HTMLResponse:
        with rt.sessions() as session:
            units = flatten(tree_view(session))
            on_duty = duty_now(rt, session, units, scope_of(session, user.person_id))
            people = queries.people_with_roles(session)
        context = {
            "units": units,
            "on_duty": on_duty,
            "people": people,
            "truncated": len(units) > MAX_DUTY_UNITS,
            "at": rt.clock(),
        }
        return render(request, rt, user, "org.html", context, active="org")

    def sources_page(
        request: Request,
        user: User,
        *,
        error: str | None = None,
        created: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        code: int = 200,
    ) -> HTMLResponse:
        from yuqing.ingest.connectors.rsshub import PRESETS
        from yuqing.ingest.models import PLATFORM_NAMES, SOURCE_KIND_NAMES

        context = {
            "sources": ingest_queries.list_sources(rt, scope=_scope(rt, user)),
            "dead_letters": ingest_queries.dead_letter_counts(rt),
            "can_add": user.is_admin,
            "presets": PRESETS,
            "bridges": rt.settings.bridge_instances,
            "platforms": PLATFORM_NAMES,
            "kinds": SOURCE_KIND_NAMES,
            "error": error,
            "created": created,
            "form": form or {},
        }
        return render(request, rt, user, "sources.html", context, active="sources", status_code=code)

    @router.get("/sources", response_class=HTMLResponse)
    def source_list(request: Request, user: CurrentUser) -> HTMLResponse:
        return sources_page(request, user)

    @router.get("/deadletters", response_class=HTMLResponse)
    def dead_letters(
        request: Request,
        user: CurrentUser,
        source: Annotated[str | None, Query(max_length=200)] = None,
        run: Annotated[int | None, Query(ge=1)] = None,
    ) -> HTMLResponse:
        """What could not be stored (a broken feed item, a bad line of a file, a refused push), with
        why and where, newest first; of one source or one collection run."""
        from yuqing.ingest.errors import SourceNotFound

        error = None
        try:
            letters = ingest_queries.list_dead_letters(
                rt, limit=DEAD_LETTERS_SHOWN, source=source or None, run=run, scope=_scope(rt, user)
            )
        except SourceNotFound as exc:
            letters, error = [], str(exc)
        context = {
            "letters": [
                {**d, "where": _where(d["location"]), "stage_label": _STAGES.get(d["stage"], d["stage"])}
                for d in letters
            ],
            "source": source or "",
            "run": run,
            "shown": DEAD_LETTERS_SHOWN,
            "error": error,
        }
        return render(
            request,
            rt,
            user,
            "deadletters.html",
            context,
            active="sources",
            status_code=404 if error else 200,
        )

    @router.post("/sources", dependencies=[Depends(verify_csrf)], response_class=HTMLResponse)
    def source_add(
        request: Request,
        user: CurrentUser,
        kind: Annotated[str, Form(max_length=20)],
        name: Annotated[str, Form(max_length=200)],
        url: Annotated[str, Form(max_length=2000)] = "",
        platform: Annotated[str, Form(max_length=20)] = "",
        media_tier: Annotated[str, Form(max_length=20)] = "other",
        schedule: Annotated[str, Form(max_length=100)] = "",
        instance: Annotated[str, Form(max_length=500)] = "",
        key: Annotated[str, Form(max_length=500)] = "",
        auth: Annotated[str, Form(max_length=10)] = "code",
        include: Annotated[str, Form(max_length=500)] = "",
        exclude: Annotated[str, Form(max_length=500)] = "",
    ) -> HTMLResponse:
        """An administrator adds a source; a webhook's token is shown this once. The access key of
        an RSSHub instance is stored and never shown again (nor audited). A WeWe RSS 公众号 feed
        is an RSS source on the wechat platform with WeWe's own title filters."""
        from yuqing.ingest import service as ingest_service
        from yuqing.ingest.connectors import rsshub, wewe
        from yuqing.ingest.errors import IngestError
        from yuqing.ingest.schedule import ScheduleError

        form = {
            "kind": kind,
            "name": name,
            "url": url,
            "platform": platform,
            "media_tier": media_tier,
            "schedule": schedule,
            "instance": instance,
            "auth": auth,
            "include": include,
            "exclude": exclude,
        }
        if not user.is_admin:
            return sources_page(request, user, error="只有管理员可以添加信息源", form=form, code=403)
        config: dict[str, Any] = {}
        target: str | None = url.strip() or None
        try:
            if not name.strip():
                raise ValueError("请填写信息源名称")
            if kind == "rsshub":
                spec = url.strip()
                if spec.startswith("/"):
                    route = spec
                else:
                    preset, _, value = spec.partition(":")
                    route = rsshub.preset_route(preset, value or None)
                config = {"instance": instance.strip(), "route": route}
                if key:
                    config.update(access_key=key, auth=auth)
                target = None
            elif kind == "wewe":
                target = wewe.feed_url(instance, url.strip() or "all", include, exclude)
                kind, platform = "rss", platform or "wechat"
                config = {"bridge": "wewe", "instance": wewe.instance_of(instance)}
            elif include.strip() or exclude.strip():
                raise ValueError("标题过滤词只用于 WeWe RSS 公众号")
            source, token = ingest_service.add_source(
                rt,
                kind,
                target,
                name=name.strip(),
                schedule=schedule.strip() or None,
                platform=platform or None,
                media_tier=media_tier,
                config=config,
            )
        except (IngestError, ScheduleError, ValueError) as exc:
            audit(
                rt,
                user,
                "sources.add",
                f"source:{name[:100]}",
                {"kind": kind, "refused": str(exc)},
                request=request,
            )
            return sources_page(request, user, error=str(exc), form=form, code=400)
        audit(
            rt,
            user,
            "sources.add",
            f"source:{source.id}",
            {"kind": kind, "name": source.name},
            request=request,
        )
        created = {"id": source.id, "name": source.name, "kind": source.kind, "token": token}
        return sources_page(request, user, created=created)

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
            scope = scope_of(session, user.person_id)
            names = queries.source_names(session, scope)
            result = (
                queries.search_posts(
                    session, rt.settings.timezone, q, before=before, source_id=source, scope=scope
                )
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
