"""Tables of the analysis domain: topics and word groups, each post's analysis, events, grade signals."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, false
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime, utcnow


class EventStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # idle longer than the window: no longer attracts posts


class WordGroup(Base):
    """A named list of words used in rules as @name: 地域词, 主体词, 事件词, 排除词 and others."""

    __tablename__ = "word_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="other")
    words: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The unit whose monitors keep the group (None: the top unit). Changing it also needs the
    # rights of every unit whose topics use it (`yuqing.analysis.topics.set_word_group`). A units.id
    # without a declared foreign key, like `events.drill_id`: adding one would rebuild the table on
    # SQLite.
    owner_unit_id: Mapped[int | None] = mapped_column(Integer)


class Topic(Base):
    """A monitored topic (专题): a rule over words, owned by a unit."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    rule: Mapped[str] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PostAnalysis(Base):
    """What the pipeline found in one post. Written once per post: re-analysing changes nothing."""

    __tablename__ = "post_analysis"
    __table_args__ = (Index("ix_post_analysis_event", "event_id"),)

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), primary_key=True)
    analysed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sentiment: Mapped[str] = mapped_column(String(10))
    negative: Mapped[float] = mapped_column(Float)
    flags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    topics: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    # What the incident model read in the post: {"incident", "casualties", "public_safety",
    # "domain", "score"} (yuqing.analysis.incidents); None for posts analysed before it existed.
    incident: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # None when the post joined no event: it matched no topic and links to no event's post.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_status_last_seen", "status", "last_seen"),
        Index(
            "ix_events_drill_id",
            "drill_id",
            sqlite_where=sql_text("drill_id IS NOT NULL"),
            postgresql_where=sql_text("drill_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The clustering stage's own id of the event, so its state and the table stay in step.
    cluster_key: Mapped[str] = mapped_column(String(100), unique=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    title: Mapped[str] = mapped_column(Text, default="")
    title_post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"))
    keywords: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # The places, hospitals, schools, companies, offices and people its posts name most:
    # [{"kind", "name", "posts"}], from the clustering stage.
    entities: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=EventStatus.OPEN.value)
    post_count: Mapped[int] = mapped_column(Integer, default=0)
    grade_code: Mapped[str | None] = mapped_column(String(4))
    grade: Mapped[str | None] = mapped_column(String(10))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    graded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A person may set the grade, with a reason; the pipeline then never lowers it.
    grade_set_by: Mapped[str | None] = mapped_column(String(200))
    grade_note: Mapped[str | None] = mapped_column(Text)
    # While a person's grade stands (a case regraded with a reason): the grade the pipeline had
    # computed then. The pipeline raises the event again only past it, on new evidence.
    system_grade_code: Mapped[str | None] = mapped_column(String(4))
    # Graded when its newest post was already long past (`alert_max_quiet_hours`), or located
    # plainly elsewhere (属地管理): no alert was raised then. New posts judge it again (active
    # again, or no longer plainly elsewhere) and raise the alert it held (yuqing.alerts.service).
    alert_held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    # its post count at that judgement: it is judged again only once it has grown
    alert_held_posts: Mapped[int | None] = mapped_column(Integer)
    # held because it is located plainly elsewhere (not only as old): it keeps that place while
    # the places its posts name are still elsewhere (yuqing.alerts.jurisdiction, `held`)
    alert_held_elsewhere: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An event of a drill's posts (yuqing.drills): never mixed with real posts, left out of real
    # lists and statistics. Set by the pipeline from the posts' source.
    is_drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    drill_id: Mapped[int | None] = mapped_column(Integer)


class EventMetricsState(Base):
    """An event's running metrics (`yuqing.analysis.metrics.EventAccumulator`), updated as posts
    join, so that measuring an event never re-reads its posts."""

    __tablename__ = "event_accumulators"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GradeSignal(Base):
    """An event graded for the first time or upgraded: what alerting reads (durable, in order)."""

    __tablename__ = "grade_signals"
    __table_args__ = (Index("ix_grade_signals_handled", "handled_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # "graded" | "upgraded" | "flare_up"
    from_code: Mapped[str | None] = mapped_column(String(4))
    to_code: Mapped[str] = mapped_column(String(4))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    # Set by the alerting transaction that turned the signal into an alert; null while it waits.
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AnalysisQueue(Base):
    """A stored post waiting for the pipeline. A trigger on `posts` (migration 0011) enqueues every
    insert in its own transaction, so the pipeline sees a post exactly when it is committed; the
    batch that analyses it removes it in the same transaction."""

    __tablename__ = "analysis_queue"
    # The announcer's question, the oldest posts not announced yet, from an index of only those
    # (migration 0019): an index on `announced_at` made PostgreSQL walk every announced post.
    __table_args__ = (
        Index(
            "ix_analysis_queue_unannounced",
            "post_id",
            postgresql_where=sql_text("announced_at IS NULL"),
            sqlite_where=sql_text("announced_at IS NULL"),
        ),
    )

    post_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # when the NATS JetStream stream took its announcement (`yuqing.analysis.stream`); null in the
    # embedded mode, and until the stream is reachable
    announced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PipelineState(Base):
    """A stateful stage's snapshot (the clustering stage's open events), so a restart resumes."""

    __tablename__ = "pipeline_state"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LateArrival(Base):
    """A sighting (`kind` "sighting") or hot-list rank ("rank") stored for a post, waiting for the
    pipeline to count it in the post's event. Triggers on `post_sightings` and `hot_list_ranks`
    (migration 0017) add it in the inserting transaction, so it is seen exactly when committed,
    whatever its id; the pipeline removes it in the transaction that counts it."""

    __tablename__ = "late_arrivals"
    __table_args__ = (Index("ix_late_arrivals_post", "post_id"),)

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    row_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    post_id: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
