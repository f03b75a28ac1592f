"""Read-side queries of the ingest domain, shaped for the CLI and the API (times in the display zone)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.drills.access import drill_visible, post_visible, sees_drill, sees_post
from yuqing.ingest import schedule as schedule_mod
from yuqing.ingest.connectors.rsshub import public_config
from yuqing.ingest.errors import PostNotFound, SourceNotFound
from yuqing.ingest.fetcher import scrub_secrets
from yuqing.ingest.models import DeadLetter, FetchRun, Post, PostSighting, Source
from yuqing.ingest.normalise import display_iso
from yuqing.ingest.service import FETCHED_KINDS, find_source
from yuqing.org.scope import EVERYTHING, Scope
from yuqing.runtime import Runtime
from yuqing.settings import Settings


def iso(value: dt.datetime | None, settings: Settings) -> str | None:
    """A stored UTC time as ISO 8601 in the display zone (Asia/Shanghai by default)."""
    return display_iso(value, settings.timezone)


def post_view(post: Post, settings: Settings, *, full: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": post.id,
        "source_id": post.source_id,
        "platform": post.platform,
        "kind": post.kind,
        "url": post.url,
        "title": post.title,
        "text": post.text if full else post.text[:200],
        "author": post.author,
        "published_at": iso(post.published_at, settings),
        "fetched_at": iso(post.fetched_at, settings),
        "media_tier": post.media_tier,
        "engagement": {
            "views": post.views,
            "reposts": post.reposts,
            "comments": post.comments,
            "likes": post.likes,
        },
        "near_duplicate_of": post.near_duplicate_of,
    }
    if full:
        view.update(
            {
                "external_id": post.external_id,
                "canonical_url": post.canonical_url,
                "text_original": post.text_original,
                "author_id": post.author_id,
                "author_metrics": {
                    "verified": post.author_verified,
                    "kind": post.author_kind,
                    "followers": post.author_followers,
                    "following": post.author_following,
                    "posts": post.author_posts,
                },
                "location": post.location,
                "parent_external_id": post.parent_external_id,
                "root_external_id": post.root_external_id,
                "similarity": post.similarity,
                "raw": {
                    "document_sha256": post.raw_sha256,
                    "locator": post.raw_ref,
                    "item_sha256": post.item_sha256,
                },
                "fetch_run_id": post.fetch_run_id,
                "extra": post.extra,
            }
        )
    return view


def visible_source(session: Session, ref: str | int, scope: Scope = EVERYTHING) -> Source:
    """A source by id or name (`find_source`); a drill's source only for those who may see the
    drill (SourceNotFound otherwise, in the same words as for no source)."""
    source = find_source(session, ref)
    if not sees_drill(session, scope, source.drill_id):
        raise SourceNotFound(ref)
    return source


def list_posts(
    rt: Runtime, *, limit: int = 50, offset: int = 0, source: str | None = None, scope: Scope = EVERYTHING
) -> list[dict[str, Any]]:
    """The latest posts; a drill's posts only when its source is asked for by name, by someone who
    may see the drill."""
    with rt.sessions() as session:
        query = select(Post).order_by(Post.id.desc()).limit(limit).offset(offset)
        if source is not None:
            query = query.where(Post.source_id == visible_source(session, source, scope).id)
        else:
            # a drill's post is marked just after its import: its source tells it at once
            query = query.where(Post.is_drill.is_(False), post_visible(scope))
        return [post_view(p, rt.settings) for p in session.scalars(query)]


def get_post(rt: Runtime, post_id: int, *, scope: Scope = EVERYTHING) -> dict[str, Any]:
    """One post in full; a drill's post only for those who may see the drill."""
    with rt.sessions() as session:
        post = session.get(Post, post_id)
        if post is None or not sees_post(session, scope, post):
            raise PostNotFound(post_id)
        view = post_view(post, rt.settings, full=True)
        view["sightings"] = [
            {
                "source_id": s.source_id,
                "url": s.url,
                "url_key": s.url_key,
                "seen_at": iso(s.seen_at, rt.settings),
            }
            for s in session.scalars(select(PostSighting).where(PostSighting.post_id == post_id))
        ]
        view["near_duplicates"] = session.scalar(
            select(func.count()).select_from(Post).where(Post.near_duplicate_of == post_id)
        )
        return view


