"""The analysis pipeline: stored posts → topics → sentiment → events → metrics → grades.

Each stage is a named function over a batch (`analysis.topics`, `analysis.sentiment`,
`analysis.cluster`, `analysis.metrics`, `analysis.grade`). Posts are read in id order after a
cursor kept in `pipeline_state`; each post's analysis is written once (its primary key is the
post id), so running the pipeline again over the same posts changes nothing. The clustering
stage is stateful; its snapshot is saved with the cursor in the same transaction as the batch,
so a restart resumes exactly where the last committed batch ended.

Drill posts (from a drill's own source, `yuqing.drills`) go through the same stages, read
without their drill mark, but are clustered in a partition of their own drill (the topic key
`"<topic>@drill<id>"`): a drill post never joins a real event nor a real post a drill's event,
even through a repost link or a near-duplicate. Their events are stored with `is_drill`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from yuqing.analysis import grading
from yuqing.analysis.clustering import EventClusterer, EventInfo
from yuqing.analysis.clustering import Post as ClusterPost
from yuqing.analysis.matcher import TopicMatcher
from yuqing.analysis.metrics import PostFacts, compute
from yuqing.analysis.models import (
    Event,
    EventStatus,
    GradeSignal,
    PipelineState,
    PostAnalysis,
    Topic,
    WordGroup,
)
from yuqing.analysis.sentiment import SentimentModel
from yuqing.analysis.topics import compile_matcher
from yuqing.background import PeriodicWorker
from yuqing.db import transaction
from yuqing.drills.policy import post_mark, strip_post_mark
from yuqing.ingest.models import Post, PostSighting, Source
from yuqing.ingest.store import insert_ignoring_conflicts
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)
STATE_NAME = "analysis"
# A growing event's metrics (and so its grade) lag its newest posts by at most this many seconds,
# or until it has doubled in size, whichever comes first.
METRICS_MAX_AGE = 10.0
STAGES = ("analysis.topics", "analysis.sentiment", "analysis.cluster", "analysis.metrics", "analysis.grade")


@dataclass
class BatchPost:
    """A stored post as the analysis stages see it."""

    id: int
    text: str
    title: str | None
    when: dt.datetime
    platform: str
    external_id: str | None
    root_external_id: str | None
    near_duplicate_of: int | None
    drill_id: int | None = None
    topics: list[dict[str, Any]] = field(default_factory=list)
    sentiment: str = "neutral"
    negative: float = 0.0
    flags: tuple[str, ...] = ()
    event_key: str = ""


@dataclass
class PipelineCounts:
    posts: int = 0
    events_touched: int = 0
    signals: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "events_touched": self.events_touched,
            "signals": self.signals,
            "stage_seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


class AnalysisPipeline:
    """Runs the stages over stored posts; one instance per process (it owns the clusterer)."""

    def __init__(
        self, rt: Runtime, *, batch_size: int = 2000, profile: grading.Profile | None = None
    ) -> None:
        self._rt = rt
        self._batch_size = batch_size
        # A profile given by the caller stays; else the configured one is followed as it is edited
        # (the console saves it while `yuqing serve` runs): see `_refresh_profile`.
        self._fixed_profile = profile is not None
        self._profile = profile or grading.load_profile(rt.settings.plan_profile or None)
        self._sentiment = SentimentModel.load()
        self._matcher: TopicMatcher[int] | None = None
        self._topics_version: tuple[Any, ...] | None = None
        self._drill_sources: dict[int, int] = {}  # source id -> drill id
        self._lock = threading.Lock()
        # event id → (posts when its metrics were last computed, when): see stage_metrics.
        self._measured: dict[int, tuple[int, float]] = {}
        with rt.sessions() as session:
            state = session.get(PipelineState, STATE_NAME)
            self._cursor = state.cursor if state else 0
            self._clusterer = (
                EventClusterer.restore(state.data)
                if state and state.data
                # Near-duplicates come linked from ingestion; the clusterer need not find them again.
                else EventClusterer(detect_duplicates=False)
            )

    @property
    def cursor(self) -> int:
        """The id of the last post analysed."""
        return self._cursor

    # -- driving -------------------------------------------------------------------------------
    def run(self, *, limit: int | None = None) -> PipelineCounts:
        """Analyse every stored post not yet analysed (at most `limit`), batch by batch."""
        total = PipelineCounts()
        with self._lock:
            self._refresh_matcher()
            self._refresh_profile()
            while limit is None or total.posts < limit:
                size = self._batch_size if limit is None else min(self._batch_size, limit - total.posts)
                posts = self._next_batch(size)
                if not posts:
                    break
                self._process(posts, total)
        return total

    def _next_batch(self, size: int) -> list[BatchPost]:
        # Read before the posts: a drill's source is committed before any of its posts, so every
        # drill post of the batch is recognised.
        self._refresh_drill_sources()
        with self._rt.sessions() as session:
            rows = session.execute(
                select(
                    Post.id,
                    Post.text,
                    Post.title,
                    Post.published_at,
                    Post.fetched_at,
                    Post.platform,
                    Post.external_id,
                    Post.root_external_id,
                    Post.near_duplicate_of,
                    Post.source_id,
                )
                .where(Post.id > self._cursor)
                .order_by(Post.id)
                .limit(size)
            ).all()
        out = []
        for r in rows:
            drill = self._drill_sources.get(r.source_id)
            text, title = r.text or "", r.title
            if drill is not None:  # the stages read the incident's own words, not the drill mark
                text = strip_post_mark(text)
                title = strip_post_mark(title) if title else title
            out.append(
                BatchPost(
                    r.id,
                    text,
                    title,
                    r.published_at or r.fetched_at,
                    r.platform,
                    r.external_id,
                    r.root_external_id,
                    r.near_duplicate_of,
                    drill,
                )
            )
        return out

    def _refresh_drill_sources(self) -> None:
        with self._rt.sessions() as session:
            rows = session.execute(select(Source.id, Source.drill_id).where(Source.drill_id.is_not(None)))
            self._drill_sources = {source: drill for source, drill in rows if drill is not None}

    def _refresh_profile(self) -> None:
        """Grade with the profile as it is now: a cache hit unless the file changed or another was
        chosen. A profile that no longer loads keeps the last good one (the error is logged)."""
        if self._fixed_profile:
            return
        try:
            self._profile = grading.load_profile(self._rt.settings.plan_profile or None)
        except grading.ProfileError:
            log.exception("the plan profile cannot be loaded; grading goes on with the previous one")

    def _refresh_matcher(self) -> None:
        """Recompile the topic rules when a topic was added, switched, or its rule edited, or a word
        group changed (the console edits them while `yuqing serve` runs)."""
        with self._rt.sessions() as session:
            topics = session.execute(
                select(Topic.id, Topic.rule).where(Topic.enabled.is_(True)).order_by(Topic.id)
            ).all()
            groups = session.execute(
                select(WordGroup.name, WordGroup.updated_at).order_by(WordGroup.name)
            ).all()
            version = (tuple(tuple(row) for row in topics), tuple(tuple(row) for row in groups))
        if version != self._topics_version:
            self._matcher = compile_matcher(self._rt)
            self._topics_version = version

    # -- the stages ----------------------------------------------------------------------------
    def _process(self, posts: list[BatchPost], total: PipelineCounts) -> None:
        timed = _Timer(total.seconds)
        with timed("analysis.topics"):
            self.stage_topics(posts)
        with timed("analysis.sentiment"):
            self.stage_sentiment(posts)
        with timed("analysis.cluster"):
            self.stage_cluster(posts)
            # Events this batch closed (a later post moved the clock past their window) are no
            # longer open in the clusterer; their final state comes from the drained list.
            closed = {info.id: info for info in self._clusterer.drain_closed()}
        with transaction(self._rt.sessions) as session:
            with timed("analysis.cluster"):
                touched = self._store(session, posts, closed)
            with timed("analysis.metrics"):
                metrics = self.stage_metrics(session, touched)
            with timed("analysis.grade"):
                total.signals += self.stage_grade(session, metrics)
            self._close_idle(session, list(closed))
            self._save_state(session, posts[-1].id)
        self._cursor = posts[-1].id
        total.posts += len(posts)
        total.events_touched += len(touched)

    def stage_topics(self, posts: Sequence[BatchPost]) -> None:
        """analysis.topics: every monitored topic whose rule matches, with the terms that fired."""
        if self._matcher is None:
            return
        texts = [f"{p.title}\n{p.text}" if p.title else p.text for p in posts]
        for post, matches in zip(posts, self._matcher.match_batch(texts), strict=True):
            post.topics = [{"topic_id": m.topic_id, "terms": list(m.fired_terms)} for m in matches]

    def stage_sentiment(self, posts: Sequence[BatchPost]) -> None:
        """analysis.sentiment: polarity with a negative score, and sensitivity flags."""
        texts = [f"{p.title}。{p.text}" if p.title else p.text for p in posts]
        for post, result in zip(posts, self._sentiment.predict(texts), strict=True):
            post.sentiment, post.negative, post.flags = result.label, result.negative, tuple(result.flags)

    def stage_cluster(self, posts: Sequence[BatchPost]) -> None:
        """analysis.cluster: each post joins an open event of its (first) topic or starts one; a
        repost joins its root's event, a near-duplicate its original's."""
        roots = self._root_ids(posts)
        for post in posts:
            topic = post.topics[0]["topic_id"] if post.topics else None
            post.event_key = self._clusterer.add(
                ClusterPost(
                    id=str(post.id),
                    text=post.text or (post.title or ""),
                    published_at=post.when,
                    topic=partition_key(topic, post.drill_id),
                    root_id=roots.get(post.id),
                    duplicate_of=str(post.near_duplicate_of) if post.near_duplicate_of else None,
                )
            )

    def _root_ids(self, posts: Sequence[BatchPost]) -> dict[int, str]:
        """Stored ids of the posts a platform names as the root of a repost or reply."""
        wanted = {
            p.id: f"{p.platform}:{p.root_external_id}"
            for p in posts
            if p.root_external_id and p.root_external_id != p.external_id
        }
        if not wanted:
            return {}
        keys = sorted(set(wanted.values()))
        found: dict[str, int] = {}
        with self._rt.sessions() as session:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                for url_key, post_id in session.execute(
                    select(Post.url_key, Post.id).where(Post.url_key.in_(chunk))
                ):
                    if url_key is not None:
                        found[url_key] = post_id
        return {post_id: str(found[key]) for post_id, key in wanted.items() if key in found}

    def _store(
        self, session: Session, posts: Sequence[BatchPost], closed: dict[str, EventInfo]
    ) -> dict[int, str]:
        """Create or update the events of this batch and write each post's analysis once."""
        keys = sorted({p.event_key for p in posts})
        existing: dict[str, int] = {}
        for cluster_key, stored_id in session.execute(
            select(Event.cluster_key, Event.id).where(Event.cluster_key.in_(keys))
        ):
            existing[cluster_key] = stored_id
        touched: dict[int, str] = {}
        now = self._rt.clock()
        for key in keys:
            info = self._clusterer.event(key) or closed.get(key) or _batch_info(key, posts)
            topic_id, drill_id = parse_partition_key(info.topic)
            title = info.title if drill_id is None else post_mark(drill_id) + info.title
            title_post = int(info.title_post_id) if info.title_post_id else None
            event_id = existing.get(key)
            if event_id is None:
                event = Event(
                    cluster_key=key,
                    topic_id=topic_id,
                    title=title,
                    title_post_id=title_post,
                    keywords=list(info.keywords),
                    first_seen=info.first_seen,
                    last_seen=info.last_seen,
                    status=EventStatus.OPEN.value,
                    post_count=info.size,
                    reasons=[],
                    metrics={},
                    is_drill=drill_id is not None,
                    drill_id=drill_id,
                )
                session.add(event)
                session.flush()
                event_id = event.id
            else:
                found_event = session.get(Event, event_id)
                assert found_event is not None
                event = found_event
                event.title, event.title_post_id = title, title_post
                event.keywords = list(info.keywords)
                event.first_seen = min(event.first_seen, info.first_seen)
                event.last_seen = max(event.last_seen, info.last_seen)
                event.post_count = max(event.post_count, info.size)
                event.status = EventStatus.OPEN.value if info.open else EventStatus.CLOSED.value
            touched[event_id] = key
        ids = {key: event_id for event_id, key in touched.items()}
        table = PostAnalysis.__table__
        assert isinstance(table, Table)
        rows = [
            {
                "post_id": p.id,
                "analysed_at": now,
                "sentiment": p.sentiment,
                "negative": p.negative,
                "flags": list(p.flags),
                "topics": p.topics,
                "event_id": ids[p.event_key],
            }
            for p in posts
        ]
        session.execute(insert_ignoring_conflicts(table, session.get_bind().dialect.name), rows)
        return touched

    def stage_metrics(self, session: Session, touched: dict[int, str]) -> dict[int, dict[str, Any]]:
        """analysis.metrics: recompute the spread of the events this batch touched.

        A large event is not recomputed for every post that joins it: recomputing reads all its
        posts, so doing it every batch makes a viral cascade quadratic. An event is recomputed
        when it is new to this process, has doubled since it was last measured, or was last
        measured more than `METRICS_MAX_AGE` seconds ago — so its metrics (and its grade) are at
        most that stale; events of up to 50 posts are always current.
        """
        if not touched:
            return {}
        sizes = {
            key: self._clusterer.event(key).size  # type: ignore[union-attr]
            for key in touched.values()
            if self._clusterer.event(key) is not None
        }
        clock = time.monotonic()
        due: dict[int, str] = {}
        for event_id, key in touched.items():
            size = sizes.get(key)
            seen = self._measured.get(event_id)
            if (
                size is None
                or seen is None
                or size <= 50
                or size >= seen[0] * 2
                or clock - seen[1] >= METRICS_MAX_AGE
            ):
                due[event_id] = key
                self._measured[event_id] = (size or 0, clock)
        touched = due
        if not touched:
            return {}
        now = self._rt.clock()
        rows = session.execute(
            select(
                PostAnalysis.event_id,
                Post.id,
                Post.published_at,
                Post.fetched_at,
                Post.platform,
                Post.kind,
                Post.media_tier,
                Post.url,
                Post.source_id,
                Post.text,
                PostAnalysis.sentiment,
                PostAnalysis.flags,
                PostAnalysis.topics,
                Post.views,
                Post.reposts,
                Post.comments,
                Post.likes,
            )
            .join(Post, Post.id == PostAnalysis.post_id)
            .where(PostAnalysis.event_id.in_(list(touched)))
        ).all()
        sightings: dict[int, list[str]] = {}
        post_ids = [r.id for r in rows]
        for start in range(0, len(post_ids), 500):
            chunk = post_ids[start : start + 500]
            for post_id, url_key in session.execute(
                select(PostSighting.post_id, PostSighting.url_key).where(PostSighting.post_id.in_(chunk))
            ):
                sightings.setdefault(post_id, []).append(_site_of(url_key))
        by_event: dict[int, list[PostFacts]] = {}
        for r in rows:
            by_event.setdefault(r.event_id, []).append(
                PostFacts(
                    post_id=r.id,
                    published_at=r.published_at,
                    fetched_at=r.fetched_at,
                    platform=r.platform,
                    kind=r.kind,
                    media_tier=r.media_tier,
                    url=r.url,
                    source_id=r.source_id,
                    text=r.text,
                    negative=r.sentiment == "negative",
                    flags=tuple(r.flags or ()),
                    topics=tuple(t["topic_id"] for t in (r.topics or ())),
                    views=r.views,
                    reposts=r.reposts,
                    comments=r.comments,
                    likes=r.likes,
                    sighting_sites=tuple(sightings.get(r.id, ())),
                )
            )
        out: dict[int, dict[str, Any]] = {}
        for event_id, facts in by_event.items():
            computed = compute(facts, now)
            event = session.get(Event, event_id)
            assert event is not None
            event.metrics = computed.as_dict()
            out[event_id] = {"values": computed.values, "flags": computed.flags}
        return out

    def stage_grade(self, session: Session, metrics: dict[int, dict[str, Any]]) -> int:
        """analysis.grade: grade events of monitored topics; an upgrade is a durable signal."""
        signals = 0
        now = self._rt.clock()
        for event_id, measured in metrics.items():
            event = session.get(Event, event_id)
            assert event is not None
            if event.topic_id is None:
                continue  # only what a unit monitors is graded
            result = grading.grade(self._profile, measured["values"], measured["flags"])
            if result is None or not grading.is_upgrade(event.grade_code, result.code):
                continue  # a grade never drops by itself
            session.add(
                GradeSignal(
                    event_id=event_id,
                    created_at=now,
                    kind="graded" if event.grade_code is None else "upgraded",
                    from_code=event.grade_code,
                    to_code=result.code,
                    reasons=[r.as_dict() for r in result.reasons],
                )
            )
            event.grade_code, event.grade = result.code, result.name
            event.reasons = [r.as_dict() for r in result.reasons]
            event.graded_at = now
            signals += 1
        return signals

    def _close_idle(self, session: Session, keys: list[str]) -> None:
        """Events idle longer than the window attract no more posts: mark them closed."""
        for start in range(0, len(keys), 500):
            session.execute(
                update(Event)
                .where(Event.cluster_key.in_(keys[start : start + 500]))
                .values(status=EventStatus.CLOSED.value)
            )

    def _save_state(self, session: Session, cursor: int) -> None:
        state = session.get(PipelineState, STATE_NAME)
        data = self._clusterer.snapshot()
        if state is None:
            session.add(PipelineState(name=STATE_NAME, data=data, cursor=cursor, updated_at=self._rt.clock()))
        else:
            state.data, state.cursor, state.updated_at = data, cursor, self._rt.clock()


