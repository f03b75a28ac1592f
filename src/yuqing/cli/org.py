"""CLI commands of the organisation domain: `yuqing org`, `yuqing people`, `yuqing duty`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from yuqing.cli.common import emit_json, fail, runtime, user_errors
from yuqing.db import transaction

org_app = typer.Typer(help="单位（组织架构）：add, list, show, update, delete.", no_args_is_help=True)
people_app = typer.Typer(
    help="人员、角色与联系方式：add, list, show, update, grant, revoke, contact.", no_args_is_help=True
)
duty_app = typer.Typer(
    help="值班表：rotation, override, swap, unswap, now, show, gaps, 24h.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON。")]


def _shanghai() -> dt.tzinfo:
    from yuqing.org.duty import SHANGHAI

    return SHANGHAI


def _moment(text: str, what: str) -> dt.datetime:
    """An ISO 8601 time or date; without an offset it is Asia/Shanghai time, a date means 00:00."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"{what} 无法识别：{text!r}；应为 ISO 8601 时间，例如 2026-11-23T18:00 或 2026-11-23")
        raise AssertionError("unreachable") from None
    return value.replace(tzinfo=_shanghai()) if value.tzinfo is None else value


def _day(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{what} 应为日期，例如 2026-11-23：{text!r}")
        raise AssertionError("unreachable") from None


def _range(now: dt.datetime, start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    """--from/--to: dates (the --to day included) or times; by default the seven days from today."""
    if start is None:
        local_today = now.astimezone(_shanghai()).date()
        first = dt.datetime.combine(local_today, dt.time(0), tzinfo=_shanghai())
    else:
        first = _moment(start, "--from")
    if end is None:
        last = first + dt.timedelta(days=7)
    else:
        last = _moment(end, "--to")
        if "T" not in end and " " not in end.strip():
            last += dt.timedelta(days=1)  # a date: up to the end of that day
    if last <= first:
        fail("--to 必须晚于 --from")
    return first, last


# ---- org ----------------------------------------------------------------------------------------


def _unit_line(view: dict[str, Any]) -> str:
    parts = [f"{view['name']}（{view['kind_label']}）"]
    if view["regions"]:
        parts.append(f"区域：{'、'.join(view['regions'])}")
    parts.append(f"预警起点：{view['alert_threshold']}")
    return "  ".join(parts)


@org_app.command("add")
@user_errors
def org_add(
    name: Annotated[str, typer.Argument(help="单位名称，例如鼓楼医院。")],
    parent: Annotated[str | None, typer.Option(help="上级单位（名称或 ID）。")] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="单位类型：government/bureau/school/hospital/company/department，或政府/医院…。"),
    ] = None,
    region: Annotated[list[str] | None, typer.Option("--region", help="单位负责的区域（可重复）。")] = None,
    threshold: Annotated[
        str, typer.Option(help="预警起点（触发预警的最低级别）：IV（所有定级事件）、III、II 或 I。")
    ] = "IV",
    as_json: JsonOption = False,
) -> None:
    """在组织架构中添加单位。"""
    from yuqing.org import service

    with runtime() as rt, transaction(rt.sessions) as session:
        parent_id = service.find_unit(session, parent).id if parent else None
        unit = service.create_unit(
            session, name, parent_id=parent_id, kind=kind, regions=region or [], alert_threshold=threshold
        )
        view = service.unit_view(session, unit)
    if as_json:
        emit_json(view)
        return
    above = f"，上级：{view['parent']}" if view["parent"] else ""
    typer.echo(f"已添加单位 {view['id']}：{view['name']}（{view['kind_label']}{above}）")


@org_app.command("list")
@user_errors
def org_list(as_json: JsonOption = False) -> None:
    """显示单位组织架构树。"""
    from yuqing.org import service

    with runtime() as rt, rt.sessions() as session:
        if as_json:
            emit_json(service.tree_view(session))
            return
        tree = [(service.unit_view(session, unit), depth) for unit, depth in service.unit_tree(session)]
    if not tree:
        typer.echo("还没有单位；用 yuqing org add 添加")
    for view, depth in tree:
        typer.echo(f"{'    ' * depth}{_unit_line(view)}")


