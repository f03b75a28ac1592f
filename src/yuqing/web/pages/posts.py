"""信息: one collected post — its text (escaped, as everywhere), where and when it was published and
collected, its engagement, its analysis (sentiment, sensitivity flags, topics and the words that
fired), its event, what it is a near-copy of, the hashes that prove what was collected, and the
cases it is evidence in. The post search stays with 信息源 (`org`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yuqing.analysis.metrics import FLAG_LABELS
from yuqing.analysis.models import Event, PostAnalysis, Topic
from yuqing.cases.models import Case, CaseEvidence, Stage
from yuqing.cases.service import OPENERS
from yuqing.drills.access import sees_post
from yuqing.ingest.models import AUTHOR_KIND_LABELS, Post, Source
from yuqing.org.scope import EVERYTHING, Scope, scope_of
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user
from yuqing.web.pages import queries
from yuqing.web.pages.common import render

CurrentUser = Annotated[User, Depends(current_user)]
MEDIA_TIER_LABELS = {"central": "央级媒体", "provincial": "省级媒体", "city": "市级媒体", "other": "其他"}
KIND_LABELS = {"original": "原创", "repost": "转发", "comment": "评论", "reply": "回复"}


def analysis_view(session: Session, analysis: PostAnalysis | None) -> dict[str, Any] | None:
    if analysis is None:
        return None
    topic_ids = {int(t["topic_id"]) for t in analysis.topics or [] if "topic_id" in t}
    names: dict[int, str] = {}
    if topic_ids:
        for tid, name in session.execute(select(Topic.id, Topic.name).where(Topic.id.in_(topic_ids))):
            names[tid] = name
    return {
        "analysed_at": analysis.analysed_at.isoformat(),
        "sentiment": analysis.sentiment,
        "sentiment_label": queries.SENTIMENT_LABELS.get(analysis.sentiment, analysis.sentiment),
        "negative": analysis.negative,
        "flags": [{"key": f, "label": FLAG_LABELS.get(f, f)} for f in analysis.flags or []],
        "topics": [
            {
                "id": t.get("topic_id"),
                "name": names.get(int(t["topic_id"]), f"专题 {t['topic_id']}") if "topic_id" in t else "",
                "terms": list(t.get("terms") or []),
            }
            for t in analysis.topics or []
        ],
    }


def post_detail(
    session: Session, post_id: int, zone: str, scope: Scope = EVERYTHING
) -> dict[str, Any] | None:
    """Everything the post page shows, or None when there is no such post (or it is a post of a
    drill that `scope` does not see). The cases that use it (and their evidence notes) are those
    of units in `scope`: posts are everyone's, cases are their unit's."""
    post = session.get(Post, post_id)
    if post is None or not sees_post(session, scope, post):
        return None  # a drill's post is read only by those who may see the drill
    analysis = session.get(PostAnalysis, post_id)
    event = session.get(Event, analysis.event_id) if analysis and analysis.event_id else None
    cases = session.execute(
        select(Case, CaseEvidence.note)
        .outerjoin(CaseEvidence, (CaseEvidence.case_id == Case.id) & (CaseEvidence.post_id == post_id))
        .where(or_(CaseEvidence.post_id == post_id, Case.post_id == post_id), scope.where(Case.unit_id))
        .order_by(Case.id)
    ).all()
    view = queries.post_row(post, zone)
    view.update(
        {
            "source": session.scalar(select(Source.name).where(Source.id == post.source_id)),
            "kind_label": KIND_LABELS.get(post.kind, post.kind),
            "media_tier_label": MEDIA_TIER_LABELS.get(post.media_tier, post.media_tier),
            "canonical_url": post.canonical_url,
            "location": post.location,
            "author_id": post.author_id,
            "author_verified": post.author_verified,
            "author_kind_label": AUTHOR_KIND_LABELS.get(post.author_kind or "", "认证"),
            "author_followers": post.author_followers,
            "near_duplicate_of": post.near_duplicate_of,
            "similarity": post.similarity,
            "raw_sha256": post.raw_sha256,
            "raw_ref": post.raw_ref,
            "item_sha256": post.item_sha256,
            "text_differs": post.text_original != post.text,
            "text_original": post.text_original,
        }
    )
    return {
        "post": view,
        "analysis": analysis_view(session, analysis),
        "event": None
        if event is None
        else {"id": event.id, "title": event.title, "grade_code": event.grade_code, "grade": event.grade},
        "cases": [
            {
                "id": case.id,
                "title": case.title,
                "stage_label": Stage(case.stage).label,
                "grade_code": case.grade_code,
                "grade": case.grade,
                "note": note,
                "opened_from": case.post_id == post_id,
                "is_drill": case.is_drill,
            }
            for case, note in cases
        ],
    }


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/posts/{post_id}", response_class=HTMLResponse)
    def post_page(request: Request, post_id: int, user: CurrentUser) -> HTMLResponse:
        with rt.sessions() as session:
            context = post_detail(session, post_id, rt.settings.timezone, scope_of(session, user.person_id))
        if context is None:
            message = f"找不到信息 {post_id}"
            return render(request, rt, user, "error.html", {"message": message}, status_code=404)
        # a 监测员 who spots a post in no event (or one of an event) opens a case on it here: a post
        # of an event opens that event's case, with the post as the evidence it was opened on
        context["may_open"] = user.holds(*OPENERS) and not any(
            c["opened_from"] for c in context["cases"]
        )
        return render(request, rt, user, "post.html", context, active="sources")

    return router
