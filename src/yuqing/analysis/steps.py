"""The analysis steps as functions over a list of posts, apart from any store: the pipeline
(:mod:`yuqing.analysis.pipeline`) reads a batch, runs these, and writes what they decided in one
transaction; :mod:`yuqing.analysis.testing` runs the same functions in memory.

Each step has a name, reused for logs, metrics and the stage timings (:data:`STEPS`):

``analysis.topics``     :func:`match_topics` — the monitored topics whose rules match each post;
``analysis.sentiment``  :func:`read_posts` — polarity, the incident decision and trusted flags;
``analysis.cluster``    :func:`cluster_posts` — each post's event (stateful: the clusterer);
``analysis.metrics``    :func:`measure` — an event's running metrics as its posts join;
``analysis.grade``      :func:`grade_event` — the plan's grade of an event from its metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from yuqing.analysis import grading
from yuqing.analysis.clustering import EventClusterer
from yuqing.analysis.clustering import Post as ClusterPost
from yuqing.analysis.incidents import (
    REPLY_KINDS,
    IncidentModel,
    denies,
    is_reaction,
    rebuts,
    relays_official_rebuttal,
    without_share_button,
)
from yuqing.analysis.matcher import TopicMatcher
from yuqing.analysis.metrics import EventAccumulator, EventMetrics, PostFacts
from yuqing.analysis.sensitivity import FLAGS as LEXICON_FLAGS
from yuqing.analysis.sentiment import FLAG_FLOOR, SentimentModel

STEPS = ("analysis.topics", "analysis.sentiment", "analysis.cluster", "analysis.metrics", "analysis.grade")
# Flags the incident model decides; the lexicon's own casualties/public-safety words are ignored.
MODEL_FLAGS = ("casualties", "public_safety")


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
    published_at: dt.datetime | None = None
    fetched_at: dt.datetime | None = None
    kind: str = "original"
    media_tier: str = "other"
    url: str | None = None
    source_id: int = 0
    author_verified: bool | None = None
    author_kind: str | None = None
    views: int | None = None
    reposts: int | None = None
    comments: int | None = None
    likes: int | None = None
    topics: list[dict[str, Any]] = field(default_factory=list)
    sentiment: str = "neutral"
    negative: float = 0.0
    flags: tuple[str, ...] = ()
    incident: dict[str, Any] = field(default_factory=dict)
    event_key: str | None = None
    # joined a closed event through its root's link (a late repost): stored, not clustered
    late: bool = False
    # joined its event through a link while naming only other units or places: spread of the
    # event, but what it reports (casualties, a threat, a rebuttal) is evidence of another story
    other_story: bool = False

    def facts(self, sighting_sites: tuple[str, ...] = ()) -> PostFacts:
        """What the event metrics need of this post."""
        return PostFacts(
            post_id=self.id,
            published_at=self.published_at,
            fetched_at=self.fetched_at or self.when,
            platform=self.platform,
            kind=self.kind,
            media_tier=self.media_tier,
            url=self.url,
            source_id=self.source_id,
            text=self.text,
            negative=self.sentiment == "negative",
            flags=() if self.other_story else self.flags,
            topics=tuple(t["topic_id"] for t in self.topics),
            views=self.views,
            reposts=self.reposts,
            comments=self.comments,
            likes=self.likes,
            sighting_sites=sighting_sites,
            incident=bool(self.incident.get("incident")) and not self.other_story,
            casualties=bool(self.incident.get("casualties")) and not self.other_story,
            public_safety=bool(self.incident.get("public_safety")) and not self.other_story,
            author_verified=self.author_verified,
            author_kind=self.author_kind,
            copy_of=self.near_duplicate_of,
            rebuts=bool(self.incident.get("rebuts")) and not self.other_story,
            official_rebuttal=bool(self.incident.get("official_rebuttal")) and not self.other_story,
        )


def trusted_flags(
    incident: bool, casualties: bool, public_safety: bool, lexicon: Sequence[str]
) -> tuple[str, ...]:
    """The flags a post supports: the incident model's casualties and public-safety decisions, and
    the lexicon's domain flags (corruption, food and drug safety, …) only when the post reports an
    incident. Lexicon order, each once."""
    if not incident:
        return ()
    chosen = {"casualties": casualties, "public_safety": public_safety}
    chosen.update({flag: True for flag in lexicon if flag not in MODEL_FLAGS})
    return tuple(flag for flag in LEXICON_FLAGS if chosen.get(flag))


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


def match_topics(matcher: TopicMatcher[int] | None, posts: Sequence[BatchPost]) -> None:
    """analysis.topics: every monitored topic whose rule matches, with the terms that fired."""
    if matcher is None:
        return
    texts = [f"{p.title}\n{p.text}" if p.title else p.text for p in posts]
    for post, matches in zip(posts, matcher.match_batch(texts), strict=True):
        post.topics = [{"topic_id": m.topic_id, "terms": list(m.fired_terms)} for m in matches]


def read_posts(sentiment: SentimentModel, incidents: IncidentModel, posts: Sequence[BatchPost]) -> None:
    """analysis.sentiment: polarity with a negative score, whether the post reports an incident
    (with casualties, a threat to public safety, its domain), and the flags it supports. A
    repost or comment with only a few words of its own is a reaction, never an incident report.

    A flagged post is negative for the unit whatever its tone (at least `FLAG_FLOOR`)."""
    texts = [f"{p.title}。{p.text}" if p.title else p.text for p in posts]
    moods = sentiment.predict(texts, apply_flags=False)
    found = incidents.predict(
        [without_share_button(t) if p.kind in REPLY_KINDS else t for p, t in zip(posts, texts, strict=True)]
    )
    for post, mood, incident in zip(posts, moods, found, strict=True):
        if is_reaction(post.kind, post.text):  # 「转一发！」 reports nothing: its root does
            incident = incident.as_reaction()
        elif post.kind in REPLY_KINDS:  # a longer comment: a report only with more certainty
            incident = incident.as_reply()
        post.incident = incident.as_dict()
        if rebuts(post.text):  # 「经查证，永康市中医院未发生此事」: kept as the event's rebuttal
            post.incident["rebuts"] = True
            if relays_official_rebuttal(post.text):  # 「@永康发布：经查证…」 relayed by anyone
                post.incident["official_rebuttal"] = True
        # a denial (「…的微博内容为不实信息」) is no evidence of what it denies: neither the model's
        # flags (`IncidentModel.predict`) nor the lexicon's (an H7N9 rebuttal counted as 公共卫生)
        lexicon = () if denies(post.text) else mood.flags
        post.flags = trusted_flags(incident.incident, incident.casualties, incident.public_safety, lexicon)
        if post.flags:
            post.sentiment, post.negative = "negative", max(mood.negative, FLAG_FLOOR)
        else:
            post.sentiment, post.negative = mood.label, mood.negative


def cluster_posts(clusterer: EventClusterer, posts: Sequence[BatchPost], roots: Mapping[int, str]) -> None:
    """analysis.cluster: each post joins an open event of its (first) topic or starts one; a
    repost joins its root's event (`roots`: post id -> its root's id), a near-duplicate its
    original's (unless they name different hospitals, schools, places…); a post of no topic joins
    only through such a link. A repost of a story whose event has closed (weeks later,
    「又是一个受伤的人」) is that story spreading again: `late` marks it; its event grows (a case
    watching it sees the flare-up, `cases.followup`)."""
    for post in posts:
        root = roots.get(post.id)
        topic = post.topics[0]["topic_id"] if post.topics else None
        post.event_key = clusterer.add(
            ClusterPost(
                id=str(post.id),
                text=post.text or (post.title or ""),
                published_at=post.when,
                topic=partition_key(topic, post.drill_id),
                root_id=root,
                duplicate_of=str(post.near_duplicate_of) if post.near_duplicate_of else None,
                # untopiced chatter joins an event only through a link; it forms none itself
                join_only=topic is None,
            )
        )
        post.late = clusterer.joined_late(str(post.id))
        post.other_story = clusterer.tells_another_story(str(post.id))
        if post.other_story and post.incident:
            post.incident["other_story"] = True


def measure(
    accumulator: EventAccumulator,
    posts: Iterable[BatchPost],
    now: dt.datetime,
    sightings: Mapping[int, Sequence[str]] | None = None,
    ranks: Mapping[int, int] | None = None,
) -> EventMetrics:
    """analysis.metrics: add an event's new posts (with the other sites each was seen on and its
    best hot-list place) to its running metrics, and measure it as of `now`."""
    for post in posts:
        accumulator.add(post.facts(tuple((sightings or {}).get(post.id, ()))))
        if ranks and post.id in ranks:
            accumulator.add_rank(ranks[post.id])
    return accumulator.result(now)


def grade_event(profile: grading.Profile, metrics: EventMetrics) -> grading.Grade | None:
    """analysis.grade: the grade the plan gives an event with these metrics (None: none)."""
    return grading.grade(profile, metrics.values, metrics.flags, metrics.evidence)
