"""Service functions for monitored topics (专题) and their named word groups.

Who may change them (`actor`: the person acting; None is the server's operator at the command
line, who may do anything):

- a topic belongs to a unit; changing it needs 监测员 (or 管理员) of that unit or of a unit above
  it — for the unit it has and for the unit it is given;
- a topic without a unit raises its alerts wherever its places lead, up to the top unit and its
  leaders: only an administrator may leave a topic without a unit (`add_topic`, `update_topic`);
  changing an existing one needs the rights of the top unit;
- a word group has an owner unit (`WordGroup.owner_unit_id`, None: the top unit). Changing it needs
  监测员 of the owner unit *and* of every unit whose topics use it, since a change silently changes
  those topics too; a new group belongs to the unit named, else to the acting monitor's own unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.analysis.matcher import TopicMatcher
from yuqing.analysis.models import Topic, WordGroup
from yuqing.analysis.rules import Rule, RuleSyntaxError, group_names, parse_rule
from yuqing.db import transaction
from yuqing.org.models import NotFound, PermissionDenied, Person, RoleAssignment, Unit
from yuqing.org.roles import Role
from yuqing.org.scope import is_administrator
from yuqing.org.service import find_unit, get_person, has_role
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


# ---- who may change what ------------------------------------------------------------------------

EDIT_ROLE = Role.MONITOR


def _top_unit(session: Session) -> Unit | None:
    return session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()


def _unit_of_topic(session: Session, ref: str | None) -> Unit | None:
    """The unit a topic names (by name or id); a topic without one, or naming a unit that does not
    exist, counts as the top unit's."""
    if ref:
        try:
            return find_unit(session, ref)
        except NotFound:
            pass
    return _top_unit(session)


def _may_edit(session: Session, actor: int, unit: Unit | None) -> bool:
    if unit is None:  # no unit at all yet: only an administrator
        return is_administrator(session, actor)
    return has_role(session, actor, EDIT_ROLE, unit.id)


def _check_topic_units(
    session: Session, actor: int, old: str | None, new: str | None, *, known: bool
) -> None:
    """PermissionDenied unless the actor may change a topic of unit `old` (when `known`: it
    exists) into one of unit `new`."""
    person = get_person(session, actor)
    if not new and not is_administrator(session, actor):
        raise PermissionDenied(
            f"{person.name} 不能建立或保留不属于任何单位的专题：这样的专题按地域分派预警，"
            "可能直达最上级单位及其领导；请选择您担任监测员的单位（只有管理员可以建立不属于任何单位的专题）"
        )
    wanted: list[Unit | None] = []
    if known:
        wanted.append(_unit_of_topic(session, old))
    if new:
        try:
            wanted.append(find_unit(session, new))
        except NotFound as exc:
            raise TopicError(str(exc)) from None
    for unit in wanted:
        if not _may_edit(session, actor, unit):
            where = unit.name if unit is not None else "最上级单位"
            raise PermissionDenied(f"{person.name} 不是 {where} 或其上级单位的监测员，不能修改该单位的专题")


def _group_users(session: Session, name: str) -> list[Unit | None]:
    """The units whose topics use the group (a topic without a unit counts as the top unit's)."""
    found: dict[int | None, Unit | None] = {}
    for rule, ref in session.execute(select(Topic.rule, Topic.unit).order_by(Topic.id)):
        if name in group_names(rule):
            unit = _unit_of_topic(session, ref)
            found.setdefault(unit.id if unit else None, unit)
    return list(found.values())


def _default_owner(session: Session, actor: int | None) -> Unit | None:
    """Whose a new group is when no unit is named: the acting monitor's own unit (or the first
    unit where they are 监测员); the top unit for an administrator or the operator."""
    if actor is None or is_administrator(session, actor):
        return _top_unit(session)
    person = get_person(session, actor)
    if has_role(session, actor, EDIT_ROLE, person.unit_id):
        return session.get(Unit, person.unit_id)
    held = session.scalar(
        select(RoleAssignment.unit_id)
        .where(RoleAssignment.person_id == actor, RoleAssignment.role == EDIT_ROLE.value)
        .order_by(RoleAssignment.id)
    )
    return session.get(Unit, held) if held is not None else session.get(Unit, person.unit_id)


def _names(units: Iterable[Unit | None]) -> str:
    return "、".join(dict.fromkeys(u.name if u is not None else "最上级单位" for u in units))


# ---- word groups and topics ----------------------------------------------------------------------


