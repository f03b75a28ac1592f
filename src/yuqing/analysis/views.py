"""HTTP API of the analysis domain: events with grades and reasons, topics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from yuqing.analysis import queries, topics
from yuqing.org.scope import Scope, reader_scope
from yuqing.runtime import Runtime

# what the signed-in person may see (the web app overrides `reader_scope`): a drill's event only
# for those who see the drill
Reader = Annotated[Scope, Depends(reader_scope)]


def build_router(rt: Runtime, *, guard: Sequence[Any] = ()) -> APIRouter:
    """The analysis API; `guard` is the web layer's login dependency."""
    router = APIRouter(prefix="/api/v1", dependencies=list(guard))

    @router.get("/events", tags=["events"], summary="事件（按等级和最近活动排序）")
    def events(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        status: str | None = None,
        graded: bool = False,
    ) -> list[dict[str, Any]]:
        return queries.list_events(rt, limit=limit, status=status, graded_only=graded)

    @router.get("/events/{event_id}", tags=["events"], summary="一个事件：等级及理由、指标、趋势")
    def event(event_id: int, scope: Reader) -> dict[str, Any]:
        try:
            return queries.get_event(rt, event_id, scope=scope)
        except queries.EventNotFound as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("/topics", tags=["topics"], summary="监测专题")
    def topic_list() -> list[dict[str, Any]]:
        return topics.list_topics(rt)

    return router