@org_app.command("show")
@user_errors
def org_show(
    name: Annotated[str, typer.Argument(help="单位名称或 ID。")], as_json: JsonOption = False
) -> None:
    """查看单位：所处层级、人员、角色及24小时值班情况。"""
    from yuqing.org import duty, service

    with runtime() as rt, rt.sessions() as session:
        unit = service.find_unit(session, name)
        view = service.unit_view(session, unit)
        view["children"] = [child.name for child in service.children(session, unit.id)]
        view["people"] = [
            {"id": p.id, "name": p.name, "active": p.active} for p in service.list_people(session, unit.id)
        ]
        view["roles"] = service.role_holders_view(session, unit.id)
        view["duty_24h"] = [
            {"reason": p.reason, "key": p.key, "since": p.started_at.astimezone(_shanghai()).isoformat()}
            for p in duty.duty_24h_periods(session, unit.id, rt.clock())
        ]
    if as_json:
        emit_json(view)
        return
    typer.echo(_unit_line(view))
    typer.echo(f"层级：{' / '.join(view['path'])}")
    if view["children"]:
        typer.echo(f"下级单位：{'、'.join(view['children'])}")
    people = [p["name"] + ("" if p["active"] else "（已停用）") for p in view["people"]]
    typer.echo(f"人员（{len(people)}）：{'、'.join(people) or '无'}")
    for role in view["roles"]:
        typer.echo(f"  {role['label']}：{role['person']}")
    for period in view["duty_24h"]:
        typer.echo(f"24小时值班中：{period['reason']}（自 {period['since']}）")


@org_app.command("update")
@user_errors
def org_update(
    name: Annotated[str, typer.Argument(help="单位名称或 ID。")],
    new_name: Annotated[str | None, typer.Option("--name", help="新名称。")] = None,
    parent: Annotated[str | None, typer.Option(help="新的上级单位。")] = None,
    root: Annotated[bool, typer.Option("--root", help="设为顶级单位（无上级）。")] = False,
    kind: Annotated[str | None, typer.Option(help="新的单位类型。")] = None,
    region: Annotated[list[str] | None, typer.Option("--region", help="替换负责区域（可重复）。")] = None,
    threshold: Annotated[str | None, typer.Option(help="新的预警起点：IV、III、II 或 I。")] = None,
    as_json: JsonOption = False,
) -> None:
    """修改单位。"""
    from yuqing.org import service

    if parent and root:
        fail("--parent 与 --root 只能给出一个")
    with runtime() as rt, transaction(rt.sessions) as session:
        unit = service.find_unit(session, name)
        parent_id: int | service.Keep | None = service.KEEP
        if root:
            parent_id = None
        elif parent:
            parent_id = service.find_unit(session, parent).id
        service.update_unit(
            session,
            unit.id,
            name=new_name,
            parent_id=parent_id,
            kind=kind,
            regions=region,
            alert_threshold=threshold,
        )
        view = service.unit_view(session, unit)
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"已更新：{_unit_line(view)}")


@org_app.command("delete")
@user_errors
def org_delete(name: Annotated[str, typer.Argument(help="单位名称或 ID。")]) -> None:
    """删除单位（该单位须已没有下级单位、人员、角色和值班表）。"""
    from yuqing.org import service

    with runtime() as rt, transaction(rt.sessions) as session:
        unit = service.find_unit(session, name)
        unit_name = unit.name
        service.delete_unit(session, unit.id)
    typer.echo(f"已删除单位 {unit_name}")


# ---- people -------------------------------------------------------------------------------------


def _person_line(view: dict[str, Any]) -> str:
    roles = "、".join(
        role["label"] if role["unit_id"] == view["unit_id"] else f"{role['label']}@{role['unit']}"
        for role in view["roles"]
    )
    parts = [f"{view['id']:>4}", view["name"], view["unit"]]
    if roles:
        parts.append(roles)
    if view["login"]:
        parts.append(f"登录名 {view['login']}")
    if not view["active"]:
        parts.append("（已停用）")
    return "  ".join(parts)


