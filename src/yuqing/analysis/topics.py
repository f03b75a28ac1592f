"""Service functions for monitored topics (专题) and their named word groups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from yuqing.analysis.matcher import TopicMatcher
from yuqing.analysis.models import Topic, WordGroup
from yuqing.analysis.rules import Rule, RuleSyntaxError, parse_rule
from yuqing.db import transaction
from yuqing.runtime import Runtime

GROUP_KINDS = {"地域": "region", "主体": "subject", "事件": "event", "排除": "exclude"}
GROUP_KIND_LABELS = {kind: label for label, kind in GROUP_KINDS.items()} | {"other": "其他"}
# How many of the newest stored posts `try_rule_on_posts` reads at most.
MAX_TRIAL_POSTS = 1000


class TopicError(ValueError):
    """A topic that cannot be saved (a duplicate name, an unknown topic)."""


class TopicNotFound(TopicError, LookupError):
    """No topic with that id."""


def word_groups(rt: Runtime) -> dict[str, list[str]]:
    with rt.sessions() as session:
        return {g.name: list(g.words) for g in session.scalars(select(WordGroup))}


def set_word_group(rt: Runtime, name: str, words: list[str], kind: str = "other") -> dict[str, Any]:
    """Create or replace a word group used in rules as @name."""
    cleaned = [w.strip() for w in words if w.strip()]
    if not cleaned:
        raise TopicError(f"词组 {name} 至少需要一个词")
    with transaction(rt.sessions) as session:
        group = session.scalar(select(WordGroup).where(WordGroup.name == name))
        if group is None:
            group = WordGroup(name=name)
            session.add(group)
        group.words = cleaned
        group.kind = GROUP_KINDS.get(kind, kind)
        group.updated_at = rt.clock()
        return {"name": name, "kind": group.kind, "words": cleaned}


def add_topic(rt: Runtime, name: str, rule: str, unit: str | None = None) -> dict[str, Any]:
    """Save a topic after checking its rule (RuleSyntaxError names the position)."""
    parse_rule(rule, word_groups(rt))
    with transaction(rt.sessions) as session:
        if session.scalar(select(Topic.id).where(Topic.name == name)) is not None:
            raise TopicError(f"已有同名专题 {name!r}")
        topic = Topic(name=name, rule=rule, unit=unit, enabled=True, created_at=rt.clock())
        session.add(topic)
        session.flush()
        return topic_view(topic)


def topic_view(topic: Topic) -> dict[str, Any]:
    return {
        "id": topic.id,
        "name": topic.name,
        "rule": topic.rule,
        "unit": topic.unit,
        "enabled": topic.enabled,
    }


def get_topic(rt: Runtime, topic_id: int) -> dict[str, Any]:
    with rt.sessions() as session:
        topic = session.get(Topic, topic_id)
        if topic is None:
            raise TopicNotFound(f"找不到专题 {topic_id}")
        return topic_view(topic)


def update_topic(rt: Runtime, topic_id: int, rule: str, unit: str | None) -> dict[str, Any]:
    """Give a topic a new rule and unit; the rule is checked first, so a bad one changes nothing."""
    parse_rule(rule, word_groups(rt))
    with transaction(rt.sessions) as session:
        topic = session.get(Topic, topic_id)
        if topic is None:
            raise TopicNotFound(f"找不到专题 {topic_id}")
        topic.rule = rule
        topic.unit = unit
        session.flush()
        return topic_view(topic)


def set_topic_enabled(rt: Runtime, topic_id: int, enabled: bool) -> dict[str, Any]:
    """Switch a topic on or off (a disabled topic matches no new posts; its events stay)."""
    with transaction(rt.sessions) as session:
        topic = session.get(Topic, topic_id)
        if topic is None:
            raise TopicNotFound(f"找不到专题 {topic_id}")
        topic.enabled = enabled
        session.flush()
        return topic_view(topic)


def list_topics(rt: Runtime) -> list[dict[str, Any]]:
    with rt.sessions() as session:
        return [topic_view(t) for t in session.scalars(select(Topic).order_by(Topic.id))]


def compile_matcher(rt: Runtime) -> TopicMatcher[int] | None:
    """One matcher over every enabled topic; None when there are none."""
    groups = word_groups(rt)
    with rt.sessions() as session:
        topics = {t.id: t.rule for t in session.scalars(select(Topic).where(Topic.enabled.is_(True)))}
    if not topics:
        return None
    return TopicMatcher({topic_id: (rule, groups) for topic_id, rule in topics.items()})


def word_group_views(rt: Runtime) -> list[dict[str, Any]]:
    """Every word group with its kind (and the kind's Chinese label), by name."""
    with rt.sessions() as session:
        groups = session.scalars(select(WordGroup).order_by(WordGroup.name))
        return [
            {
                "name": g.name,
                "kind": g.kind,
                "kind_label": GROUP_KIND_LABELS.get(g.kind, g.kind),
                "words": list(g.words),
            }
            for g in groups
        ]


def check_rule(rt: Runtime, rule: str) -> Rule:
    """The rule parsed with the stored word groups (RuleSyntaxError names the position)."""
    return parse_rule(rule, word_groups(rt))


def try_rule(rt: Runtime, rule: str, text: str) -> dict[str, Any]:
    """Whether a rule matches a text, and which terms fired."""
    from yuqing.ingest.normalise import to_simplified

    groups = word_groups(rt)
    parse_rule(rule, groups)
    matches = TopicMatcher({0: (rule, groups)}).match(to_simplified(text))
    fired = list(matches[0].fired_terms) if matches else []
    return {"matched": bool(matches), "terms": fired}


def try_rule_on_posts(rt: Runtime, rule: str, limit: int = 200) -> dict[str, Any]:
    """Which of the newest `limit` stored posts a rule matches, with the terms that fired. Posts are
    matched as the pipeline matches them (title and text)."""
    from yuqing.ingest.models import Post
    from yuqing.ingest.normalise import to_simplified

    groups = word_groups(rt)
    parse_rule(rule, groups)
    matcher = TopicMatcher({0: (rule, groups)})
    limit = max(1, min(limit, MAX_TRIAL_POSTS))
    with rt.sessions() as session:
        rows = session.execute(
            select(Post.id, Post.title, Post.text).order_by(Post.id.desc()).limit(limit)
        ).all()
    matched = []
    for post_id, title, text in rows:
        body = to_simplified(f"{title}\n{text}" if title else text or "")
        found = matcher.match(body)
        if found:
            terms = list(found[0].fired_terms)
            matched.append({"post_id": post_id, "title": title, "text": text, "terms": terms})
    return {"tested": len(rows), "matched": matched}


__all__ = [
    "GROUP_KIND_LABELS",
    "RuleSyntaxError",
    "TopicError",
    "TopicNotFound",
    "add_topic",
    "check_rule",
    "get_topic",
    "list_topics",
    "set_topic_enabled",
    "set_word_group",
    "try_rule",
    "try_rule_on_posts",
    "update_topic",
    "word_group_views",
]
