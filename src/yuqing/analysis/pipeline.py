"""The analysis pipeline: stored posts → topics → sentiment and incidents → events → metrics → grades.

Each stage is a named function over a batch (`analysis.topics`, `analysis.sentiment`,
`analysis.cluster`, `analysis.metrics`, `analysis.grade`). Posts are taken from the analysis
queue (`analysis_queue`, filled by a trigger on `posts` in the storing transaction), so a post is
seen exactly when it is committed, whatever its id, and leaves the queue in the transaction that
stores its analysis; each post's analysis is written once (its primary key is the post id), so
running the pipeline again over the same posts changes nothing. The clustering stage is stateful;
its snapshot is saved in the same transaction as the batch,
so a restart resumes exactly where the last committed batch ended; each event's metrics are
accumulated as its posts join (`event_accumulators`, same transaction), so measuring an event
never re-reads its posts. A batch that fails leaves nothing behind: the in-memory state is
reloaded from the last commit.

A post the stages cannot analyse (a defect met only by its text) does not hold the queue up:
a batch that fails for a reason other than the database or the lease is analysed again in
halves, so every other post is, and the post that fails alone is moved to the dead-letter list
(stage `analysis`, with the error) once another post has been analysed beside it: a failure
that every post meets (a broken installation) stops the analysis instead, with nothing moved.
`yuqing analyze --retry-failed` queues such posts again.

Flags a post carries are the ones its text supports: the incident model's casualties and
public-safety decisions, and the lexicon's domain flags only for a post that reports an incident
(a horoscope's 「死倔」 or a book's 「死亡」 raise nothing). A post that matches no topic joins an
event only through a link (a repost of, or near-duplicate of, an event's post): unmonitored
chatter never forms events of its own.

Drill posts (from a drill's own source, `yuqing.drills`) go through the same stages, read
without their drill mark, but are clustered in a partition of their own drill (the topic key
`"<topic>@drill<id>"`): a drill post never joins a real event nor a real post a drill's event,
even through a repost link or a near-duplicate. Their events are stored with `is_drill`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from sqlalchemy import CursorResult, Table, delete, func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from yuqing.analysis import grading, steps
from yuqing.analysis.clustering import EventClusterer, EventInfo, headline
from yuqing.analysis.incidents import IncidentModel
from yuqing.analysis.matcher import TopicMatcher
from yuqing.analysis.metrics import EventAccumulator
from yuqing.analysis.models import (
    AnalysisQueue,
    Event,
    EventMetricsState,
    EventStatus,
    GradeSignal,
    LateArrival,
    PipelineState,
    PostAnalysis,
    Topic,
    WordGroup,
)
from yuqing.analysis.sentiment import SentimentModel
from yuqing.analysis.steps import BatchPost, parse_partition_key, partition_key
from yuqing.analysis.topics import compile_matcher
from yuqing.background import PeriodicWorker
from yuqing.db import is_transient, one_of, transaction
from yuqing.drills.policy import post_mark, strip_post_mark
from yuqing.ingest.models import DeadLetter, HotListRank, Post, PostSighting, Source
from yuqing.ingest.records import Rejected
from yuqing.ingest.store import insert_ignoring_conflicts, record_dead_letters
from yuqing.observability import PROCESS
from yuqing.process import is_alive, process_identity
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)


# The signal of an official rebuttal that came after the grade (`AnalysisPipeline._rebutted`).
REBUTTED = "rebutted"
# The dead-letter stage of posts the stages could not analyse.
ANALYSIS_STAGE = "analysis"
# Posts failing alone with none analysed beside them, past which a failing batch is not split
# again: the fault is then taken to be the installation's, not the posts'.
MAX_SUSPECTS = 20


class _TooMany(Exception):
    """`MAX_SUSPECTS` posts failed alone: splitting stops."""


class LeaseLost(RuntimeError):
    """Another pipeline took the lease over while this one was working (it had stalled)."""


STATE_NAME = "analysis"
# Sightings and hot-list ranks stored for already analysed posts (the same story seen again on
# another site, a hot list read again) wait in `late_arrivals`; this many are counted per pass.
_LATE_LIMIT = 50_000
# One pipeline at a time: the lease row names its holder (`data`) and when it last renewed it.
LEASE_STATE = "analysis.lease"
LEASE_SECONDS = 120.0  # the default of `analysis_lease_seconds`
_RELEASED = b"released:"
# Accumulators of this many recently touched events are kept in memory; others are read back.
_CACHED_EVENTS = 20_000
STAGES = steps.STEPS


@dataclass
class PipelineCounts:
    posts: int = 0
    events_touched: int = 0
    signals: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    # another pipeline (`yuqing serve`, another `yuqing analyze`) held the lease: nothing was done
    busy: bool = False
    # posts the stages could not analyse, moved to the dead-letter list
    failed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "busy": self.busy,
            "posts": self.posts,
            "failed": self.failed,
            "events_touched": self.events_touched,
            "signals": self.signals,
            "stage_seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


# One statement per batch on PostgreSQL: the analyses as one JSON document, unpacked server-side.
# An executemany of 2,000 rows with three JSON documents each cost 70 µs per post, a third of the
# batch's database time (arrays of JSON texts cost as much in the driver's escaping).
_INSERT_ANALYSES_PG = sql_text(
    "INSERT INTO post_analysis "
    "(post_id, analysed_at, sentiment, negative, flags, topics, incident, event_id) "
    "SELECT r.post_id, CAST(:analysed_at AS TIMESTAMPTZ), r.sentiment, r.negative, r.flags, r.topics, "
    "r.incident, r.event_id FROM jsonb_to_recordset(CAST(:rows AS JSONB)) "
    "AS r(post_id INTEGER, sentiment VARCHAR, negative FLOAT8, flags JSONB, topics JSONB, incident JSONB, "
    "event_id INTEGER) "
    "ON CONFLICT DO NOTHING"
)


def _insert_analyses_postgres(
    session: Session, posts: Sequence[BatchPost], event_ids: Mapping[str, int], now: dt.datetime
) -> None:
    """Write each post's analysis once (a post analysed before keeps its row), PostgreSQL only.
    A JSON null becomes SQL NULL (no incident read, no event)."""
    rows = [
        {
            "post_id": p.id,
            "sentiment": p.sentiment,
            "negative": float(p.negative),
            "flags": list(p.flags),
            "topics": p.topics,
            "incident": p.incident or None,
            "event_id": event_ids[p.event_key] if p.event_key else None,
        }
        for p in posts
    ]
    session.execute(_INSERT_ANALYSES_PG, {"analysed_at": now, "rows": orjson.dumps(rows).decode("utf-8")})


class AnalysisPipeline:
    """Runs the stages over stored posts; one instance per process (it owns the clusterer)."""

    def __init__(
        self,
        rt: Runtime,
        *,
        batch_size: int = 2000,
        profile: grading.Profile | None = None,
        keep_lease: bool = False,
    ) -> None:
        self._rt = rt
        self._batch_size = batch_size
        # A worker (`yuqing worker`) keeps the lease between runs (renewed by each run) and
        # releases it when it stops; others release it after each run.
        self._keep_lease = keep_lease
        # A profile given by the caller stays; else the configured one is followed as it is edited
        # (the console saves it while `yuqing serve` runs): see `_refresh_profile`.
        self._fixed_profile = profile is not None
        self._profile = profile or grading.load_profile(rt.settings.plan_profile or None)
        self._sentiment = SentimentModel.load()
        self._incidents = IncidentModel.load()
        self._matcher: TopicMatcher[int] | None = None
        self._topics_version: tuple[Any, ...] | None = None
        self._drill_sources: dict[int, int] = {}  # source id -> drill id
        self._lock = threading.Lock()
        # event id -> its running metrics, for recently touched events (the table has them all)
        self._accumulators: OrderedDict[int, EventAccumulator] = OrderedDict()
        # posts whose analysis failed alone (post id -> the error), left out of the batches; they
        # go to the dead-letter list once another post has been analysed (`_isolate`)
        self._suspects: dict[int, str] = {}
        # every post of a batch failed alone: the fault is taken to be the installation's, and
        # failing batches are not split again until one commits
        self._halted = False
        # Who holds the lease: `yuqing worker` reports its heartbeat under the same identity. The
        # process's `host:pid:start` (`yuqing.process`) lets a process on the same machine see
        # that a holder was killed and take over at once, instead of after the lease runs out.
        self.identity = f"{process_identity()}:{_boot_id()}:{uuid.uuid4().hex[:12]}"
        self._identity = self.identity.encode()
        self._load_state()

    def _load_state(self) -> None:
        """The clusterer as of the last committed batch."""
        self._accumulators.clear()
        with self._rt.sessions() as session:
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
    def run(
        self, *, limit: int | None = None, on_batch: Callable[[int], None] | None = None
    ) -> PipelineCounts:
        """Analyse every stored post not yet analysed (at most `limit`), batch by batch;
        `on_batch` hears the number of posts of each batch committed (for a progress bar)."""
        total = PipelineCounts()
        with self._lock:
            if not self._acquire():
                total.busy = True
                return total
            try:
                self._run(total, limit, on_batch)
            finally:
                if not self._keep_lease:
                    self._release()
        return total

    def release(self) -> None:
        """Give the lease up now (a worker stopping), so another takes over without waiting."""
        with self._lock:
            self._release()

    def _run(
        self, total: PipelineCounts, limit: int | None, on_batch: Callable[[int], None] | None = None
    ) -> None:
        self._refresh_matcher()
        self._refresh_profile()
        while limit is None or total.posts < limit:
            size = self._batch_size if limit is None else min(self._batch_size, limit - total.posts)
            posts = self._next_batch(size)
            if not posts:
                self._process_late(total)
                break
            try:
                self._process(posts, total)
            except Exception as exc:
                # The stages changed the clusterer before the batch failed to commit: start
                # again from the committed state, so the batch is analysed as if new.
                self._load_state()
                if _transient(exc) or self._halted:
                    raise
                self._isolate(posts, total, exc)
            else:
                self._halted = False
                if self._suspects:
                    self._dead_letter(total)
            if on_batch is not None:
                on_batch(len(posts))

    def _isolate(self, posts: list[BatchPost], total: PipelineCounts, exc: Exception) -> None:
        """A batch failed in the stages, not in the database: analyse it again in halves, in
        order, down to the posts that fail alone. Those are left out of later batches and moved
        to the dead-letter list once another post has been analysed, here or in a later batch.
        When only failures are found (`MAX_SUSPECTS` of them and nothing analysed), the fault is
        not in the posts: the batch's error is raised with nothing moved (the posts stay queued),
        and failing batches are not split again until one commits."""
        analysed = [0]
        with contextlib.suppress(_TooMany):
            self._bisect(posts, total, exc, analysed)
        if analysed[0]:
            self._halted = False
            self._dead_letter(total)
            return
        if len(self._suspects) >= MAX_SUSPECTS:
            self._halted = True
            self._suspects.clear()  # the fault is not theirs
        raise exc

    def _bisect(
        self, posts: list[BatchPost], total: PipelineCounts, exc: Exception, analysed: list[int]
    ) -> None:
        """Analyse ``posts``, which failed together with ``exc``, in halves; ``analysed[0]``
        counts the posts committed."""
        if len(posts) == 1:
            post = posts[0]
            log.error("analysis of post %d failed", post.id, exc_info=exc)
            self._suspects[post.id] = f"{type(exc).__name__}: {exc}"[:1000]
            if len(self._suspects) >= MAX_SUSPECTS and not analysed[0]:
                raise _TooMany
            return
        middle = len(posts) // 2
        for half in (posts[:middle], posts[middle:]):
            fresh = [_unanalysed(p) for p in half]
            try:
                self._process(fresh, total)
            except Exception as failure:
                self._load_state()
                if _transient(failure):
                    raise
                self._bisect(fresh, total, failure, analysed)
            else:
                analysed[0] += len(fresh)

    def _dead_letter(self, total: PipelineCounts) -> None:
        """Move the posts that failed alone to the dead-letter list and out of the queue (they
        stay stored, unanalysed; `yuqing analyze --retry-failed` queues them again)."""
        suspects = self._suspects
        with transaction(self._rt.sessions) as session:
            self._renew(session)
            sources: dict[int, int] = {
                row.id: row.source_id
                for row in session.execute(
                    select(Post.id, Post.source_id).where(one_of(session, Post.id, sorted(suspects)))
                )
            }
            for post_id, error in sorted(suspects.items()):
                if post_id not in sources:
                    continue  # removed meanwhile
                rejected = Rejected(
                    f"post={post_id}",
                    ANALYSIS_STAGE,
                    f"信息 {post_id} 无法分析，已移出分析队列（{error}）；"
                    "问题修复后可用 yuqing analyze --retry-failed 重新分析",
                )
                record_dead_letters(session, [rejected], sources[post_id], None)
            session.execute(
                delete(AnalysisQueue).where(one_of(session, AnalysisQueue.post_id, sorted(suspects)))
            )
        self._suspects = {}
        total.failed += len(suspects)
        log.warning("analysis: %d posts could not be analysed; moved to the dead-letter list", len(suspects))

    # -- the lease: one pipeline at a time -----------------------------------------------------
    def _acquire(self) -> bool:
        """Take the pipeline lease unless another live pipeline holds it. Taken over from another
        process, the clusterer is reloaded: that process analysed posts since."""
        now = self._rt.clock()
        with transaction(self._rt.sessions) as session:
            table = cast(Table, PipelineState.__table__)
            session.execute(
                insert_ignoring_conflicts(table, session.get_bind().dialect.name),
                [{"name": LEASE_STATE, "data": _RELEASED, "cursor": 0, "updated_at": now}],
            )
            row = session.execute(
                select(PipelineState.data, PipelineState.updated_at).where(PipelineState.name == LEASE_STATE)
            ).one()
            holder = bytes(row.data)
            live = row.updated_at > now - dt.timedelta(seconds=self._rt.settings.analysis_lease_seconds)
            # a holder of this machine that no longer runs (killed, crashed) holds nothing
            held = live and holder != self._identity and not holder.startswith(_RELEASED)
            if held and _holder_alive(holder) is not False:
                return False
            taken = session.execute(
                update(PipelineState)
                .where(PipelineState.name == LEASE_STATE, PipelineState.data == holder)
                .values(data=self._identity, updated_at=now)
            )
            if cast(CursorResult[Any], taken).rowcount != 1:
                return False  # another pipeline took it between our read and our write
        previous = holder.removeprefix(_RELEASED)
        if previous and previous != self._identity:
            self._load_state()
        return True

    def _renew(self, session: Session) -> None:
        """In the batch's transaction: the batch commits only while this pipeline holds the lease."""
        renewed = session.execute(
            update(PipelineState)
            .where(PipelineState.name == LEASE_STATE, PipelineState.data == self._identity)
            .values(updated_at=self._rt.clock())
        )
        if cast(CursorResult[Any], renewed).rowcount != 1:
            raise LeaseLost("另一个分析进程接管了分析（本进程的租约已过期），本批次未提交")

    def _release(self) -> None:
        with transaction(self._rt.sessions) as session:
            session.execute(
                update(PipelineState)
                .where(PipelineState.name == LEASE_STATE, PipelineState.data == self._identity)
                .values(data=_RELEASED + self._identity)
            )

    def _next_batch(self, size: int) -> list[BatchPost]:
        # Read before the posts: a drill's source is committed before any of its posts, so every
        # drill post of the batch is recognised.
        self._refresh_drill_sources()
        # The queue's head first, then those posts by id: a join ordered by the queue let
        # PostgreSQL's planner, with statistics from before the analysis, walk the posts' primary
        # key from the first post to the queue's head for every batch (a merge join), so each
        # batch cost more than the last (640,149 rows: 4,400 posts/s, against 7,100 on 100,000).
        with self._rt.sessions() as session:
            queued = select(AnalysisQueue.post_id)
            if self._suspects:
                queued = queued.where(AnalysisQueue.post_id.not_in(sorted(self._suspects)))
            head = list(session.scalars(queued.order_by(AnalysisQueue.post_id).limit(size)))
            if not head:
                return []
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
                    Post.kind,
                    Post.media_tier,
                    Post.url,
                    Post.author_verified,
                    Post.author_kind,
                    Post.views,
                    Post.reposts,
                    Post.comments,
                    Post.likes,
                )
                .where(one_of(session, Post.id, head))
                .order_by(Post.id)
            ).all()
        orphans = set(head).difference(r.id for r in rows)
        if orphans:  # queued, but the post is gone (removed by hand): nothing to analyse, ever
            log.warning("analysis queue: %d queued posts no longer exist; dropped", len(orphans))
            with transaction(self._rt.sessions) as session:
                session.execute(
                    delete(AnalysisQueue).where(one_of(session, AnalysisQueue.post_id, sorted(orphans)))
                )
            if not rows:  # the whole head was such entries: read the queue on
                return self._next_batch(size)
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
                    published_at=r.published_at,
                    fetched_at=r.fetched_at,
                    kind=r.kind,
                    media_tier=r.media_tier,
                    url=r.url,
                    source_id=r.source_id,
                    author_verified=r.author_verified,
                    author_kind=r.author_kind,
                    views=r.views,
                    reposts=r.reposts,
                    comments=r.comments,
                    likes=r.likes,
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
        batch_seconds = dict.fromkeys(STAGES, 0.0)
        timed = _Timer(batch_seconds)
        with timed("analysis.topics"):
            self.stage_topics(posts)
        with timed("analysis.sentiment"):
            self.stage_sentiment(posts)
        with timed("analysis.cluster"):
            self.stage_cluster(posts)
            # Events this batch closed (a later post moved the clock past their window) are no
            # longer open in the clusterer; their final state comes from the drained list.
            # One that flared up again later in the batch (reopened) is open, not closed.
            drained = self._clusterer.drain_closed()
            closed = {info.id: info for info in drained if not self._clusterer.is_open(info.id)}
        with transaction(self._rt.sessions) as session:
            with timed("analysis.cluster"):
                touched = self._store(session, posts, closed)
            with timed("analysis.metrics"):
                metrics = self.stage_metrics(session, touched, posts)
            with timed("analysis.grade"):
                total.signals += self.stage_grade(session, metrics)
            self._close_idle(session, list(closed))
            self._renew(session)
            ids = [p.id for p in posts]
            for start in range(0, len(ids), 500):
                done = ids[start : start + 500]
                session.execute(delete(AnalysisQueue).where(one_of(session, AnalysisQueue.post_id, done)))
            self._cursor = max(self._cursor, ids[-1])
            self._save_state(session, self._cursor)
        for event_id, key in touched.items():
            if key in closed:  # no post joins a closed event: its accumulator is not needed again
                self._accumulators.pop(event_id, None)
        total.posts += len(posts)
        total.events_touched += len(touched)
        for stage, spent in batch_seconds.items():
            total.seconds[stage] = total.seconds.get(stage, 0.0) + spent
        PROCESS.add_steps(len(posts), batch_seconds)

    def _process_late(self, total: PipelineCounts) -> None:
        """With no new post to analyse: what arrived for posts analysed before (a hot list read
        again, a copy seen on another site) still updates and regrades their events."""
        try:
            with transaction(self._rt.sessions) as session:
                metrics = self.stage_metrics(session, {}, [])
                total.signals += self.stage_grade(session, metrics)
        except Exception:
            self._load_state()
            raise

    def stage_topics(self, posts: Sequence[BatchPost]) -> None:
        """analysis.topics: every monitored topic whose rule matches, with the terms that fired."""
        steps.match_topics(self._matcher, posts)

    def stage_sentiment(self, posts: Sequence[BatchPost]) -> None:
        """analysis.sentiment: see :func:`yuqing.analysis.steps.read_posts`."""
        steps.read_posts(self._sentiment, self._incidents, posts)

    def stage_cluster(self, posts: Sequence[BatchPost]) -> None:
        """analysis.cluster: see :func:`yuqing.analysis.steps.cluster_posts`; the links to posts
        the clusterer no longer holds are restored from the store first."""
        roots = self._root_ids(posts)
        duplicates = (str(p.near_duplicate_of) for p in posts if p.near_duplicate_of)
        self._relink(roots.values(), duplicates)
        steps.cluster_posts(self._clusterer, posts, roots)

    def _relink(self, *linked: Iterable[str]) -> None:
        """Links to posts the clusterer no longer holds (its snapshot keeps each event's newest
        posts, and forgets closed events after a restart): found through their stored analysis,
        so a repost of an old post still joins, its event open or closed."""
        unknown = sorted({int(i) for ids in linked for i in ids if not self._clusterer.knows(i)})
        if not unknown:
            return
        with self._rt.sessions() as session:
            for start in range(0, len(unknown), 500):
                for post_id, key, topic_id, drill_id in session.execute(
                    select(PostAnalysis.post_id, Event.cluster_key, Event.topic_id, Event.drill_id)
                    .join(Event, Event.id == PostAnalysis.event_id)
                    .where(one_of(session, PostAnalysis.post_id, unknown[start : start + 500]))
                ):
                    topic = partition_key(topic_id, drill_id) or ""
                    self._clusterer.relink(str(post_id), key, topic)

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
                    select(Post.url_key, Post.id).where(one_of(session, Post.url_key, chunk))
                ):
                    if url_key is not None:
                        found[url_key] = post_id
            # A root known by its link is found by its platform id (a comment names its note).
            missing = sorted({k.split(":", 1)[1] for k in keys if k not in found})
            for start in range(0, len(missing), 500):
                rows = session.execute(
                    select(Post.platform, Post.external_id, Post.id).where(
                        one_of(session, Post.external_id, missing[start : start + 500]),
                        Post.canonical_url.is_not(None),
                        Post.external_id.is_not(None),
                    )
                )
                for platform, external_id, post_id in rows:
                    found.setdefault(f"{platform}:{external_id}", post_id)
        return {post_id: str(found[key]) for post_id, key in wanted.items() if key in found}

    def _store(
        self, session: Session, posts: Sequence[BatchPost], closed: dict[str, EventInfo]
    ) -> dict[int, str]:
        """Create or update the events of this batch and write each post's analysis once."""
        keys = sorted({p.event_key for p in posts if p.event_key})
        existing: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            for cluster_key, stored_id in session.execute(
                select(Event.cluster_key, Event.id).where(
                    one_of(session, Event.cluster_key, keys[start : start + 500])
                )
            ):
                existing[cluster_key] = stored_id
        touched: dict[int, str] = {}
        now = self._rt.clock()
        late = {p.event_key for p in posts if p.late}
        for key in keys:
            if key in late and key in existing and key not in closed and not self._clusterer.event(key):
                # a closed event its late reposts join: it grows; its title and words stay
                mine = [p for p in posts if p.event_key == key]
                grown = session.get(Event, existing[key])
                assert grown is not None
                grown.first_seen = min(grown.first_seen, *(p.when for p in mine))
                grown.last_seen = max(grown.last_seen, *(p.when for p in mine))
                grown.post_count += len(mine)
                touched[grown.id] = key
                continue
            whens = [p.when for p in posts if p.event_key == key]  # late reposts included
            joined = len(whens)
            info = self._clusterer.event(key, with_posts=False) or closed.get(key) or _batch_info(key, posts)
            topic_id, drill_id = parse_partition_key(info.topic)
            name = headline(info.title)
            title = name if drill_id is None else post_mark(drill_id) + name
            title_post = int(info.title_post_id) if info.title_post_id else None
            event_id = existing.get(key)
            if event_id is None:
                event = Event(
                    cluster_key=key,
                    topic_id=topic_id,
                    title=title,
                    title_post_id=title_post,
                    keywords=list(info.keywords),
                    entities=list(info.entities),
                    first_seen=min(info.first_seen, *whens),
                    last_seen=max(info.last_seen, *whens),
                    status=EventStatus.OPEN.value,
                    post_count=joined,
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
                event.entities = list(info.entities)
                event.first_seen = min(event.first_seen, info.first_seen, *whens)
                event.last_seen = max(event.last_seen, info.last_seen, *whens)
                event.post_count += joined  # the batch's posts, late reposts included
                event.status = EventStatus.OPEN.value if info.open else EventStatus.CLOSED.value
            touched[event_id] = key
        ids = {key: event_id for event_id, key in touched.items()}
        if session.get_bind().dialect.name == "postgresql":
            _insert_analyses_postgres(session, posts, ids, now)
            return touched
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
                "incident": p.incident or None,
                "event_id": ids[p.event_key] if p.event_key else None,
            }
            for p in posts
        ]
        session.execute(insert_ignoring_conflicts(table, session.get_bind().dialect.name), rows)
        return touched

    def stage_metrics(
        self, session: Session, touched: dict[int, str], posts: Sequence[BatchPost]
    ) -> dict[int, dict[str, Any]]:
        """analysis.metrics: add the batch's posts to their events' running metrics, and the sites
        where already analysed posts were seen again; measure the events touched.

        Each event's accumulator is read once (then kept in memory while it is busy) and written
        back in the batch's transaction: a post costs the same whether its event has 10 posts or
        100,000."""
        by_event: dict[int, list[BatchPost]] = {}
        ids = {key: event_id for event_id, key in touched.items()}
        for post in posts:
            if post.event_key:
                by_event.setdefault(ids[post.event_key], []).append(post)
        # Every sighting and rank is counted once: those of the batch's posts read here, the rest
        # (stored for posts analysed before, or committed after this read) from `late_arrivals`.
        batch = [p.id for p in posts]
        sightings, seen = self._sightings(session, batch)
        ranks, ranked = self._hot_ranks(session, batch)
        late, late_seen = self._late_sightings(session, seen)
        late_ranks, late_ranked = self._late_hot_ranks(session, ranked)
        self._consume(session, "sighting", seen | late_seen)
        self._consume(session, "rank", ranked | late_ranked)
        measured = set(by_event) | set(late) | set(late_ranks)
        if not measured:
            return {}
        accumulators = self._accumulators_for(session, sorted(measured))
        for event_id, mine in by_event.items():
            acc = accumulators[event_id]
            for post in mine:
                acc.add(post.facts(tuple(sightings.get(post.id, ()))))
                if post.id in ranks:
                    acc.add_rank(ranks[post.id])
        for event_id, sites in late.items():
            accumulators[event_id].add_sites(sites)
        for event_id, rank in late_ranks.items():
            accumulators[event_id].add_rank(rank)
        now = self._rt.clock()
        out: dict[int, dict[str, Any]] = {}
        for event_id in sorted(measured):
            acc = accumulators[event_id]
            computed = acc.result(now)
            event = session.get(Event, event_id)
            assert event is not None
            event.metrics = computed.as_dict()
            state = session.get(EventMetricsState, event_id)
            if state is None:
                session.add(EventMetricsState(event_id=event_id, data=acc.to_json(), updated_at=now))
            else:
                state.data, state.updated_at = acc.to_json(), now
            out[event_id] = {
                "values": computed.values,
                "flags": computed.flags,
                "evidence": computed.evidence,
            }
        return out

    def _accumulators_for(self, session: Session, event_ids: list[int]) -> dict[int, EventAccumulator]:
        """The running metrics of these events: from memory, else as last stored, else new."""
        cache = self._accumulators
        missing = [i for i in event_ids if i not in cache]
        for start in range(0, len(missing), 500):
            for event_id, data in session.execute(
                select(EventMetricsState.event_id, EventMetricsState.data).where(
                    one_of(session, EventMetricsState.event_id, missing[start : start + 500])
                )
            ):
                cache[event_id] = EventAccumulator.from_json(data)
        out: dict[int, EventAccumulator] = {}
        for event_id in event_ids:
            acc = cache.get(event_id)
            if acc is None:
                acc = cache[event_id] = EventAccumulator()
            cache.move_to_end(event_id)
            out[event_id] = acc
        while len(cache) > _CACHED_EVENTS:
            cache.popitem(last=False)  # stored with its event: read back when touched again
        return out

    @staticmethod
    def _sightings(session: Session, post_ids: list[int]) -> tuple[dict[int, list[str]], set[int]]:
        """Sites where each of these posts was seen besides its own source, and the sightings read."""
        out: dict[int, list[str]] = {}
        read: set[int] = set()
        for start in range(0, len(post_ids), 500):
            chunk = post_ids[start : start + 500]
            for row_id, post_id, url_key in session.execute(
                select(PostSighting.id, PostSighting.post_id, PostSighting.url_key).where(
                    one_of(session, PostSighting.post_id, chunk)
                )
            ):
                read.add(row_id)
                out.setdefault(post_id, []).append(_site_of(url_key))
        return out, read

    @staticmethod
    def _hot_ranks(session: Session, post_ids: list[int]) -> tuple[dict[int, int], set[int]]:
        """The best place each of these posts held on a hot list, for those that were on one, and
        the ranks read."""
        out: dict[int, int] = {}
        read: set[int] = set()
        for start in range(0, len(post_ids), 500):
            chunk = post_ids[start : start + 500]
            for row_id, post_id, rank in session.execute(
                select(HotListRank.id, HotListRank.post_id, HotListRank.rank).where(
                    one_of(session, HotListRank.post_id, chunk)
                )
            ):
                read.add(row_id)
                out[post_id] = min(out.get(post_id, rank), rank)
        return out, read

    @staticmethod
    def _late(
        session: Session, kind: str, value: Any, table: Any, counted: set[int]
    ) -> list[tuple[int, Any]]:
        """Late arrivals of `kind` for posts analysed before (or committed after the batch's own
        read, which `counted` holds): (event id or None, `value` of the row or None), and the
        rows read are added to `counted`. Those of posts not analysed yet wait for their batch."""
        rows = session.execute(
            select(LateArrival.row_id, value, PostAnalysis.event_id)
            .join(PostAnalysis, PostAnalysis.post_id == LateArrival.post_id)
            .outerjoin(table, table.id == LateArrival.row_id)
            .where(LateArrival.kind == kind)
            .order_by(LateArrival.row_id)
            .limit(_LATE_LIMIT)
        ).all()
        out = [(event_id, found) for row_id, found, event_id in rows if row_id not in counted]
        counted.update(row_id for row_id, _found, _event in rows)
        return out

    def _late_hot_ranks(self, session: Session, counted: set[int]) -> tuple[dict[int, int], set[int]]:
        """The best new place on a hot list of posts analysed before, by event: a hot list read
        again (every few minutes) moves its entries, and a rise can raise the grade."""
        read = set(counted)
        out: dict[int, int] = {}
        for event_id, rank in self._late(session, "rank", HotListRank.rank, HotListRank, read):
            if event_id is not None and rank is not None:
                out[event_id] = min(out.get(event_id, rank), rank)
        return out, read - counted

    def _late_sightings(self, session: Session, counted: set[int]) -> tuple[dict[int, list[str]], set[int]]:
        """Sites of sightings of posts analysed before, by event."""
        read = set(counted)
        out: dict[int, list[str]] = {}
        for event_id, url_key in self._late(session, "sighting", PostSighting.url_key, PostSighting, read):
            if event_id is not None and url_key is not None:
                out.setdefault(event_id, []).append(_site_of(url_key))
        return out, read - counted

    @staticmethod
    def _consume(session: Session, kind: str, row_ids: set[int]) -> None:
        """Counted: out of `late_arrivals`, in the transaction that counted them."""
        ids = sorted(row_ids)
        for start in range(0, len(ids), 500):
            session.execute(
                delete(LateArrival).where(
                    LateArrival.kind == kind, one_of(session, LateArrival.row_id, ids[start : start + 500])
                )
            )

    def stage_grade(self, session: Session, metrics: dict[int, dict[str, Any]]) -> int:
        """analysis.grade: grade events of monitored topics; an upgrade is a durable signal."""
        signals = 0
        now = self._rt.clock()
        for event_id, measured in metrics.items():
            event = session.get(Event, event_id)
            assert event is not None
            if event.topic_id is None:
                continue  # only what a unit monitors is graded
            result = grading.grade(
                self._profile, measured["values"], measured["flags"], measured.get("evidence")
            )
            if event.grade_code is not None:
                self._rebutted(session, event, measured, result, now)
            # a grade never drops by itself; a person's grade stands until the evidence goes past
            # what the pipeline had computed when the person set it
            floor = event.grade_code
            if event.grade_set_by and grading.is_upgrade(floor, event.system_grade_code):
                floor = event.system_grade_code
            if result is None or not grading.is_upgrade(floor, result.code):
                continue
            event.grade_set_by = event.grade_note = event.system_grade_code = None
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

    @staticmethod
    def _rebutted(
        session: Session,
        event: Event,
        measured: Mapping[str, Any],
        result: grading.Grade | None,
        now: dt.datetime,
    ) -> int:
        """An official rebuttal arrived after the event was graded on claimed deaths or a public
        threat: a durable signal (once per event), so alerting tells whoever handles it."""
        if grading.rebutted_after_grading(measured, event.reasons or []) is None:
            return 0
        signalled = session.scalar(
            select(GradeSignal.id)
            .where(GradeSignal.event_id == event.id, GradeSignal.kind == REBUTTED)
            .limit(1)
        )
        if signalled is not None:
            return 0
        session.add(
            GradeSignal(
                event_id=event.id,
                created_at=now,
                kind=REBUTTED,
                from_code=event.grade_code,
                to_code=result.code if result is not None else "",
                reasons=[r.as_dict() for r in result.reasons] if result is not None else [],
            )
        )
        return 1

    def _close_idle(self, session: Session, keys: list[str]) -> None:
        """Events idle longer than the window attract no more posts: mark them closed."""
        for start in range(0, len(keys), 500):
            session.execute(
                update(Event)
                .where(one_of(session, Event.cluster_key, keys[start : start + 500]))
                .values(status=EventStatus.CLOSED.value)
            )

    def _save_state(self, session: Session, cursor: int) -> None:
        """The clusterer's snapshot in the batch's transaction (`cursor`: the highest post id
        analysed, for progress only; what is left to analyse is the queue)."""
        now = self._rt.clock()
        data = self._clusterer.snapshot()
        state = session.get(PipelineState, STATE_NAME)
        if state is None:
            session.add(PipelineState(name=STATE_NAME, data=data, cursor=cursor, updated_at=now))
        else:
            state.data, state.cursor, state.updated_at = data, cursor, now


