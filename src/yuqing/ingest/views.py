"""HTTP API of the ingest domain: sources and their health, posts, dead letters, runs, webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request

from yuqing.ingest import queries, service
from yuqing.ingest.errors import (
    PostNotFound,
    SourceNotFound,
    WebhookAuthError,
    WebhookTooLarge,
    WebhookUnreadable,
)
from yuqing.ingest.intake import WebhookIntake
from yuqing.ingest.models import Source
from yuqing.ingest.store import PostWriter
from yuqing.org.scope import Scope, reader_scope
from yuqing.runtime import Runtime

# what the signed-in person may see (the web app overrides `reader_scope`): a drill's sources,
# posts, runs and dead letters only for those who see the drill
Reader = Annotated[Scope, Depends(reader_scope)]


# The answer to a push with a wrong token or to a source that does not exist (or is switched off).
WEBHOOK_REFUSED = "推送令牌无效，或推送源不存在、已停用"


def build_router(rt: Runtime, writer: PostWriter, *, guard: Sequence[Any] = ()) -> list[APIRouter]:
    """The ingest API: the read routes behind `guard` (the web layer's login dependency), and the
    webhook apart, as senders authenticate with the source's own token."""
    router = APIRouter(prefix="/api/v1", dependencies=list(guard))
    hooks = APIRouter(prefix="/api/v1")
    intake = WebhookIntake(rt, writer)  # small deliveries arriving together are stored together
    sources_seen: dict[int, tuple[float, Source]] = {}

    @router.get("/sources", tags=["sources"], summary="信息源及其健康状况")
    def sources(scope: Reader) -> list[dict[str, Any]]:
        return queries.list_sources(rt, scope=scope)

    @router.get("/posts", tags=["posts"], summary="采集到的信息（最新在前）")
    def posts(
        scope: Reader,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        source: str | None = None,
    ) -> list[dict[str, Any]]:
        try:
            return queries.list_posts(rt, limit=limit, offset=offset, source=source, scope=scope)
        except SourceNotFound as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("/posts/{post_id}", tags=["posts"], summary="一条信息的全部记录")
    def post(post_id: int, scope: Reader) -> dict[str, Any]:
        try:
            return queries.get_post(rt, post_id, scope=scope)
        except PostNotFound as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("/deadletters", tags=["posts"], summary="无法入库的输入")
    def deadletters(scope: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        return queries.list_dead_letters(rt, limit=limit, scope=scope)

    @router.get("/runs", tags=["sources"], summary="采集记录")
    def runs(scope: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        return queries.list_runs(rt, limit=limit, scope=scope)

    @hooks.post(
        "/webhooks/{source_id}", tags=["webhooks"], summary="推送信息（JSON 对象、数组或 {posts: [...]}）"
    )
    async def webhook(
        source_id: int,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_yuqing_token: Annotated[str | None, Header()] = None,
    ) -> dict[str, int]:
        token = x_yuqing_token
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        try:
            source = service.authenticate_webhook(rt, source_id, token, cache=sources_seen)
        except (SourceNotFound, WebhookAuthError) as exc:
            # one answer for a wrong token and for no such source: a 404 told a stranger which
            # source numbers exist (the administrator's `yuqing sources list` tells them apart)
            raise HTTPException(401, WEBHOOK_REFUSED) from exc
        from starlette.concurrency import run_in_threadpool

        limit = rt.settings.webhook_max_bytes
        declared = request.headers.get("content-length")
        too_large = bool(declared and declared.isdigit() and int(declared) > limit)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            too_large = too_large or len(body) > limit
            if too_large and len(body) >= min(limit, service.WEBHOOK_REFUSED_KEEP):
                break  # enough of it for the dead letter; the rest is never read
        if too_large:
            size = f" {int(declared)} 字节，" if declared and declared.isdigit() else ""
            message = (
                f"推送内容{size}超过 {limit} 字节上限，已拒收"
                f"（前 {min(len(body), service.WEBHOOK_REFUSED_KEEP)} 字节存入失败记录），请分批推送"
            )
            await run_in_threadpool(service.refuse_webhook, rt, source, bytes(body), message)
            raise HTTPException(413, message)

        try:
            counts = await run_in_threadpool(
                intake.receive, source, bytes(body), request.headers.get("content-type")
            )
        except WebhookTooLarge as exc:
            raise HTTPException(413, str(exc)) from exc
        except WebhookUnreadable as exc:  # kept as evidence and dead-lettered: the sender is told why
            raise HTTPException(400, str(exc)) from exc
        return counts.as_dict()

    return [router, hooks]
