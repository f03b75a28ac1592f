"""`yuqing alerts …`, `yuqing cases …`, `yuqing stats`, `yuqing response run`: thin calls into
the alerts and cases services."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from yuqing.cli.common import emit_json, fail, runtime, user_errors
from yuqing.org.roles import Role

alerts_app = typer.Typer(help="预警：list, ack.", no_args_is_help=True)
cases_app = typer.Typer(
    help="工单：list, show, open, advance, phone-report, categorize, statement, approve, release, respond, "
    "settle-reply, extend, task, task-done, evidence, regrade, close.",
    no_args_is_help=True,
)
response_app = typer.Typer(help="处置后台任务：run（预警、升级、时限巡检、跟踪）。", no_args_is_help=True)

As = Annotated[str, typer.Option("--as", help="操作人（ID、登录名或姓名）。")]
Json = Annotated[bool, typer.Option("--json", help="输出 JSON。")]


def _print_case(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(view)
        return
    if "task" in view:  # a department's liaison finished a task of another unit's case
        task = view["task"]
        typer.echo(f"工单 #{view['id']} 任务 {task['id']}（{task['unit']}）已办结：{task['result']}")
        return
    typer.echo(f"工单 #{view['id']}【{view['grade']}】{view['title']}")
    typer.echo(f"  单位：{view['unit']}  阶段：{view['stage_label']}  类别：{view['category'] or '未研判'}")
    if view.get("measures"):
        typer.echo(f"  建议措施：{view['measures']}")
    for deadline in view.get("deadlines", []):
        warning = f"  ⚠ {deadline['calendar_warning']}" if deadline["calendar_warning"] else ""
        typer.echo(
            f"  时限 {deadline['label']}（{deadline['rule_text']}）：{_when(deadline['due_at'])}前  "
            f"{deadline['state_label']}{warning}"
        )
    for statement in view.get("statements", []):
        missing = "、".join(Role(role).label for role in statement["missing_roles"])
        state = _STATEMENT_LABELS.get(statement["status"], statement["status"])
        typer.echo(
            f"  声明第 {statement['version']} 稿：{state}" + (f"，待审批：{missing}" if missing else "")
        )
    if view.get("phone_reports"):
        for call in view["phone_reports"]:
            typer.echo(f"  电话报告：{_when(call['called_at'])} {call['to']}（{call['by']}记录）")
    for reply in view.get("replies", []):
        if reply["status"] == "pending":
            typer.echo(f"  答复意见 {reply['id']}（{reply['drafted_by']}起草）：待审定（cases settle-reply）")
    for entry in view.get("timeline", [])[-5:]:
        typer.echo(f"  {_when(entry['at'])} {entry['actor']}：{entry['text']}")


# how a statement's state reads to a person (as on the case page)
_STATEMENT_LABELS = {
    "draft": "待审批",
    "approved": "审批齐全、待发布",
    "rejected": "已驳回",
    "released": "已发布",
}


def _when(at: str | None) -> str:
    """A view's local ISO time as people read it: 「2026年11月20日 10:05」."""
    from yuqing.reports.common import iso_time_text

    return iso_time_text(at)


@alerts_app.command("list")
@user_errors
def alerts_list(
    status: Annotated[str | None, typer.Option(help="状态：open、acknowledged 或 closed。")] = None,
    as_json: Json = False,
) -> None:
    """列出预警，最新的在前。"""
    from yuqing.alerts.service import list_alerts
    from yuqing.web.pages.queries import ALERT_STATUS_LABELS

    with runtime() as rt:
        alerts = list_alerts(rt, status=status)
    if as_json:
        emit_json(alerts)
        return
    if not alerts:
        typer.echo("暂无预警")
    for a in alerts:
        typer.echo(
            f"#{a['id']} 【{a['grade']}】{a['title'][:40]}  {a['unit']}  {a['kind_label']}  "
            f"状态：{ALERT_STATUS_LABELS.get(a['status'], a['status'])}"
        )


@alerts_app.command("ack")
@user_errors
def alerts_ack(alert_id: int, person: As, as_json: Json = False) -> None:
    """确认预警，其升级通知随即停止。"""
    from yuqing.alerts.service import acknowledge

    with runtime() as rt:
        view = acknowledge(rt, alert_id, person, via="cli")
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"已确认预警 #{alert_id}（{view['acknowledged_by']}，{view['acknowledged_at']}）")


