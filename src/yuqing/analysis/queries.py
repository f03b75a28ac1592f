"""Read-side queries of the analysis domain, shaped for the CLI and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from yuqing.analysis.models import Event, PostAnalysis, Topic
from yuqing.drills.access import drill_visible, sees_drill
from yuqing.ingest.models import HotListRank, Post
from yuqing.ingest.normalise import display_iso
from yuqing.org.scope import EVERYTHING, Scope
from yuqing.runtime import Runtime


class EventNotFound(LookupError):
    def __init__(self, event_id: int) -> None:
        super().__init__(f"找不到事件 {event_id}")


def event_view(event: Event, topic: str | None, zone: str, *, full: bool = False) -> dict[str, Any]:
    metrics = dict(event.metrics or {})
    if not full:
        metrics = {k: v for k, v in metrics.items() if k not in ("hourly", "daily", "site_list")}
    return {
        "id": event.id,
        "title": event.title,
        "topic": topic,
        "topic_id": event.topic_id,
        "grade": event.grade,
        "grade_code": event.grade_code,
        "reasons": event.reasons or [],
        "metrics": metrics,
        "keywords": event.keywords or [],
        "entities": event.entities or [],
        "first_seen": display_iso(event.first_seen, zone),
        "last_seen": display_iso(event.last_seen, zone),
        "status": event.status,
        "posts": event.post_count,
        "is_drill": event.is_drill,
        "drill_id": event.drill_id,
    }


def list_events(
    rt: Runtime,
    *,
    limit: int = 50,
    status: str | None = None,
    graded_only: bool = False,
    include_drills: bool = False,
    scope: Scope = EVERYTHING,
) -> list[dict[str, Any]]:
    """Events, most serious and most recent first; a drill's events only with `include_drills`,
    and only of the drills the scope may see."""
    severity = case({"I": 4, "II": 3, "III": 2, "IV": 1}, value=Event.grade_code, else_=0)
    query = (
        select(Event, Topic.name)
        .outerjoin(Topic, Topic.id == Event.topic_id)
        .order_by(severity.desc(), Event.last_seen.desc())
        .limit(limit)
    )
    if status:
        query = query.where(Event.status == status)
    if graded_only:
        query = query.where(Event.grade_code.is_not(None))
    if not include_drills:
        query = query.where(Event.is_drill.is_(False))
    query = query.where(drill_visible(Event.drill_id, scope))
    with rt.sessions() as session:
        return [event_view(e, name, rt.settings.timezone) for e, name in session.execute(query)]


def hot_list_history(rt: Runtime, event_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Each place a post of the event held on a hot list, oldest reading first (the newest
    `limit`): the list, the rank, the heat where the list gives one, the post and the time."""
    with rt.sessions() as session:
        return hot_list_rows(session, event_id, rt.settings.timezone, limit)


def hot_list_rows(session: Session, event_id: int, zone: str, limit: int = 500) -> list[dict[str, Any]]:
    """`hot_list_history` within a session."""
    rows = session.scalars(
        select(HotListRank)
        .join(PostAnalysis, PostAnalysis.post_id == HotListRank.post_id)
        .where(PostAnalysis.event_id == event_id)
        .order_by(HotListRank.seen_at.desc(), HotListRank.id.desc())
        .limit(limit)
    )
    return [
        {
            "list": r.list_name,
            "rank": r.rank,
            "heat": r.heat,
            "post_id": r.post_id,
            "seen_at": display_iso(r.seen_at, zone),
        }
        for r in reversed(list(rows))
    ]


def hot_list_summary(session: Session, event_id: int, zone: str) -> list[dict[str, Any]]:
    """Per hot list the event's posts were on: the best place, the first and last reading that
    found them there and how many readings did, best place first."""
    rows = session.execute(
        select(
            HotListRank.list_name,
            func.min(HotListRank.rank),
            func.min(HotListRank.seen_at),
            func.max(HotListRank.seen_at),
            func.count(HotListRank.id),
        )
        .join(PostAnalysis, PostAnalysis.post_id == HotListRank.post_id)
        .where(PostAnalysis.event_id == event_id)
        .group_by(HotListRank.list_name)
    ).all()
    out = []
    for name, best, first, last, readings in sorted(rows, key=lambda r: (r[1], r[0])):
        minutes = int((last - first).total_seconds() // 60)
        out.append(
            {
                "list": name,
                "best": int(best),
                "first": display_iso(first, zone),
                "last": display_iso(last, zone),
                "readings": int(readings),
                "on_list": f"{minutes // 60} 小时 {minutes % 60} 分" if minutes >= 60 else f"{minutes} 分钟",
            }
        )
    return out


def get_event(
    rt: Runtime, event_id: int, *, with_posts: bool = False, scope: Scope = EVERYTHING
) -> dict[str, Any]:
    """One event in full, with where it is (`location`: the places that locate it and whether that
    is plainly outside every unit's places, `alerts.jurisdiction`); `with_posts` adds the ids of its
    posts, oldest first. A drill's event only for those who may see the drill."""
    from yuqing.alerts.jurisdiction import locate

    with rt.sessions() as session:
        row = session.execute(
            select(Event, Topic.name).outerjoin(Topic, Topic.id == Event.topic_id).where(Event.id == event_id)
        ).first()
        if row is None or not sees_drill(session, scope, row[0].drill_id):
            raise EventNotFound(event_id)
        view = event_view(row[0], row[1], rt.settings.timezone, full=True)
        where = locate(session, row[0])
        view["location"] = {"places": list(where.places), "outside": where.outside, "abroad": where.abroad}
        if with_posts:
            view["post_ids"] = list(
                session.scalars(
                    select(PostAnalysis.post_id)
                    .where(PostAnalysis.event_id == event_id)
                    .order_by(PostAnalysis.post_id)
                )
            )
        return view


def earlier_events(session: Session, event_id: int, limit: int = 3) -> list[Event]:
    """Older events whose posts this event's posts nearly copy (ingest's near-duplicate link): the
    same story told again after its event closed, most often a rumour coming back (「太活跃的鱼千万别买」
    months later). An office reads the earlier event's rebuttal and handling before answering again.
    Oldest first; a drill's events and real ones are never linked."""
    mine = aliased(PostAnalysis)
    theirs = aliased(PostAnalysis)
    event = session.get(Event, event_id)
    if event is None:
        return []
    ids = list(
        session.scalars(
            select(theirs.event_id)
            .select_from(mine)
            .join(Post, Post.id == mine.post_id)
            .join(theirs, theirs.post_id == Post.near_duplicate_of)
            .where(mine.event_id == event_id, theirs.event_id.is_not(None), theirs.event_id != event_id)
            .distinct()
            .limit(50)
        )
    )
    if not ids:
        return []
    drill = Event.drill_id.is_(None) if event.drill_id is None else Event.drill_id == event.drill_id
    return list(
        session.scalars(
            select(Event)
            .where(Event.id.in_(ids), Event.first_seen < event.first_seen, drill)
            .order_by(Event.first_seen)
            .limit(limit)
        )
    )
