"""Service functions for monitored topics (专题) and their named word groups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from yuqing.analysis.matcher import TopicMatcher
from yuqing.analysis.models import Topic, WordGroup
from yuqing.analysis.rules import RuleSyntaxError, parse_rule
from yuqing.db import transaction
from yuqing.runtime import Runtime

GROUP_KINDS = {"地域": "region", "主体": "subject", "事件": "event", "排除": "exclude"}


class TopicError(ValueError):
    """A topic that cannot be saved (a duplicate name, an unknown topic)."""


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


def try_rule(rt: Runtime, rule: str, text: str) -> dict[str, Any]:
    """Whether a rule matches a text, and which terms fired."""
    from yuqing.ingest.normalise import to_simplified

    groups = word_groups(rt)
    parse_rule(rule, groups)
    matches = TopicMatcher({0: (rule, groups)}).match(to_simplified(text))
    fired = list(matches[0].fired_terms) if matches else []
    return {"matched": bool(matches), "terms": fired}


__all__ = ["RuleSyntaxError", "TopicError", "add_topic", "list_topics", "set_word_group", "try_rule"]