@people_app.command("add")
@user_errors
def people_add(
    name: Annotated[str, typer.Argument(help="姓名，例如张伟。")],
    unit: Annotated[str, typer.Option(help="所属单位。")],
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role", help="角色：ROLE 或 ROLE@UNIT，代码或名称均可，如：分管领导、duty_officer@鼓楼医院。"
        ),
    ] = None,
    email: Annotated[str | None, typer.Option(help="邮箱地址。")] = None,
    dingtalk: Annotated[str | None, typer.Option(help="钉钉机器人 webhook URL。")] = None,
    wecom: Annotated[str | None, typer.Option(help="企业微信机器人 webhook URL。")] = None,
    feishu: Annotated[str | None, typer.Option(help="飞书机器人 webhook URL。")] = None,
    phone: Annotated[str | None, typer.Option(help="电话号码。")] = None,
    login: Annotated[str | None, typer.Option(help="控制台登录名。")] = None,
    as_json: JsonOption = False,
) -> None:
    """添加人员及其角色和联系方式（要么全部成功，要么全部不生效）。"""
    from yuqing.org import service

    with runtime() as rt, transaction(rt.sessions) as session:
        home = service.find_unit(session, unit)
        person = service.add_person(session, name, home.id, login=login)
        for spec in role or []:
            role_name, _, at_unit = spec.partition("@")
            unit_id = service.find_unit(session, at_unit).id if at_unit else None
            service.grant_role(session, person.id, role_name, unit_id)
        for kind, address in (
            ("phone", phone),
            ("email", email),
            ("dingtalk", dingtalk),
            ("wecom", wecom),
            ("feishu", feishu),
        ):
            if address:
                service.add_contact(session, person.id, kind, address)
        view = service.person_view(session, person)
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"已添加人员：{_person_line(view).strip()}")


@people_app.command("list")
@user_errors
def people_list(
    unit: Annotated[str | None, typer.Option(help="只列出该单位的人员。")] = None,
    as_json: JsonOption = False,
) -> None:
    """列出人员及其所属单位和角色。"""
    from yuqing.org import service

    with runtime() as rt, rt.sessions() as session:
        unit_id = service.find_unit(session, unit).id if unit else None
        views = [service.person_view(session, p) for p in service.list_people(session, unit_id)]
    if as_json:
        emit_json(views)
        return
    if not views:
        typer.echo("没有人员")
    for view in views:
        typer.echo(_person_line(view))


@people_app.command("show")
@user_errors
def people_show(
    ref: Annotated[str, typer.Argument(help="ID、登录名或姓名（重名时用“姓名@单位”）。")],
    as_json: JsonOption = False,
) -> None:
    """查看人员：所属单位、角色和联系方式。"""
    from yuqing.org import service

    with runtime() as rt, rt.sessions() as session:
        view = service.person_view(session, service.find_person(session, ref))
    if as_json:
        emit_json(view)
        return
    login = f"  登录名 {view['login']}" if view["login"] else ""
    state = "" if view["active"] else "  （已停用）"
    typer.echo(f"{view['name']}（编号 {view['id']}）  {view['unit']}{login}{state}")
    for role in view["roles"]:
        typer.echo(f"  角色：{role['label']}（{role['unit']}）")
    for contact in view["contacts"]:
        state = "" if contact["enabled"] else "（已停用）"
        typer.echo(f"  {contact['kind_label']}：{contact['address']}{state}")


@people_app.command("update")
@user_errors
def people_update(
    ref: Annotated[str, typer.Argument(help="ID、登录名或姓名。")],
    name: Annotated[str | None, typer.Option(help="新姓名。")] = None,
    unit: Annotated[str | None, typer.Option(help="调到该单位。")] = None,
    login: Annotated[str | None, typer.Option(help="新登录名。")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="重新启用，或标记为已离职。")
    ] = None,
) -> None:
    """修改人员（离职人员只停用，不删除）。"""
    from yuqing.org import service

    with runtime() as rt, transaction(rt.sessions) as session:
        person = service.find_person(session, ref)
        unit_id = service.find_unit(session, unit).id if unit else None
        service.update_person(
            session,
            person.id,
            name=name,
            unit_id=unit_id,
            login=service.KEEP if login is None else login,
            active=active,
        )
        line = _person_line(service.person_view(session, person)).strip()
    typer.echo(f"已更新：{line}")


def _grant_or_revoke(ref: str, role: str, unit: str | None, grant: bool) -> None:
    from yuqing.org import service
    from yuqing.org.roles import parse_role

    chosen = parse_role(role)
    with runtime() as rt, transaction(rt.sessions) as session:
        person = service.find_person(session, ref)
        at_unit = service.find_unit(session, unit) if unit else service.get_unit(session, person.unit_id)
        if grant:
            service.grant_role(session, person.id, chosen, at_unit.id)
        else:
            service.revoke_role(session, person.id, chosen, at_unit.id)
        who, where = person.name, at_unit.name
    typer.echo(f"{'已授予' if grant else '已撤销'} {who} 在 {where} 的 {chosen.label} 角色")