def list_dead_letters(
    rt: Runtime,
    *,
    limit: int = 100,
    source: str | None = None,
    run: int | None = None,
    reveal: bool = False,
    scope: Scope = EVERYTHING,
) -> list[dict[str, Any]]:
    """The newest dead letters (of one source or one run); access parameters and passwords in
    their locations and errors are shown as *** unless `reveal` (the server's operator at the
    command line); a drill's only for those who may see the drill."""
    shown = (lambda text: text) if reveal else _scrubbed
    with rt.sessions() as session:
        # a dead letter seen again today is news today: newest by when it was last seen
        last_seen = func.coalesce(DeadLetter.last_seen_at, DeadLetter.created_at)
        query = select(DeadLetter).order_by(last_seen.desc(), DeadLetter.id.desc()).limit(limit)
        if source is not None:
            query = query.where(DeadLetter.source_id == visible_source(session, source, scope).id)
        elif not scope.everything:
            hidden = select(Source.id).where(~drill_visible(Source.drill_id, scope))
            query = query.where(DeadLetter.source_id.not_in(hidden) | DeadLetter.source_id.is_(None))
        if run is not None:
            query = query.where(DeadLetter.fetch_run_id == run)
        letters = session.scalars(query).all()
        ids = {d.source_id for d in letters if d.source_id is not None}
        names = {
            int(i): str(n)
            for i, n in session.execute(select(Source.id, Source.name).where(Source.id.in_(ids)))
        }
        return [
            {
                "id": d.id,
                "source_id": d.source_id,
                "source": names.get(d.source_id) if d.source_id is not None else None,
                "fetch_run_id": d.fetch_run_id,
                "created_at": iso(d.created_at, rt.settings),
                "stage": d.stage,
                "error": shown(d.error),
                "location": shown(d.location),
                "raw_size": d.raw_size,
                "raw_sha256": d.raw_sha256,
                "raw_preview": (d.raw or b"")[:300].decode("utf-8", "replace") if d.raw else None,
                "repeats": d.repeats,
                "last_seen_at": iso(d.last_seen_at, rt.settings) if d.last_seen_at else None,
            }
            for d in letters
        ]


def dead_letter_counts(rt: Runtime) -> dict[int, int]:
    """How many dead letters each source has (by source id)."""
    with rt.sessions() as session:
        rows = session.execute(
            select(DeadLetter.source_id, func.count())
            .where(DeadLetter.source_id.is_not(None))
            .group_by(DeadLetter.source_id)
        )
        return {int(source_id): int(n) for source_id, n in rows if source_id is not None}


def list_runs(
    rt: Runtime,
    *,
    source: str | None = None,
    limit: int = 50,
    reveal: bool = False,
    scope: Scope = EVERYTHING,
) -> list[dict[str, Any]]:
    """The newest runs; their errors scrubbed as in `list_dead_letters` unless `reveal`; a drill's
    runs only for those who may see the drill."""
    shown = (lambda text: text) if reveal else _scrubbed
    with rt.sessions() as session:
        query = select(FetchRun).order_by(FetchRun.id.desc()).limit(limit)
        if source is not None:
            query = query.where(FetchRun.source_id == visible_source(session, source, scope).id)
        elif not scope.everything:
            hidden = select(Source.id).where(~drill_visible(Source.drill_id, scope))
            query = query.where(FetchRun.source_id.not_in(hidden))
        return [
            {
                "id": r.id,
                "source_id": r.source_id,
                "started_at": iso(r.started_at, rt.settings),
                "finished_at": iso(r.finished_at, rt.settings),
                "outcome": r.outcome or "running",  # open runs of dead processes are closed at start
                "read": r.items_read,
                "new": r.items_new,
                "duplicate": r.items_duplicate,
                "near_duplicate": r.items_near_duplicate,
                "rejected": r.items_rejected,
                "error": shown(r.error),
            }
            for r in session.scalars(query)
        ]


def _scrubbed(text: str | None) -> str | None:
    return scrub_secrets(text) if text else text


def source_view(
    source: Source, settings: Settings, now: dt.datetime, *, reveal: bool = False
) -> dict[str, Any]:
    """A source as the API and the command line show it. Access parameters in its URL and last
    error (`?token=`, `?key=`…) are shown as *** unless `reveal` (the server's operator)."""
    shown = (lambda text: text) if reveal else _scrubbed
    state = schedule_mod.health_state(
        enabled=source.enabled,
        last_run_at=source.last_run_at,
        consecutive_failures=source.consecutive_failures,
        empty_runs=source.empty_runs,
        next_run_at=source.next_run_at if source.kind in FETCHED_KINDS else None,
        now=now,
        silent_after_runs=settings.silent_after_runs,
    )
    return {
        "id": source.id,
        "name": source.name,
        "kind": source.kind,
        "url": shown(source.url),
        "platform": source.platform,
        "media_tier": source.media_tier,
        "schedule": source.schedule or (settings.default_schedule if source.kind in FETCHED_KINDS else None),
        "enabled": source.enabled,
        "config": public_config(source.config or {}),
        "health": {
            "state": state,
            "label": schedule_mod.HEALTH_LABELS[state],
            "last_run_at": iso(source.last_run_at, settings),
            "last_success_at": iso(source.last_success_at, settings),
            "consecutive_failures": source.consecutive_failures,
            "empty_runs": source.empty_runs,
            "last_items": source.last_items,
            "last_error": shown(source.last_error),
            "next_run_at": iso(source.next_run_at, settings),
        },
    }


def list_sources(rt: Runtime, *, reveal: bool = False, scope: Scope = EVERYTHING) -> list[dict[str, Any]]:
    """Every source (`source_view`; `reveal` shows access parameters: the operator's command line);
    a drill's source only for those who may see the drill."""
    with rt.sessions() as session:
        query = select(Source).where(drill_visible(Source.drill_id, scope)).order_by(Source.id)
        sources = session.scalars(query).all()
        return [source_view(s, rt.settings, rt.clock(), reveal=reveal) for s in sources]