@cases_app.command("list")
@user_errors
def cases_list(
    stage: Annotated[str | None, typer.Option(help="只列出处于该阶段的工单。")] = None,
    drills: Annotated[bool, typer.Option("--drills", help="包括演练工单。")] = False,
    as_json: Json = False,
) -> None:
    """列出工单及其下一个时限。"""
    from yuqing.cases.service import list_cases

    with runtime() as rt:
        cases = list_cases(rt, stage=stage, include_drills=drills)
    if as_json:
        emit_json(cases)
        return
    if not cases:
        typer.echo("暂无工单")
    for c in cases:
        nxt = c["next_deadline"]
        due = f"  下一时限：{nxt['label']} {nxt['due_at']}（{nxt['state_label']}）" if nxt else ""
        typer.echo(f"#{c['id']} 【{c['grade']}】{c['title'][:40]}  {c['stage_label']}{due}")


@cases_app.command("show")
@user_errors
def cases_show(case_id: int, as_json: Json = False) -> None:
    """查看工单及其时限、声明、审批、任务、证据和时间线。"""
    from yuqing.cases.service import show

    with runtime() as rt:
        _print_case(show(rt, case_id), as_json)


@cases_app.command("open")
@user_errors
def cases_open(
    person: As,
    event: Annotated[int | None, typer.Option(help="根据该事件（及其预警）新建工单。")] = None,
    alert: Annotated[int | None, typer.Option(help="根据该预警新建工单。")] = None,
    post: Annotated[int | None, typer.Option(help="根据该条信息手动新建工单。")] = None,
    unit: Annotated[str | None, typer.Option(help="责任单位（默认：预警所属单位）。")] = None,
    grade: Annotated[str | None, typer.Option(help="根据信息新建工单时的级别代码：I..IV。")] = None,
    as_json: Json = False,
) -> None:
    """新建工单，预案规定的各项时限开始计时。"""
    from yuqing.cases.service import open_case

    with runtime() as rt:
        view = open_case(
            rt, person, event_id=event, alert_id=alert, post_id=post, unit_ref=unit, grade_code=grade
        )
    _print_case(view, as_json)


@cases_app.command("advance")
@user_errors
def cases_advance(
    case_id: int,
    stage: Annotated[
        str, typer.Argument(help="reported/assessed/disposing/following/summarised/closed，或报告…结案。")
    ],
    person: As,
    category: Annotated[str | None, typer.Option(help="同时设定类别（研判）。")] = None,
    summary: Annotated[str | None, typer.Option(help="总结评估内容。")] = None,
    note: Annotated[str, typer.Option(help="记入时间线的备注。")] = "",
    phone_to: Annotated[
        str | None, typer.Option(help="转入报告时同时记录：已电话报告的对象（重大以上须电话报告）。")
    ] = None,
    phone_at: Annotated[str | None, typer.Option(help="电话报告的时间，如 10:05（默认为现在）。")] = None,
    as_json: Json = False,
) -> None:
    """将工单推进到下一阶段；条件不满足或角色不符时拒绝，并说明原因。"""
    from yuqing.cases.service import advance

    with runtime() as rt:
        view = advance(
            rt,
            case_id,
            stage,
            person,
            category=category,
            summary=summary,
            note=note,
            phone_to=phone_to,
            phone_at=phone_at,
        )
        _print_case(view, as_json)


@cases_app.command("phone-report")
@user_errors
def cases_phone_report(
    case_id: int,
    person: As,
    to: Annotated[str, typer.Option("--to", help="电话报告了谁（单位和姓名）。")],
    at: Annotated[
        str | None, typer.Option("--at", help="通话时间，如 10:05 或 2026-11-20 10:05（默认为现在）。")
    ] = None,
    as_json: Json = False,
) -> None:
    """记录已电话报告上级（预案：重大、特别重大舆情在书面报告的同时电话报告）。"""
    from yuqing.cases.service import record_phone_report

    with runtime() as rt:
        _print_case(record_phone_report(rt, case_id, person, to, called_at=at), as_json)


@cases_app.command("categorize")
@user_errors
def cases_categorize(case_id: int, category: str, person: As, as_json: Json = False) -> None:
    """设定类别（询问/质疑/诉求、属实批评、恶意传播/炒作、捏造/歪曲/谣言/诽谤、建设性建议）。"""
    from yuqing.cases.service import categorize

    with runtime() as rt:
        _print_case(categorize(rt, case_id, category, person), as_json)


@cases_app.command("statement")
@user_errors
def cases_statement(
    case_id: int,
    person: As,
    facts: Annotated[str, typer.Option(help="已核实的事实（快报事实）。")],
    causes: Annotated[str | None, typer.Option(help="原因，须审慎（慎报原因）。")] = None,
    progress: Annotated[str | None, typer.Option(help="进展（重报进展）。")] = None,
    as_json: Json = False,
) -> None:
    """起草声明；须经工单级别所要求的审批。"""
    from yuqing.cases.service import draft_statement

    with runtime() as rt:
        _print_case(
            draft_statement(rt, case_id, person, facts=facts, causes=causes, progress=progress), as_json
        )