@people_app.command("grant")
@user_errors
def people_grant(
    ref: Annotated[str, typer.Argument(help="ID、登录名或姓名。")],
    role: Annotated[str, typer.Argument(help="角色：代码（deputy_leader）或名称（分管领导）。")],
    unit: Annotated[str | None, typer.Option(help="角色所在单位（默认：本人所属单位）。")] = None,
) -> None:
    """授予人员在某单位的角色；该角色对其所有下级单位同样有效。"""
    _grant_or_revoke(ref, role, unit, grant=True)


@people_app.command("revoke")
@user_errors
def people_revoke(
    ref: Annotated[str, typer.Argument(help="ID、登录名或姓名。")],
    role: Annotated[str, typer.Argument(help="角色：代码或名称。")],
    unit: Annotated[str | None, typer.Option(help="角色所在单位（默认：本人所属单位）。")] = None,
) -> None:
    """撤销人员的角色。"""
    _grant_or_revoke(ref, role, unit, grant=False)


@people_app.command("contact")
@user_errors
def people_contact(
    ref: Annotated[str, typer.Argument(help="ID、登录名或姓名。")],
    kind: Annotated[
        str, typer.Argument(help="联系方式类型：email、dingtalk、wecom、feishu、sms、phone 或 in_app。")
    ],
    address: Annotated[str, typer.Argument(help="邮箱地址、webhook URL、电话号码等。")] = "",
    priority: Annotated[int | None, typer.Option(help="尝试各联系方式的顺序，数字小的优先。")] = None,
    disable: Annotated[bool, typer.Option("--disable", help="保留该联系方式，但不使用。")] = False,
) -> None:
    """添加（或修改）人员的联系方式。"""
    from yuqing.org import service

    with runtime() as rt, transaction(rt.sessions) as session:
        person = service.find_person(session, ref)
        channel = service.add_contact(
            session, person.id, kind, address, priority=priority, enabled=not disable
        )
        view = service.contact_view(channel)
        who = person.name
    state = "（已停用）" if disable else ""
    typer.echo(f"{who} 的{view['kind_label']}：{view['address']}，顺序 {view['priority']}{state}")


# ---- duty ---------------------------------------------------------------------------------------


@duty_app.command("rotation")
@user_errors
def duty_rotation(
    unit: Annotated[str, typer.Argument(help="单位名称或 ID。")],
    people: Annotated[str, typer.Option("--people", help="按轮值顺序排列的人员，用逗号分隔：张伟,李娜。")],
    start: Annotated[str, typer.Option(help="第一天，例如 2026-11-23。")],
    shift: Annotated[str, typer.Option(help="daily（每天一班）或 weekly（每周一班）。")] = "daily",
    hours: Annotated[str, typer.Option(help="working（仅工作时间）或 all_day（全天）。")] = "working",
    handover: Annotated[str, typer.Option(help="交班时间（上海时间）。")] = "08:30",
    name: Annotated[str, typer.Option(help="轮值表名称；同名轮值表自 --start 起被替换。")] = "值班",
) -> None:
    """设置单位的轮值表。"""
    from yuqing.org import duty, service
    from yuqing.org.models import DutyHours, ShiftLength

    refs = [r.strip() for r in people.replace("，", ",").split(",") if r.strip()]
    if shift not in {s.value for s in ShiftLength} or hours not in {h.value for h in DutyHours}:
        fail("--shift 应为 daily 或 weekly，--hours 应为 working 或 all_day")
    try:
        handover_time = dt.time.fromisoformat(handover)
    except ValueError:
        fail(f"--handover 应为 HH:MM：{handover!r}")
        return
    with runtime() as rt, transaction(rt.sessions) as session:
        target = service.find_unit(session, unit)
        members = [service.find_person(session, ref) for ref in refs]
        rotation = duty.set_rotation(
            session,
            target.id,
            [p.id for p in members],
            _day(start, "--start"),
            shift=shift,
            hours=hours,
            handover=handover_time,
            name=name,
        )
        order = " → ".join(p.name for p in members)
        text = (
            f"已设置 {target.name} 的轮值表「{rotation.name}」：{order}；"
            f"{ShiftLength(rotation.shift).label}，{DutyHours(rotation.hours).label}，"
            f"自 {rotation.start_date.isoformat()} 起 {rotation.handover:%H:%M} 交班"
        )
    typer.echo(text)


