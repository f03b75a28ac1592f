"""Service functions of the organisation domain: the unit tree, people, roles and contact channels.

Functions take a Session and leave committing to the caller (`yuqing.db.transaction`). Rules:
- Jurisdiction (PRODUCT.md §2.4): an event clearly local to a unit goes to it; one that crosses units
  goes to their common parent (`common_parent`, `unit_for_regions`).
- Roles are inherited downwards: a role held at a unit also holds at every unit below it (a city's
  主要领导 covers its bureaus and their hospitals), and 管理员 holds every role (`has_role`).
- Who to ask is the nearest holder: `people_with_role` looks at the unit, then up its ancestors.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.org.models import (
    GRADE_CODES,
    ContactChannel,
    ContactKind,
    Duty24hPeriod,
    DutyOverride,
    DutyRotation,
    NotFound,
    OrgError,
    Person,
    RoleAssignment,
    Unit,
    UnitKind,
)
from yuqing.org.roles import Role, parse_role


class Keep(enum.Enum):
    """Marks an optional argument left unchanged, where None means "clear it"."""

    KEEP = "keep"


KEEP = Keep.KEEP

GRADE_NAMES = {"一般": "IV", "较大": "III", "重大": "II", "特别重大": "I"}
# Administrative suffixes dropped when comparing place names: "南京市" matches "南京".
_PLACE_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "省", "市", "区", "县")
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_PHONE = re.compile(r"^\+?[0-9]{3,15}$")
_WEBHOOK_KINDS = {ContactKind.DINGTALK, ContactKind.WECOM, ContactKind.FEISHU}


# ---- parsing user input -------------------------------------------------------------------------


def parse_unit_kind(text: str) -> UnitKind:
    """A unit kind from its code (`hospital`) or label (`医院`)."""
    cleaned = text.strip()
    for kind in UnitKind:
        if cleaned.lower() == kind.value or cleaned == kind.label:
            return kind
    choices = "、".join(f"{k.label}（{k.value}）" for k in UnitKind)
    raise OrgError(f"未知单位类型 {text!r}，可选：{choices}")


def parse_grade_code(text: str) -> str:
    """A grade code (IV, III, II, I) from the code, its Arabic number (4..1) or its name (一般..特别重大)."""
    cleaned = text.strip()
    upper = cleaned.upper()
    if upper in GRADE_CODES:
        return upper
    if cleaned in {"1", "2", "3", "4"}:
        return GRADE_CODES[4 - int(cleaned)]
    if cleaned in GRADE_NAMES:
        return GRADE_NAMES[cleaned]
    raise OrgError(f"未知预警级别 {text!r}，可选：IV（一般）、III（较大）、II（重大）、I（特别重大）")


def parse_contact_kind(text: str) -> ContactKind:
    cleaned = text.strip()
    for kind in ContactKind:
        if cleaned.lower().replace("-", "_") == kind.value or cleaned == kind.label:
            return kind
    choices = "、".join(f"{k.label}（{k.value}）" for k in ContactKind)
    raise OrgError(f"未知联系方式 {text!r}，可选：{choices}")


def place_key(name: str) -> str:
    """A place name without its administrative suffix, so "南京市", "南京" and " 南京 " compare equal."""
    cleaned = name.strip()
    for suffix in _PLACE_SUFFIXES:
        if cleaned.endswith(suffix) and len(cleaned) - len(suffix) >= 2:
            return cleaned[: -len(suffix)]
    return cleaned


# ---- units --------------------------------------------------------------------------------------


def get_unit(session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"找不到单位 {unit_id}")
    return unit


def find_unit(session: Session, ref: str | int) -> Unit:
    """A unit by id or by its exact name."""
    if isinstance(ref, int) or ref.strip().isdigit():
        unit = session.get(Unit, int(ref))
        if unit is not None:
            return unit
    if isinstance(ref, str):
        unit = session.scalar(select(Unit).where(Unit.name == ref.strip()))
        if unit is not None:
            return unit
    raise NotFound(f"找不到单位 {ref}（可用 yuqing org list 查看已有单位）")


def _clean_regions(regions: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for region in regions:
        for part in re.split(r"[,，、\s]+", region):
            if part and part not in cleaned:
                cleaned.append(part)
    return cleaned


def _check_name_free(session: Session, name: str, unit_id: int | None = None) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise OrgError("单位名称不能为空")
    other = session.scalar(select(Unit.id).where(Unit.name == cleaned))
    if other is not None and other != unit_id:
        raise OrgError(f"已有同名单位 {cleaned}")
    return cleaned


def create_unit(
    session: Session,
    name: str,
    *,
    parent_id: int | None = None,
    kind: UnitKind | str | None = None,
    regions: Iterable[str] = (),
    alert_threshold: str = "IV",
) -> Unit:
    """Add a unit. Without a kind, a root unit is a government and a unit below another a department."""
    cleaned = _check_name_free(session, name)
    if parent_id is not None:
        get_unit(session, parent_id)
    if kind is None:
        chosen = UnitKind.GOVERNMENT if parent_id is None else UnitKind.DEPARTMENT
    else:
        chosen = kind if isinstance(kind, UnitKind) else parse_unit_kind(kind)
    unit = Unit(
        name=cleaned,
        parent_id=parent_id,
        kind=chosen.value,
        regions=_clean_regions(regions),
        alert_threshold=parse_grade_code(alert_threshold),
    )
    session.add(unit)
    session.flush()
    return unit


def update_unit(
    session: Session,
    unit_id: int,
    *,
    name: str | None = None,
    parent_id: int | Literal[Keep.KEEP] | None = KEEP,
    kind: UnitKind | str | None = None,
    regions: Iterable[str] | None = None,
    alert_threshold: str | None = None,
) -> Unit:
    """Change a unit; parent_id=None makes it a root. A unit cannot move below itself."""
    unit = get_unit(session, unit_id)
    if name is not None:
        unit.name = _check_name_free(session, name, unit.id)
    if parent_id is not KEEP:
        if parent_id is not None and unit.id in {u.id for u in ancestors(session, parent_id)}:
            raise OrgError(f"不能把单位 {unit.name} 移到它自己或它的下级单位之下")
        unit.parent_id = parent_id
    if kind is not None:
        unit.kind = (kind if isinstance(kind, UnitKind) else parse_unit_kind(kind)).value
    if regions is not None:
        unit.regions = _clean_regions(regions)
    if alert_threshold is not None:
        unit.alert_threshold = parse_grade_code(alert_threshold)
    session.flush()
    return unit


def delete_unit(session: Session, unit_id: int) -> None:
    """Delete a unit that has nothing left in it: no units below, no people, roles or roster."""
    unit = get_unit(session, unit_id)

    def count(model: Any, column: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(column == unit_id)) or 0)

    leftovers = [
        (count(Unit, Unit.parent_id), "个下级单位"),
        (count(Person, Person.unit_id), "名人员"),
        (count(RoleAssignment, RoleAssignment.unit_id), "项角色任命"),
        (count(DutyRotation, DutyRotation.unit_id), "个轮值表"),
        (count(DutyOverride, DutyOverride.unit_id), "条值班调整"),
        (count(Duty24hPeriod, Duty24hPeriod.unit_id), "条24小时值班记录"),
    ]
    remaining = [f"{n} {what}" for n, what in leftovers if n]
    if remaining:
        raise OrgError(f"单位 {unit.name} 下还有 {'、'.join(remaining)}，不能删除；请先移走或删除它们")
    session.delete(unit)
    session.flush()


def children(session: Session, unit_id: int) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.parent_id == unit_id).order_by(Unit.id)))


def ancestors(session: Session, unit_id: int) -> list[Unit]:
    """The unit itself first, then its parent, up to the root."""
    chain: list[Unit] = []
    seen: set[int] = set()
    current: int | None = unit_id
    while current is not None and current not in seen:
        unit = get_unit(session, current)
        chain.append(unit)
        seen.add(current)
        current = unit.parent_id
    return chain


def descendants(session: Session, unit_id: int) -> list[Unit]:
    """Every unit below this one (not itself), depth first."""
    found: list[Unit] = []
    for child in children(session, unit_id):
        found.append(child)
        found.extend(descendants(session, child.id))
    return found


def unit_tree(session: Session) -> list[tuple[Unit, int]]:
    """Every unit with its depth (0 for a root), depth first, children in the order they were added."""
    units = list(session.scalars(select(Unit).order_by(Unit.id)))
    by_parent: dict[int | None, list[Unit]] = {}
    ids = {u.id for u in units}
    for unit in units:
        # A parent that no longer exists would hide the unit: show it as a root instead.
        parent = unit.parent_id if unit.parent_id in ids else None
        by_parent.setdefault(parent, []).append(unit)
    ordered: list[tuple[Unit, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in by_parent.get(parent, []):
            ordered.append((unit, depth))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return ordered


def common_parent(session: Session, unit_ids: Iterable[int]) -> Unit | None:
    """The nearest unit that is an ancestor of (or equal to) all the given units; None when they lie
    in separate trees. One unit is its own common parent."""
    chains = [ancestors(session, unit_id) for unit_id in dict.fromkeys(unit_ids)]
    if not chains:
        raise OrgError("至少需要一个单位")
    others = [{u.id for u in chain} for chain in chains[1:]]
    for unit in chains[0]:
        if all(unit.id in ids for ids in others):
            return unit
    return None


def unit_for_regions(session: Session, regions: Iterable[str]) -> Unit | None:
    """The unit an event in these places belongs to, or None when no unit lists any of them.

    1. Each place belongs to the highest units listing it (a hospital that also lists 南京市 is merely
       located there; 南京市 is the city government's business).
    2. A unit whose place contains another's gives way to it: "南京市鼓楼区" is local to 鼓楼区.
    3. One unit left: that unit; several: their common parent (an event that crosses units).
    """
    wanted = {place_key(r) for r in regions if r.strip()}
    if not wanted:
        return None
    units = list(session.scalars(select(Unit).order_by(Unit.id)))
    chains = {u.id: [a.id for a in ancestors(session, u.id)] for u in units}
    picked: set[int] = set()
    for place in wanted:
        listing = {u.id for u in units if place in {place_key(r) for r in u.regions}}
        picked |= {uid for uid in listing if not any(a in listing for a in chains[uid][1:])}
    if not picked:
        return None
    specific = [uid for uid in picked if not any(uid in chains[other][1:] for other in picked)]
    return common_parent(session, sorted(specific))


def receives_alert(unit: Unit, grade_code: str) -> bool:
    """Whether the unit is alerted for an event of this grade (its threshold or more serious)."""
    return GRADE_CODES.index(parse_grade_code(grade_code)) >= GRADE_CODES.index(unit.alert_threshold)


# ---- people -------------------------------------------------------------------------------------


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"找不到人员 {person_id}")
    return person


def _check_login_free(session: Session, login: str, person_id: int | None = None) -> str:
    cleaned = login.strip()
    if not cleaned:
        raise OrgError("登录名不能为空")
    other = session.scalar(select(Person.id).where(Person.login == cleaned))
    if other is not None and other != person_id:
        raise OrgError(f"登录名 {cleaned} 已被占用")
    return cleaned


def add_person(
    session: Session, name: str, unit_id: int, *, login: str | None = None, active: bool = True
) -> Person:
    cleaned = name.strip()
    if not cleaned:
        raise OrgError("姓名不能为空")
    get_unit(session, unit_id)
    person = Person(
        name=cleaned,
        unit_id=unit_id,
        active=active,
        login=None if login is None else _check_login_free(session, login),
    )
    session.add(person)
    session.flush()
    return person


def update_person(
    session: Session,
    person_id: int,
    *,
    name: str | None = None,
    unit_id: int | None = None,
    login: str | Literal[Keep.KEEP] | None = KEEP,
    active: bool | None = None,
) -> Person:
    person = get_person(session, person_id)
    if name is not None:
        if not name.strip():
            raise OrgError("姓名不能为空")
        person.name = name.strip()
    if unit_id is not None:
        person.unit_id = get_unit(session, unit_id).id
    if login is not KEEP:
        person.login = None if login is None else _check_login_free(session, login, person.id)
    if active is not None:
        person.active = active
    session.flush()
    return person


def find_person(session: Session, ref: str | int) -> Person:
    """A person by id, login name, unique name, or "name@unit" when two people share a name."""
    if isinstance(ref, int):
        return get_person(session, ref)
    text = ref.strip()
    if text.isdigit():
        person = session.get(Person, int(text))
        if person is not None:
            return person
    person = session.scalar(select(Person).where(Person.login == text))
    if person is not None:
        return person
    query = select(Person).where(Person.name == text)
    if "@" in text:
        name, _, unit_ref = text.partition("@")
        unit = find_unit(session, unit_ref)
        query = select(Person).where(Person.name == name.strip(), Person.unit_id == unit.id)
    matches = list(session.scalars(query.order_by(Person.id)))
    if len(matches) > 1:
        # A leaver does not make a current colleague's name ambiguous.
        matches = [p for p in matches if p.active] or matches
    if not matches:
        raise NotFound(f"找不到人员 {ref}（可用编号、登录名或姓名；yuqing people list 查看）")
    if len(matches) > 1:
        names = "、".join(f"{p.name}（编号 {p.id}，{get_unit(session, p.unit_id).name}）" for p in matches)
        raise OrgError(f"有 {len(matches)} 人名为 {text}：{names}；请用编号、登录名或“姓名@单位”指定")
    return matches[0]


def list_people(session: Session, unit_id: int | None = None, *, active_only: bool = False) -> list[Person]:
    query = select(Person).order_by(Person.unit_id, Person.id)
    if unit_id is not None:
        query = query.where(Person.unit_id == unit_id)
    if active_only:
        query = query.where(Person.active.is_(True))
    return list(session.scalars(query))


# ---- roles --------------------------------------------------------------------------------------


def _role(role: Role | str) -> Role:
    return role if isinstance(role, Role) else parse_role(role)


def grant_role(
    session: Session, person_id: int, role: Role | str, unit_id: int | None = None
) -> RoleAssignment:
    """Give a person a role at a unit (their own unit by default). Granting it again changes nothing."""
    person = get_person(session, person_id)
    chosen = _role(role)
    at_unit = get_unit(session, person.unit_id if unit_id is None else unit_id)
    existing = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.person_id == person.id,
            RoleAssignment.role == chosen.value,
            RoleAssignment.unit_id == at_unit.id,
        )
    )
    if existing is not None:
        return existing
    assignment = RoleAssignment(person_id=person.id, role=chosen.value, unit_id=at_unit.id)
    session.add(assignment)
    session.flush()
    return assignment


def revoke_role(session: Session, person_id: int, role: Role | str, unit_id: int | None = None) -> None:
    person = get_person(session, person_id)
    chosen = _role(role)
    at_unit = get_unit(session, person.unit_id if unit_id is None else unit_id)
    assignment = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.person_id == person.id,
            RoleAssignment.role == chosen.value,
            RoleAssignment.unit_id == at_unit.id,
        )
    )
    if assignment is None:
        raise NotFound(f"{person.name} 在 {at_unit.name} 没有 {chosen.label} 角色")
    session.delete(assignment)
    session.flush()


def roles_of(session: Session, person_id: int) -> list[RoleAssignment]:
    query = select(RoleAssignment).where(RoleAssignment.person_id == person_id).order_by(RoleAssignment.id)
    return list(session.scalars(query))


def has_role(
    session: Session, person_id: int, role: Role | str, unit_id: int, *, admin_counts: bool = True
) -> bool:
    """True when an active person holds the role at the unit or at one of its ancestors, or is 管理员
    there (an administrator holds every permission) — unless `admin_counts` is off: approving a
    statement is a leader's own decision, which an administrator manages but does not make."""
    person = session.get(Person, person_id)
    if person is None or not person.active:
        return False
    chain = [u.id for u in ancestors(session, unit_id)]
    held = set(
        session.scalars(
            select(RoleAssignment.role).where(
                RoleAssignment.person_id == person_id, RoleAssignment.unit_id.in_(chain)
            )
        )
    )
    return _role(role).value in held or (admin_counts and Role.ADMIN.value in held)


def people_with_role(session: Session, role: Role | str, unit_id: int) -> list[Person]:
    """The active holders of the role at the unit; if there are none, at its parent, and so on up to
    the root (an empty list when no unit in the chain has one). 管理员 are not counted as holders of
    other roles here: this answers "whom to ask", not "who may"."""
    chosen = _role(role)
    for unit in ancestors(session, unit_id):
        holders = list(
            session.scalars(
                select(Person)
                .join(RoleAssignment, RoleAssignment.person_id == Person.id)
                .where(
                    RoleAssignment.role == chosen.value,
                    RoleAssignment.unit_id == unit.id,
                    Person.active.is_(True),
                )
                .order_by(Person.id)
            )
        )
        if holders:
            return holders
    return []


def nearest_holders(session: Session, roles: Iterable[Role | str], unit_id: int) -> list[Person]:
    """The active holders of any of the roles at the nearest unit, from this one up, that has one:
    whom to ask for a decision any one of them may take (a bureau's 分管领导 settles the bureau's
    reply; the mayor is asked only when the bureau has neither 分管领导 nor 主要领导). Ordered by
    the roles as given, each person once."""
    wanted = [_role(role).value for role in roles]
    for unit in ancestors(session, unit_id):
        rows = session.execute(
            select(Person, RoleAssignment.role)
            .join(RoleAssignment, RoleAssignment.person_id == Person.id)
            .where(
                RoleAssignment.role.in_(wanted),
                RoleAssignment.unit_id == unit.id,
                Person.active.is_(True),
            )
            .order_by(Person.id)
        ).all()
        if rows:
            ranked = sorted(rows, key=lambda row: wanted.index(row[1]))
            return list({person.id: person for person, _ in ranked}.values())
    return []


# ---- contact channels ---------------------------------------------------------------------------


def validate_contact(kind: ContactKind | str, address: str) -> tuple[ContactKind, str]:
    """The channel kind and its cleaned address, or an OrgError that says what is wrong."""
    chosen = kind if isinstance(kind, ContactKind) else parse_contact_kind(kind)
    text = address.strip()
    if chosen is ContactKind.EMAIL:
        if not _EMAIL.match(text):
            raise OrgError(f"邮箱地址格式不对：{address!r}（例如 zhangwei@nanjing.gov.cn）")
        local, _, domain = text.rpartition("@")
        return chosen, f"{local}@{domain.lower()}"
    if chosen in _WEBHOOK_KINDS:
        parts = urlsplit(text)
        if parts.scheme not in {"http", "https"} or not parts.hostname or " " in text:
            raise OrgError(f"{chosen.label}机器人地址应为 http(s) 网址：{address!r}")
        return chosen, text
    if chosen in {ContactKind.SMS, ContactKind.PHONE}:
        if not _PHONE.match(re.sub(r"[\s\-()]", "", text)):
            raise OrgError(f"电话号码格式不对：{address!r}（例如 13912345678 或 025-83106666）")
        return chosen, text
    return chosen, text  # in_app: the address is optional (the person is the address)


def add_contact(
    session: Session,
    person_id: int,
    kind: ContactKind | str,
    address: str,
    *,
    priority: int | None = None,
    enabled: bool = True,
) -> ContactChannel:
    """Add a channel, tried after the person's existing ones unless a priority is given (lower first).
    Adding the same kind and address again updates its priority and enabled flag."""
    person = get_person(session, person_id)
    chosen, cleaned = validate_contact(kind, address)
    channel = session.scalar(
        select(ContactChannel).where(
            ContactChannel.person_id == person.id,
            ContactChannel.kind == chosen.value,
            ContactChannel.address == cleaned,
        )
    )
    if channel is None:
        if priority is None:
            highest = session.scalar(
                select(func.max(ContactChannel.priority)).where(ContactChannel.person_id == person.id)
            )
            priority = 0 if highest is None else highest + 1
        channel = ContactChannel(person_id=person.id, kind=chosen.value, address=cleaned, priority=priority)
        session.add(channel)
    elif priority is not None:
        channel.priority = priority
    channel.enabled = enabled
    session.flush()
    return channel


def set_contact_enabled(session: Session, contact_id: int, enabled: bool) -> ContactChannel:
    channel = session.get(ContactChannel, contact_id)
    if channel is None:
        raise NotFound(f"找不到联系方式 {contact_id}")
    channel.enabled = enabled
    session.flush()
    return channel


def remove_contact(session: Session, contact_id: int) -> None:
    channel = session.get(ContactChannel, contact_id)
    if channel is None:
        raise NotFound(f"找不到联系方式 {contact_id}")
    session.delete(channel)
    session.flush()


def contacts_of(session: Session, person_id: int, *, include_disabled: bool = False) -> list[ContactChannel]:
    """A person's channels in the order to try them."""
    query = select(ContactChannel).where(ContactChannel.person_id == person_id)
    if not include_disabled:
        query = query.where(ContactChannel.enabled.is_(True))
    return list(session.scalars(query.order_by(ContactChannel.priority, ContactChannel.id)))


# ---- views (plain data for the CLI and the API) -------------------------------------------------


def unit_view(session: Session, unit: Unit) -> dict[str, Any]:
    chain = ancestors(session, unit.id)
    return {
        "id": unit.id,
        "name": unit.name,
        "kind": unit.kind,
        "kind_label": UnitKind(unit.kind).label,
        "parent_id": unit.parent_id,
        "parent": chain[1].name if len(chain) > 1 else None,
        "path": [u.name for u in reversed(chain)],
        "regions": list(unit.regions),
        "alert_threshold": unit.alert_threshold,
    }


def tree_view(session: Session) -> list[dict[str, Any]]:
    """The unit tree as nested data: each unit with its `children`."""
    nodes: dict[int, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for unit, _depth in unit_tree(session):
        node = {
            "id": unit.id,
            "name": unit.name,
            "kind": unit.kind,
            "kind_label": UnitKind(unit.kind).label,
            "regions": list(unit.regions),
            "alert_threshold": unit.alert_threshold,
            "children": [],
        }
        nodes[unit.id] = node
        parent = nodes.get(unit.parent_id) if unit.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def contact_view(channel: ContactChannel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "kind": channel.kind,
        "kind_label": ContactKind(channel.kind).label,
        "address": channel.address,
        "priority": channel.priority,
        "enabled": channel.enabled,
    }


def person_view(session: Session, person: Person) -> dict[str, Any]:
    roles = []
    for assignment in roles_of(session, person.id):
        role = Role(assignment.role)
        unit = get_unit(session, assignment.unit_id)
        roles.append({"role": role.value, "label": role.label, "unit_id": unit.id, "unit": unit.name})
    return {
        "id": person.id,
        "name": person.name,
        "unit_id": person.unit_id,
        "unit": get_unit(session, person.unit_id).name,
        "login": person.login,
        "active": person.active,
        "roles": roles,
        "contacts": [contact_view(c) for c in contacts_of(session, person.id, include_disabled=True)],
    }


def role_holders_view(session: Session, unit_id: int) -> list[dict[str, Any]]:
    """Who holds which role at exactly this unit (for `org show`)."""
    rows = session.execute(
        select(RoleAssignment.role, Person)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.unit_id == unit_id)
        .order_by(RoleAssignment.id)
    )
    return [
        {"role": role, "label": Role(role).label, "person_id": person.id, "person": person.name}
        for role, person in rows
    ]