def set_word_group(
    rt: Runtime,
    name: str,
    words: list[str],
    kind: str = "other",
    *,
    unit: str | None = None,
    actor: int | None = None,
) -> dict[str, Any]:
    """Create or replace a word group used in rules as @name. `unit` names its owner (a new group:
    default `_default_owner`; an existing one keeps its owner unless another is named)."""
    cleaned = [w.strip() for w in words if w.strip()]
    if not cleaned:
        raise TopicError(f"词组 {name} 至少需要一个词")
    with transaction(rt.sessions) as session:
        group = session.scalar(select(WordGroup).where(WordGroup.name == name))
        try:
            named = find_unit(session, unit) if unit else None
        except NotFound as exc:
            raise TopicError(str(exc)) from None
        if group is None:
            owner = named or _default_owner(session, actor)
            needed: list[Unit | None] = [owner]
        else:
            # An owner that no longer exists leaves the group to the top unit.
            owned = session.get(Unit, group.owner_unit_id) if group.owner_unit_id else None
            current = owned or _top_unit(session)
            owner = named or current
            needed = [current, owner, *_group_users(session, name)]
        if actor is not None:
            refused = [u for u in dict.fromkeys(needed) if not _may_edit(session, actor, u)]
            if refused:
                person = session.get(Person, actor)
                who = person.name if person is not None else f"人员 {actor}"
                used = _names(_group_users(session, name)) if group is not None else ""
                raise PermissionDenied(
                    f"{who} 不能修改词组 @{name}：它属于 {_names(needed[:1])}"
                    + (f"，{used} 的专题在使用它" if used else "")
                    + f"；修改须是这些单位（或其上级单位）的监测员，而其不是 {_names(refused)} 的监测员"
                )
        if group is None:
            group = WordGroup(name=name)
            session.add(group)
        group.words = cleaned
        group.kind = GROUP_KINDS.get(kind, kind)
        group.updated_at = rt.clock()
        group.owner_unit_id = owner.id if owner is not None else None
        return {
            "name": name,
            "kind": group.kind,
            "words": cleaned,
            "owner": owner.name if owner is not None else None,
        }


def add_topic(
    rt: Runtime, name: str, rule: str, unit: str | None = None, *, actor: int | None = None
) -> dict[str, Any]:
    """Save a topic after checking its rule (RuleSyntaxError names the position) and, with an
    `actor`, their right to the unit (see the module's rules)."""
    parse_rule(rule, word_groups(rt))
    with transaction(rt.sessions) as session:
        if actor is not None:
            _check_topic_units(session, actor, None, unit, known=False)
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


def update_topic(
    rt: Runtime, topic_id: int, rule: str, unit: str | None, *, actor: int | None = None
) -> dict[str, Any]:
    """Give a topic a new rule and unit; the rule is checked first, so a bad one changes nothing."""
    parse_rule(rule, word_groups(rt))
    with transaction(rt.sessions) as session:
        topic = session.get(Topic, topic_id)
        if topic is None:
            raise TopicNotFound(f"找不到专题 {topic_id}")
        if actor is not None:
            _check_topic_units(session, actor, topic.unit, unit, known=True)
        topic.rule = rule
        topic.unit = unit
        session.flush()
        return topic_view(topic)


def set_topic_enabled(
    rt: Runtime, topic_id: int, enabled: bool, *, actor: int | None = None
) -> dict[str, Any]:
    """Switch a topic on or off (a disabled topic matches no new posts; its events stay)."""
    with transaction(rt.sessions) as session:
        topic = session.get(Topic, topic_id)
        if topic is None:
            raise TopicNotFound(f"找不到专题 {topic_id}")
        if actor is not None:
            unit = _unit_of_topic(session, topic.unit)
            if not _may_edit(session, actor, unit):
                who = get_person(session, actor).name
                where = unit.name if unit is not None else "最上级单位"
                raise PermissionDenied(f"{who} 不是 {where} 或其上级单位的监测员，不能修改该单位的专题")
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
    """Every word group with its kind (and the kind's Chinese label) and owner unit, by name."""
    with rt.sessions() as session:
        groups = session.scalars(select(WordGroup).order_by(WordGroup.name)).all()
        top = _top_unit(session)
        units = {u.id: u.name for u in session.scalars(select(Unit))}
        return [
            {
                "name": g.name,
                "kind": g.kind,
                "kind_label": GROUP_KIND_LABELS.get(g.kind, g.kind),
                "words": list(g.words),
                "owner": units.get(g.owner_unit_id or 0) or (top.name if top else None),
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
    matched as the pipeline matches them (title and text). Drill posts are left out, as from every
    list of real posts."""
    from yuqing.ingest.models import Post
    from yuqing.ingest.normalise import to_simplified

    groups = word_groups(rt)
    parse_rule(rule, groups)
    matcher = TopicMatcher({0: (rule, groups)})
    limit = max(1, min(limit, MAX_TRIAL_POSTS))
    with rt.sessions() as session:
        rows = session.execute(
            select(Post.id, Post.title, Post.text)
            .where(Post.is_drill.is_(False))
            .order_by(Post.id.desc())
            .limit(limit)
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