@duty_app.command("override")
@user_errors
def duty_override(
    unit: Annotated[str, typer.Argument(help="单位名称或 ID。")],
    person: Annotated[str, typer.Argument(help="值班人员。")],
    start: Annotated[str, typer.Option("--from", help="开始时间，ISO 8601（不带时区偏移时按上海时间）。")],
    end: Annotated[str, typer.Option("--to", help="结束时间，ISO 8601。")],
    note: Annotated[str | None, typer.Option(help="原因。")] = None,
) -> None:
    """在指定时段安排某人值班，替代轮值表。"""
    from yuqing.org import duty, service

    with runtime() as rt, transaction(rt.sessions) as session:
        target = service.find_unit(session, unit)
        who = service.find_person(session, person)
        override = duty.add_override(
            session, target.id, who.id, _moment(start, "--from"), _moment(end, "--to"), note=note
        )
        text = (
            f"已安排 {who.name} 在 {target.name} 值班：{duty.local_text(override.starts_at)} → "
            f"{duty.local_text(override.ends_at)}（调整 {override.id}）"
        )
    typer.echo(text)


@duty_app.command("swap")
@user_errors
def duty_swap(
    unit: Annotated[str, typer.Argument(help="单位名称或 ID。")],
    person_a: Annotated[str, typer.Argument(help="A，原定 DATE_A 值班。")],
    day_a: Annotated[str, typer.Argument(help="DATE_A，例如 2026-11-23。")],
    person_b: Annotated[str, typer.Argument(help="B，原定 DATE_B 值班。")],
    day_b: Annotated[str, typer.Argument(help="DATE_B。")],
    rotation: Annotated[str | None, typer.Option(help="轮值表名称（单位有多个轮值表时需指定）。")] = None,
) -> None:
    """两人互换班次（用 `duty unswap ID` 撤销）。"""
    from yuqing.org import duty, service

    with runtime() as rt, transaction(rt.sessions) as session:
        target = service.find_unit(session, unit)
        a, b = service.find_person(session, person_a), service.find_person(session, person_b)
        record = duty.swap(
            session,
            target.id,
            a.id,
            _day(day_a, "DATE_A"),
            b.id,
            _day(day_b, "DATE_B"),
            rotation_name=rotation,
        )
        text = (
            f"已调班 {record.id}：{duty.local_text(record.shift_a_start)} 起由 {b.name} 值班，"
            f"{duty.local_text(record.shift_b_start)} 起由 {a.name} 值班"
        )
    typer.echo(text)


@duty_app.command("unswap")
@user_errors
def duty_unswap(swap_id: Annotated[int, typer.Argument(help="调班 ID。")]) -> None:
    """撤销调班：两个班次恢复由轮值表原定人员值班。"""
    from yuqing.org import duty

    with runtime() as rt, transaction(rt.sessions) as session:
        duty.undo_swap(session, swap_id)
    typer.echo(f"已撤销调班 {swap_id}")


@duty_app.command("now")
@user_errors
def duty_now(
    unit: Annotated[str, typer.Argument(help="单位名称或 ID。")],
    at: Annotated[str | None, typer.Option(help="查询该时间（ISO 8601）而非当前时间。")] = None,
    as_json: JsonOption = False,
) -> None:
    """查询单位当前（或 --at 指定时间）的值班人员及其联系方式。"""
    from yuqing.org import duty, service
    from yuqing.workcal.service import load_calendar

    with runtime() as rt, rt.sessions() as session:
        target = service.find_unit(session, unit)
        moment = _moment(at, "--at") if at else rt.clock()
        # Working time follows the holiday calendar (调休 included), not just Mon–Fri.
        answer = duty.duty_at(session, target.id, moment, is_working_time=load_calendar(rt).is_working_time)
        view: dict[str, Any] = {
            "at": moment.astimezone(_shanghai()).isoformat(),
            "unit": target.name,
            "answered_by": answer.unit.name if answer.unit else None,
            "round_the_clock": answer.round_the_clock,
            "reasons": [p.reason for p in answer.periods],
            "people": [
                {
                    "id": p.id,
                    "name": p.name,
                    "contacts": [service.contact_view(c) for c in service.contacts_of(session, p.id)],
                }
                for p in answer.people
            ],
        }
    if as_json:
        emit_json(view)
        return
    when = duty.local_text(moment)
    if not view["people"]:
        typer.echo(f"{when} {target.name} 无人值班")
    for person in view["people"]:
        reach = "；".join(f"{c['kind_label']} {c['address']}" for c in person["contacts"])
        typer.echo(f"{when} {target.name} 值班：{person['name']}" + (f"（{reach}）" if reach else ""))
    if view["answered_by"] and view["answered_by"] != target.name:
        typer.echo(f"（本单位此时无人值班，由上级单位 {view['answered_by']} 的值班人员承担）")
    for reason in view["reasons"]:
        typer.echo(f"24小时值班中：{reason}")