def _batch_info(key: str, posts: Sequence[BatchPost]) -> EventInfo:
    """What the batch itself knows of an event the clusterer no longer holds (evicted after
    closing): its posts in this batch. Only reached when more than the clusterer's closed-event
    buffer closed within one batch."""
    mine = [p for p in posts if p.event_key == key]
    first = min(mine, key=lambda p: p.when)
    return EventInfo(
        id=key,
        topic=partition_key(first.topics[0]["topic_id"] if first.topics else None, first.drill_id) or "",
        title=(first.title or first.text)[:80],
        title_post_id=str(first.id),
        keywords=[],
        first_seen=first.when,
        last_seen=max(p.when for p in mine),
        size=len(mine),
        post_ids=[str(p.id) for p in mine],
        open=False,
    )


def partition_key(topic_id: int | None, drill_id: int | None) -> str | None:
    """The clusterer's topic key of a post: its topic, and for a drill post its drill as well, so
    that each drill is clustered apart from real posts and from other drills."""
    if drill_id is None:
        return str(topic_id) if topic_id is not None else None
    return f"{topic_id if topic_id is not None else ''}@drill{drill_id}"


def parse_partition_key(key: str) -> tuple[int | None, int | None]:
    """(topic id, drill id) of a clusterer topic key made by `partition_key`."""
    topic, _, drill = (key or "").partition("@drill")
    return (int(topic) if topic else None, int(drill) if drill else None)


def _site_of(url_key: str) -> str:
    from urllib.parse import urlsplit

    if url_key.startswith(("http://", "https://")):
        return (urlsplit(url_key).hostname or url_key).removeprefix("www.")
    return url_key.split(":", 1)[0]


class _Timer:
    def __init__(self, seconds: dict[str, float]) -> None:
        self._seconds = seconds
        self._stage = ""
        self._start = 0.0

    def __call__(self, stage: str) -> _Timer:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *_exc: object) -> None:
        self._seconds[self._stage] += time.perf_counter() - self._start


class PipelineRunner(PeriodicWorker):
    """Runs the pipeline continuously inside `yuqing serve` on newly stored posts."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__("yuqing-analysis", rt.settings.analysis_tick_seconds)
        self._rt = rt
        self._pipeline: AnalysisPipeline | None = None

    def work(self) -> bool:
        if self._pipeline is None:
            self._pipeline = AnalysisPipeline(self._rt)  # loads the model and the clusterer once
        counts = self._pipeline.run(limit=20_000)
        if counts.posts:
            log.info("analysed %s", counts.as_dict())
        return counts.posts > 0
