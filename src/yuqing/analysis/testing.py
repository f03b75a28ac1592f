"""The analysis steps in memory, without a database: posts in, events with their grades out.

:func:`analyse` runs the same step functions as the pipeline (:mod:`yuqing.analysis.steps`) on a
list of posts: topics from rules given here, the shipped sentiment and incident models, the
clusterer, each event's running metrics and the plan's grade. Tests and scripts use it to see
what the product would decide for a handful of posts; the pipeline adds only reading, storing,
the links it restores from the store and the sites a post was seen on again.

    from yuqing.analysis.testing import analyse

    result = analyse(
        [{"id": "a", "text": "南京市儿童医院一名患儿输液后死亡……", "published_at": "2026-11-19T12:10+08:00"}],
        topics={1: "@医疗主体 + (死亡|投诉)"},
        groups={"医疗主体": ["医院", "患儿"]},
    )
    [event] = result.events.values()
    event.grade  # "一般" …

Each post is a mapping with ``id`` and ``text``; optional ``published_at`` (ISO 8601 or a
timezone-aware datetime; default: the order given, a minute apart), ``title``, ``kind``
(original, repost, comment, reply), ``root`` (the ``id`` of the post it reposts), ``platform``,
``media_tier``, ``url``, ``verified``, ``author_kind`` (an ``ingest.models.AuthorKind`` value) and
the engagement counts ``views``, ``reposts``,
``comments``, ``likes``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from yuqing.analysis import grading, steps
from yuqing.analysis.clustering import EventClusterer
from yuqing.analysis.incidents import IncidentModel
from yuqing.analysis.matcher import TopicMatcher
from yuqing.analysis.metrics import EventAccumulator
from yuqing.analysis.sentiment import SentimentModel

_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class AnalysedEvent:
    """An event as the steps left it: its posts (the given ids), title, metrics and grade."""

    key: str
    title: str
    post_ids: list[str]
    topic: int | None
    metrics: dict[str, Any]
    grade_code: str | None = None
    grade: str | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Analysis:
    """Every post as the steps saw it (in time order) and the events they formed, by key."""

    posts: list[steps.BatchPost]
    events: dict[str, AnalysedEvent]
    # given id -> the event key of that post (None: counted in its topic, in no event)
    event_of: dict[str, str | None]


@lru_cache(maxsize=1)
def _models() -> tuple[SentimentModel, IncidentModel]:
    return SentimentModel.load(), IncidentModel.load()


def analyse(
    posts: Iterable[Mapping[str, Any]],
    *,
    topics: Mapping[int, str],
    groups: Mapping[str, Sequence[str]] | None = None,
    profile: grading.Profile | None = None,
    now: dt.datetime | None = None,
) -> Analysis:
    """Run topics → sentiment and incidents → clustering → metrics → grade on `posts`.

    `topics` maps a topic id to its rule (the console's rule syntax, `@group` names from
    `groups`); `profile` defaults to the shipped plan profile; `now` (for the metrics' recent
    windows) defaults to the newest post's time. Only events of a topic are graded, as in the
    pipeline."""
    rows = list(posts)
    batch: list[steps.BatchPost] = []
    given: dict[int, str] = {}
    numbers: dict[str, int] = {}
    for n, row in enumerate(rows, start=1):
        post_id = str(row["id"])
        if post_id in numbers:
            raise ValueError(f"post id {post_id!r} appears twice")
        numbers[post_id] = n
        given[n] = post_id
        when = _when(row.get("published_at"), _START + dt.timedelta(minutes=n))
        batch.append(
            steps.BatchPost(
                id=n,
                text=str(row.get("text") or ""),
                title=row.get("title"),
                when=when,
                platform=str(row.get("platform") or "weibo"),
                external_id=post_id,
                root_external_id=None,
                near_duplicate_of=None,
                published_at=when,
                fetched_at=when,
                kind=str(row.get("kind") or "original"),
                media_tier=str(row.get("media_tier") or "other"),
                url=row.get("url"),
                author_verified=row.get("verified"),
                author_kind=row.get("author_kind"),
                views=row.get("views"),
                reposts=row.get("reposts"),
                comments=row.get("comments"),
                likes=row.get("likes"),
            )
        )
    roots: dict[int, str] = {}
    for n, row in enumerate(rows, start=1):
        root = row.get("root")
        if root is not None and str(root) != given[n]:
            if str(root) not in numbers:
                raise ValueError(f"post {given[n]!r}: root {root!r} is not among the posts")
            roots[n] = str(numbers[str(root)])
    batch.sort(key=lambda p: (p.when, p.id))

    rules = {topic: (rule, dict(groups or {})) for topic, rule in topics.items()}
    matcher = TopicMatcher(rules) if rules else None
    sentiment, incidents = _models()
    steps.match_topics(matcher, batch)
    steps.read_posts(sentiment, incidents, batch)
    # the pipeline takes near-duplicate links from ingestion; here the clusterer finds them itself
    clusterer = EventClusterer(detect_duplicates=True)
    steps.cluster_posts(clusterer, batch, roots)

    infos = {info.id: info for info in clusterer.drain_closed()}
    infos.update({info.id: info for info in clusterer.events()})
    chosen = profile or grading.load_profile(None)
    moment = now or max((p.when for p in batch), default=_START)
    events: dict[str, AnalysedEvent] = {}
    for key in dict.fromkeys(p.event_key for p in batch if p.event_key):
        mine = [p for p in batch if p.event_key == key]
        info = infos.get(key)
        topic, _drill = steps.parse_partition_key(info.topic if info else "")
        metrics = steps.measure(EventAccumulator(), mine, moment)
        event = AnalysedEvent(
            key=key,
            title=info.title if info else (mine[0].title or mine[0].text)[:80],
            post_ids=[given[p.id] for p in mine],
            topic=topic,
            metrics=metrics.as_dict(),
            entities=list(info.entities) if info else [],
        )
        graded = steps.grade_event(chosen, metrics) if topic is not None else None
        if graded is not None:
            event.grade_code, event.grade = graded.code, graded.name
            event.reasons = [r.as_dict() for r in graded.reasons]
        events[key] = event
    return Analysis(batch, events, {given[p.id]: p.event_key for p in batch})


def _when(value: object, default: dt.datetime) -> dt.datetime:
    if value is None:
        return default
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"published_at must carry its time zone: {value!r}")
    return when