def _transient(exc: BaseException) -> bool:
    """A failure of the database or of the lease, not of the posts: the batch is tried again later
    as it is."""
    return isinstance(exc, LeaseLost) or is_transient(exc)


def _unanalysed(post: BatchPost) -> BatchPost:
    """The post as read from the store, before the stages set their results on it."""
    return dataclasses.replace(
        post, topics=[], sentiment="neutral", negative=0.0, flags=(), incident={}, event_key=None, late=False
    )


def _holder_alive(holder: bytes) -> bool | None:
    """Whether the process holding the lease runs: False only when it is of this very machine (same
    boot, same PID namespace) and gone; None when that cannot be told (another machine, which may
    share the host name and the namespace's number; an identity from an older version)."""
    parts = holder.decode(errors="replace").split(":")
    if len(parts) != 5 or not parts[3] or parts[3] != _boot_id():
        return None
    return is_alive(":".join(parts[:3]))


@functools.lru_cache(maxsize=1)
def _boot_id() -> str:
    """This machine's current boot (Linux: a random id per boot); "" where it cannot be read, and
    then no holder is judged dead before its lease runs out."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip().replace("-", "")[:16]
    except OSError:
        return ""


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
        entities=[],
        first_seen=first.when,
        last_seen=max(p.when for p in mine),
        size=len(mine),
        post_ids=[str(p.id) for p in mine],
        open=False,
    )


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
        # Woken by new posts, it waits half a second for more: batches of a few hundred posts at
        # 1,000 posts/s, not one per delivery (each batch saves the clusterer's state).
        super().__init__("yuqing-analysis", rt.settings.analysis_tick_seconds, coalesce=0.5)
        self._rt = rt
        self._pipeline: AnalysisPipeline | None = None

    def work(self) -> bool:
        if self._pipeline is None:
            self._pipeline = AnalysisPipeline(self._rt)  # loads the model and the clusterer once
        counts = self._pipeline.run(limit=20_000)
        if counts.busy:
            log.info("another pipeline holds the lease; this one waits for its turn")
        if counts.posts:
            log.info("analysed %s", counts.as_dict(), extra={"step": "analysis", "posts": counts.posts})
        return counts.posts > 0


def requeue_failed(rt: Runtime) -> int:
    """Queue again the posts moved to the dead-letter list because the stages could not analyse
    them (after the fault is fixed); returns how many were queued."""
    with transaction(rt.sessions) as session:
        waiting = _failed_posts(session)
        if waiting:
            table = cast(Table, AnalysisQueue.__table__)
            now = rt.clock()
            session.execute(
                insert_ignoring_conflicts(table, session.get_bind().dialect.name),
                [{"post_id": post_id, "queued_at": now} for post_id in waiting],
            )
    return len(waiting)


def _failed_posts(session: Session) -> list[int]:
    """Stored posts the stages could not analyse: listed as dead letters, neither analysed since
    nor queued again."""
    places = session.scalars(select(DeadLetter.location).where(DeadLetter.stage == ANALYSIS_STAGE).distinct())
    ids = sorted(
        {int(place[5:]) for place in places if place and place.startswith("post=") and place[5:].isdigit()}
    )
    failed: list[int] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stored = set(session.scalars(select(Post.id).where(one_of(session, Post.id, chunk))))
        done = set(
            session.scalars(select(PostAnalysis.post_id).where(one_of(session, PostAnalysis.post_id, chunk)))
        )
        queued = set(
            session.scalars(
                select(AnalysisQueue.post_id).where(one_of(session, AnalysisQueue.post_id, chunk))
            )
        )
        failed.extend(sorted(stored - done - queued))
    return failed


def pipeline_status(rt: Runtime) -> dict[str, Any]:
    """Posts stored, analysed and waiting; the pipeline holding (or last holding) the lease and the
    workers (`yuqing worker`) that reported lately; with NATS configured, the announcements still
    to publish and those on the stream."""
    now = rt.clock()
    with rt.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Post)) or 0
        analysed = session.scalar(select(func.count()).select_from(PostAnalysis)) or 0
        backlog = session.scalar(select(func.count()).select_from(AnalysisQueue)) or 0
        unannounced = session.scalar(
            select(func.count()).select_from(AnalysisQueue).where(AnalysisQueue.announced_at.is_(None))
        )
        oldest = session.scalar(select(func.min(AnalysisQueue.queued_at)))
        failed = len(_failed_posts(session))
        lease = session.get(PipelineState, LEASE_STATE)
        workers: list[dict[str, Any]] = []
        holder_id = None
        if lease is not None and lease.data:
            holder = bytes(lease.data)
            released = holder.startswith(_RELEASED)
            holder_id = holder.removeprefix(_RELEASED).decode(errors="replace")
            parts = holder_id.split(":")
            host, pid = (parts[0], parts[1]) if len(parts) >= 2 else (parts[0], "")
            host = host.split("~", 1)[0]  # the PID namespace is for liveness, not for people
            expiry = dt.timedelta(seconds=rt.settings.analysis_lease_seconds)
            live = not released and lease.updated_at > now - expiry
            workers.append(
                {
                    "host": host,
                    "pid": int(pid) if pid.isdigit() else None,
                    "id": holder_id,
                    "state": "working" if live else ("idle" if released else "expired"),
                    "last_seen": lease.updated_at.isoformat(),
                    "lease": True,
                }
            )
    from yuqing.analysis import stream

    # A worker's heartbeat is the lease holder's row only under the very same identity: containers
    # on the host network share the host name, and each may run yuqing as the same pid.
    for row in stream.worker_rows(rt):
        if workers and row["id"] == holder_id:
            workers[0].update({k: v for k, v in row.items() if k in ("analysed",)})
            continue
        row["lease"] = False
        workers.append(row)
    out: dict[str, Any] = {
        "mode": "nats" if rt.settings.nats_url else "embedded",
        "stored": int(stored),
        "analysed": int(analysed),
        "backlog": int(backlog),
        "failed": failed,
        "oldest_waiting_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "workers": workers,
    }
    if rt.settings.nats_url:
        out["unannounced"] = int(unannounced or 0)
        link = stream.NatsLink(rt.settings.nats_url, timeout=2.0)
        try:
            out["stream"] = link.pending()
        except stream.StreamError as exc:
            out["stream"] = {"error": str(exc)}
        finally:
            link.close()
    return out