@duty_app.command("show")
@user_errors
def duty_show(
    unit: Annotated[str, typer.Argument(help="单位名称或 ID。")],
    start: Annotated[str | None, typer.Option("--from", help="起始日期或时间（默认：今天）。")] = None,
    end: Annotated[str | None, typer.Option("--to", help="截止日期，含当天（默认：一周）。")] = None,
    as_json: JsonOption = False,
) -> None:
    """按班次列出单位的值班安排。"""
    from yuqing.org import duty, service

    sources = {"rotation": "", "override": "（临时安排）", "swap": "（调班）"}
    with runtime() as rt, rt.sessions() as session:
        target = service.find_unit(session, unit)
        first, last = _range(rt.clock(), start, end)
        found = duty.shifts(session, target.id, first, last)
    if as_json:
        emit_json([s.as_dict() for s in found])
        return
    if not found:
        typer.echo(f"{target.name} 在该时段没有排班")
    elif found[0].unit_id != target.id:
        typer.echo(f"（{target.name} 没有自己的值班表，以下为上级单位 {found[0].unit_name} 的值班表）")
    for item in found:
        label = item.rotation or "值班"
        typer.echo(
            f"{duty.local_text(item.start)} → {duty.local_text(item.end)}  {item.person_name}  "
            f"{label}（{item.hours.label}）{sources[item.source]}"
        )


@duty_app.command("gaps")
@user_errors
def duty_gaps(
    unit: Annotated[str, typer.Argument(help="单位名称或 ID。")],
    start: Annotated[str | None, typer.Option("--from", help="起始日期或时间（默认：今天）。")] = None,
    end: Annotated[str | None, typer.Option("--to", help="截止日期，含当天（默认：一周）。")] = None,
    as_json: JsonOption = False,
) -> None:
    """列出需要值班却无人值班的时段（24小时值班期间也包括夜间和周末）。"""
    from yuqing.org import duty, service
    from yuqing.workcal.service import load_calendar

    with runtime() as rt, rt.sessions() as session:
        target = service.find_unit(session, unit)
        first, last = _range(rt.clock(), start, end)
        found = duty.gaps(session, target.id, first, last, is_working_time=load_calendar(rt).is_working_time)
    if as_json:
        emit_json([g.as_dict() for g in found])
        return
    if not found:
        typer.echo(f"{target.name} 在该时段值班无空档")
    for gap in found:
        hours = gap.duration.total_seconds() / 3600
        typer.echo(f"无人值班：{duty.local_text(gap.start)} → {duty.local_text(gap.end)}（{hours:g} 小时）")


@duty_app.command("24h")
@user_errors
def duty_24h(
    unit: Annotated[str, typer.Argument(help="单位名称或 ID。")],
    state: Annotated[str, typer.Argument(help="on（开启）或 off（结束）。")],
    reason: Annotated[str, typer.Option(help="原因，例如“重大事件 #12 处置中”。")],
) -> None:
    """开启或结束单位的24小时值班。"""
    from yuqing.org import duty, service

    if state not in {"on", "off"}:
        fail(f"状态应为 on 或 off：{state!r}")
    with runtime() as rt, transaction(rt.sessions) as session:
        target = service.find_unit(session, unit)
        now = rt.clock()
        if state == "on":
            period = duty.start_24h_duty(session, target.id, reason, now)
            text = (
                f"{target.name} 已开启24小时值班：{period.reason}（自 {duty.local_text(period.started_at)}）"
            )
        else:
            ended = duty.end_24h_duty(session, target.id, reason, now)
            if not ended:
                fail(f"{target.name} 当前没有24小时值班")
            text = f"{target.name} 已结束24小时值班：{reason}（{duty.local_text(now)}）"
    typer.echo(text)