@cases_app.command("approve")
@user_errors
def cases_approve(
    case_id: int,
    person: As,
    reject: Annotated[bool, typer.Option("--reject", help="驳回，而非批准。")] = False,
    comment: Annotated[str | None, typer.Option(help="审批意见。")] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="所审批的稿号；其后已有新稿时拒绝。")
    ] = None,
    as_json: Json = False,
) -> None:
    """以本人所担任的角色批准（或驳回）最新一稿声明。"""
    from yuqing.cases.service import approve

    with runtime() as rt:
        _print_case(approve(rt, case_id, person, reject=reject, comment=comment, version=version), as_json)


@cases_app.command("release")
@user_errors
def cases_release(
    case_id: int,
    person: As,
    channel: Annotated[
        str,
        typer.Option(help="发布渠道：新闻通稿、官方微博/微信、新闻发布会、跟帖回应、专家解读、媒体采访。"),
    ],
    as_json: Json = False,
) -> None:
    """发布已批准的声明；审批未齐时拒绝发布。"""
    from yuqing.cases.service import release

    with runtime() as rt:
        _print_case(release(rt, case_id, channel, person), as_json)


@cases_app.command("respond")
@user_errors
def cases_respond(
    case_id: int,
    person: As,
    text: Annotated[str, typer.Option(help="回应内容。")],
    formal: Annotated[bool, typer.Option("--formal", help="作为正式答复（答复意见）。")] = False,
    as_json: Json = False,
) -> None:
    """记录对发帖人的回应。正式答复由办公室起草时，须经分管领导或主要领导审定（settle-reply）后方为答复。"""
    from yuqing.cases.service import respond

    with runtime() as rt:
        _print_case(respond(rt, case_id, person, text, formal=formal), as_json)


@cases_app.command("settle-reply")
@user_errors
def cases_settle_reply(
    case_id: int,
    reply_id: Annotated[int, typer.Argument(help="答复意见编号（cases show 中列出）。")],
    person: As,
    reject: Annotated[bool, typer.Option("--reject", help="退回修改（须写明理由）。")] = False,
    comment: Annotated[str | None, typer.Option(help="审定意见。")] = None,
    as_json: Json = False,
) -> None:
    """审定办公室起草的正式答复意见：同意即记为答复网民并完成答复时限，或退回修改。"""
    from yuqing.cases.service import decide_reply

    with runtime() as rt:
        _print_case(decide_reply(rt, case_id, reply_id, person, reject=reject, comment=comment), as_json)


@cases_app.command("extend")
@user_errors
def cases_extend(
    case_id: int,
    person: As,
    reason: Annotated[str, typer.Option(help="书面理由。")],
    kind: Annotated[str | None, typer.Option(help="要延长的时限（默认 formal_reply）。")] = None,
    days: Annotated[int | None, typer.Option(help="自起算时起总计的工作日数（默认取上限 10）。")] = None,
    as_json: Json = False,
) -> None:
    """延长时限一次，须说明理由，总计不超过 10 个工作日。"""
    from yuqing.cases.service import extend

    with runtime() as rt:
        _print_case(extend(rt, case_id, reason, person, kind=kind, days=days), as_json)


@cases_app.command("task")
@user_errors
def cases_task(
    case_id: int,
    person: As,
    unit: Annotated[str, typer.Option(help="承办部门。")],
    text: Annotated[str, typer.Option(help="任务内容。")],
    working_days: Annotated[int | None, typer.Option(help="完成期限（工作日数）。")] = None,
    hours: Annotated[float | None, typer.Option(help="完成期限（小时数）。")] = None,
    as_json: Json = False,
) -> None:
    """向部门交办任务，并设定完成期限。"""
    from yuqing.cases.service import add_task

    with runtime() as rt:
        _print_case(
            add_task(rt, case_id, unit, text, person, hours=hours, working_days=working_days), as_json
        )


@cases_app.command("task-done")
@user_errors
def cases_task_done(
    case_id: int,
    task_id: int,
    person: As,
    result: Annotated[str, typer.Option(help="办理结果。")],
    as_json: Json = False,
) -> None:
    """将任务标记为完成，并记录办理结果。"""
    from yuqing.cases.service import complete_task

    with runtime() as rt:
        _print_case(complete_task(rt, case_id, task_id, person, result), as_json)


@cases_app.command("evidence")
@user_errors
def cases_evidence(
    case_id: int,
    post_id: int,
    person: As,
    note: Annotated[str | None, typer.Option()] = None,
    as_json: Json = False,
) -> None:
    """将已存储的信息附为证据。"""
    from yuqing.cases.service import attach_evidence

    with runtime() as rt:
        _print_case(attach_evidence(rt, case_id, post_id, person, note), as_json)


@cases_app.command("regrade")
@user_errors
def cases_regrade(
    case_id: int,
    grade: str,
    person: As,
    reason: Annotated[str, typer.Option(help="原因。")],
    as_json: Json = False,
) -> None:
    """手动调整级别，须说明原因（仅限领导）。"""
    from yuqing.cases.service import regrade

    with runtime() as rt:
        _print_case(regrade(rt, case_id, grade, reason, person), as_json)


@cases_app.command("follow-up")
@user_errors
def cases_follow_up(
    case_id: int,
    person: As,
    text: Annotated[str, typer.Option(help="进展情况（处置措施、事态变化、下一步安排）。")],
    as_json: Json = False,
) -> None:
    """续报：处置过程中向已报告的上级和领导续报进展（附当前阶段、信息量、权威信息和部门任务情况）。"""
    from yuqing.cases.service import follow_up

    with runtime() as rt:
        _print_case(follow_up(rt, case_id, text, person), as_json)


@cases_app.command("withdraw")
@user_errors
def cases_withdraw(
    case_id: int,
    person: As,
    reason: Annotated[str, typer.Option(help="撤销理由（误报、非本单位事项、重复工单…）。")],
    as_json: Json = False,
) -> None:
    """撤销无需处置的工单（误报等），须说明理由（仅限领导；已发布权威信息的不能撤销）。"""
    from yuqing.cases.service import withdraw

    with runtime() as rt:
        _print_case(withdraw(rt, case_id, reason, person), as_json)


@cases_app.command("close")
@user_errors
def cases_close(
    case_id: int,
    person: As,
    summary: Annotated[str | None, typer.Option(help="总结评估内容（如尚未填写）。")] = None,
    as_json: Json = False,
) -> None:
    """结案；没有总结评估时拒绝。"""
    from yuqing.cases.service import close

    with runtime() as rt:
        _print_case(close(rt, case_id, person, summary=summary), as_json)


def stats(
    date_from: Annotated[str | None, typer.Option("--from", help="起始日（YYYY-MM-DD）。")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="截止日（YYYY-MM-DD）。")] = None,
    as_json: Json = False,
) -> None:
    """按时率、报告与回应用时中位数、超时时限统计（用于奖惩考核）。"""
    from yuqing.cases.stats import statistics_report

    start = dt.date.fromisoformat(date_from) if date_from else None
    end = dt.date.fromisoformat(date_to) if date_to else None
    with runtime() as rt:
        report = statistics_report(rt, start=start, end=end)
    if as_json:
        emit_json(report)
        return
    typer.echo(f"工单 {report['cases']} 件")
    for row in report["units"]:
        rate = f"{row['on_time_rate']:.0%}" if row["on_time_rate"] is not None else "-"
        typer.echo(
            f"  {row['unit']} {row['label']}：按时 {row['met']}，超时完成 {row['missed']}，"
            f"超时未完成 {row['overdue']}，按时率 {rate}"
        )
    for row in report["timeliness"]:
        typer.echo(
            f"  {row['unit']}：报告用时中位数 {row['median_minutes_to_report']} 分钟，"
            f"回应用时中位数 {row['median_minutes_to_respond']} 分钟"
        )
    for miss in report["missed"]:
        typer.echo(f"  超时：工单 #{miss['case_id']} {miss['label']}，应于 {miss['due_at']}，{miss['state']}")


stats_command = user_errors(stats)


_DUTY_NAMES = {
    "alerts": "生成预警",
    "escalation": "预警升级通知",
    "deadlines": "时限巡检",
    "follow_up": "跟踪",
    "sources": "信息源告警",
}


@response_app.command("run")
@user_errors
def response_run(as_json: Json = False) -> None:
    """执行一轮：根据定级信号生成新预警、升级通知、时限巡检、跟踪，
    然后发送排队中的通知。"""
    from yuqing.cases.followup import run_once
    from yuqing.notify.outbox import deliver_due

    with runtime() as rt:
        result = run_once(rt)
        delivered = deliver_due(rt, limit=1000)
    result["notifications"] = delivered.as_dict()
    if as_json:
        emit_json(result)
        if result["failed"]:
            raise typer.Exit(1)
        return
    a = result["alerts"]
    d = result["deadlines"]
    typer.echo(f"新预警 {a['created']}，合并 {a['merged']}，升级通知 {result['alerts_escalated']}")
    typer.echo(
        f"时限：即将到期 {d['due_soon']}，新超时 {d['overdue']}；"
        f"建议结案 {result['calm_proposed']}，反复重开 {result['reopened']}"
    )
    if a["failed"]:
        typer.echo(f"有 {a['failed']} 个定级信号未能生成预警，下一轮重试（详见日志）", err=True)
    if result["failed"]:
        names = "、".join(_DUTY_NAMES.get(name, name) for name in result["failed"])
        fail(f"本轮未完成：{names}（错误详见日志）；其余任务已执行")
