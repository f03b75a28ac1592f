"""总结评估 for a case that has been summed up or closed: what happened, what was done when, which
clocks were met and missed, how the statement went out, and the lessons the record shows."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func, select

from yuqing.analysis.models import Event
from yuqing.cases.models import (
    STAGE_LABELS,
    Approval,
    Case,
    CaseAction,
    CaseEvidence,
    CaseTask,
    Deadline,
    DeadlineState,
    Statement,
)
from yuqing.cases.plan import CATEGORIES, DeadlineKind, ResponsePlan, load_plan, rule_text
from yuqing.ingest.models import Post
from yuqing.org.models import Person, Unit
from yuqing.org.roles import ROLE_LABELS, Role
from yuqing.reports.common import ReportError, clip, duration_text, nested_quotes, subject, time_text
from yuqing.reports.document import Bullets, Document, Paragraph, Table
from yuqing.reports.special import deadline_rows, measure_rows
from yuqing.runtime import Runtime

__all__ = ["build_summary", "duration_text"]


def _plan(rt: Runtime) -> ResponsePlan:
    return load_plan(rt.settings.plan_profile or None)


def build_summary(rt: Runtime, case_id: int) -> Document:
    zone = rt.settings.timezone
    with rt.sessions() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise ReportError(f"找不到工单 {case_id}（可用 yuqing cases list 查看）")
        if case.stage not in ("summarised", "closed"):
            raise ReportError(
                f"工单 {case_id} 处于「{STAGE_LABELS[case.stage]}」阶段：提交总结或结案后才能生成总结评估"
            )
        unit = session.get(Unit, case.unit_id)
        event = session.get(Event, case.event_id) if case.event_id else None
        measures = measure_rows(session, [case], zone)
        clock_rows = deadline_rows(session, [case], zone)
        clocks = list(session.scalars(select(Deadline).where(Deadline.case_id == case.id)))
        # clocks that closing ended before they were done (cases.service logs each)
        ended_at_close = list(
            session.scalars(
                select(CaseAction.text)
                .where(CaseAction.case_id == case.id, CaseAction.action == "deadline_ended")
                .order_by(CaseAction.id)
            )
        )
        regrades = list(
            session.scalars(
                select(CaseAction.text)
                .where(CaseAction.case_id == case.id, CaseAction.action == "regrade")
                .order_by(CaseAction.id)
            )
        )
        phone_calls = session.scalar(
            select(func.count())
            .select_from(CaseAction)
            .where(CaseAction.case_id == case.id, CaseAction.action == "phone_report")
        )
        follow_ups = session.scalar(
            select(func.count())
            .select_from(CaseAction)
            .where(CaseAction.case_id == case.id, CaseAction.action == "follow_up")
        )
        answers = list(
            session.scalars(
                select(CaseAction.text).where(CaseAction.case_id == case.id, CaseAction.action == "respond")
            )
        )
        statements = list(
            session.scalars(select(Statement).where(Statement.case_id == case.id).order_by(Statement.version))
        )
        approvals = (
            list(
                session.scalars(select(Approval).where(Approval.statement_id.in_([s.id for s in statements])))
            )
            if statements
            else []
        )
        people = {p.id: p.name for p in session.scalars(select(Person))}
        tasks = list(
            session.scalars(select(CaseTask).where(CaseTask.case_id == case.id).order_by(CaseTask.id))
        )
        units = {u.id: u.name for u in session.scalars(select(Unit))}
        evidence = list(
            session.execute(
                select(CaseEvidence, Post)
                .join(Post, Post.id == CaseEvidence.post_id)
                .where(CaseEvidence.case_id == case.id)
            )
        )

    issuer = unit.name if unit else ""
    doc = Document(
        kind="summary",
        banner="网络舆情处置总结评估",
        title=f"关于“{subject(case.title)}”舆情处置情况的总结评估",
        issuer=issuer,
        issued_at=rt.clock(),
        zone=zone,
        meta=[("工单编号", str(case.id)), ("责任单位", issuer), ("当前阶段", STAGE_LABELS[case.stage])],
        is_drill=case.is_drill,
    )
    span = ((case.closed_at or rt.clock()) - case.detected_at).total_seconds() / 60
    story = (
        f"{time_text(case.detected_at, zone)}监测发现“{nested_quotes(clip(case.title, 60))}”相关舆情，"
        + graded_as(case.grade, regrades)
        + (f"，定性为「{case.category}」" if case.category else "")
        + f"。{time_text(case.opened_at, zone)}开立工单，"
        + (
            f"{time_text(case.closed_at, zone)}撤销（{(case.summary or '').removeprefix('撤销：')}），"
            f"历时{duration_text(span)}。"
            if case.closed_at and case.withdrawn_at
            else f"{time_text(case.closed_at, zone)}结案，历时{duration_text(span)}。"
            if case.closed_at
            else "目前已提交总结、尚未结案。"
        )
    )
    if event is not None:
        story += (
            f"事件共涉及信息{event.post_count}条，最后一条相关信息出现于{time_text(event.last_seen, zone)}。"
        )
    if follow_ups:
        story += f"处置期间向上级续报{follow_ups}次。"
    if case.reopened:
        story += f"处置期间舆情反弹，工单重新进入处置{case.reopened}次。"
    doc.section("事件概况").add(Paragraph(story, "lead"))

    doc.section("处置经过").add(Table(("时间", "办理人", "事项"), tuple(measures), (1.3, 1, 4)))

    timing = doc.section("时限执行情况")
    states = Counter(d.state for d in clocks if d.state != DeadlineState.CANCELLED.value)
    timing.add(
        Paragraph(
            f"本工单共计时{sum(states.values())}项：按时完成{states.get('met', 0)}项，"
            f"超时完成{states.get('missed', 0)}项，超时未办{states.get('overdue', 0)}项，"
            f"尚在计时{states.get('pending', 0) + states.get('due_soon', 0)}项。"
        )
    )
    if clock_rows:
        timing.add(
            Table(
                ("时限", "要求", "截止时间", "完成时间", "状态"), tuple(clock_rows), (1.4, 0.8, 1.6, 1.6, 1.2)
            )
        )

    release = doc.section("信息发布与审核")
    released = [s for s in statements if s.released_at]
    if released:
        for s in released:
            signed = [a for a in approvals if a.statement_id == s.id and a.decision == "approved"]
            release.add(
                Paragraph(
                    f"第{s.version}稿于{time_text(s.released_at, zone)}通过{s.channel or '—'}发布，"
                    + (
                        "经"
                        + "、".join(
                            f"{ROLE_LABELS[Role(a.role)]}{people.get(a.person_id, '')}" for a in signed
                        )
                        + "审核同意。"
                        if signed
                        else "无审核记录。"
                    )
                ),
                Bullets(
                    tuple(
                        line
                        for line in (
                            f"事实：{s.facts}",
                            f"原因：{s.causes}" if s.causes else "",
                            f"进展：{s.progress}" if s.progress else "",
                        )
                        if line
                    )
                ),
            )
        rejected = [a for a in approvals if a.decision == "rejected"]
        if rejected:
            release.add(
                Paragraph(
                    f"审核中退回{len(rejected)}次："
                    + "；".join((a.comment or "").rstrip("。.；;") or "未注明理由" for a in rejected)
                    + "。"
                )
            )
    else:
        release.add(Paragraph("本工单未对外发布权威信息。"))

    if tasks:
        doc.section("部门任务").add(
            Table(
                ("承办单位", "任务", "要求完成", "完成时间", "结果"),
                tuple(
                    (
                        units.get(t.unit_id, ""),
                        t.text,
                        time_text(t.due_at, zone),
                        time_text(t.done_at, zone) if t.done_at else "未完成",
                        t.result or "—",
                    )
                    for t in tasks
                ),
                (1.3, 2.5, 1.4, 1.4, 2),
            )
        )

    lessons = doc.section("经验与不足")
    found: list[str] = []
    for d in clocks:
        label = DeadlineKind.LABELS.get(d.kind, d.kind)
        if d.state == DeadlineState.MISSED.value and d.done_at:
            late = (d.done_at - d.due_at).total_seconds() / 60
            found.append(
                f"{label}超时{duration_text(late)}完成"
                f"（要求{rule_text(d.rule)}，截止{time_text(d.due_at, zone)}）。"
            )
        elif d.state == DeadlineState.OVERDUE.value:
            found.append(f"{label}已过截止时间（{time_text(d.due_at, zone)}）仍未完成。")
        if d.extended:
            found.append(f"{label}曾延期：{d.extension_reason or '未注明理由'}。")
    late_tasks = [t for t in tasks if t.done_at and t.done_at > t.due_at]
    for t in late_tasks:
        found.append(f"{units.get(t.unit_id, '')}的任务“{nested_quotes(clip(t.text, 30))}”逾期完成。")
    found.extend(f"{text}。" for text in ended_at_close)
    if not phone_calls and not case.withdrawn_at and (case.grade_code or "IV") in _plan(rt).phone_report:
        found.append(f"未记录电话报告：预案要求{case.grade}舆情在书面报告的同时电话报告上级。")
    if case.reopened:
        found.append("舆情出现反弹，跟踪阶段的研判和回应需要加强。")
    if found:
        lessons.add(Paragraph("从处置记录看，存在以下不足："), Bullets(tuple(found)))
    else:
        lessons.add(Paragraph("各项时限均按时完成，处置流程符合预案要求。"))
    if case.category:
        # the plan's measures for the category, set against what the record shows was done: a
        # reminder of the rule is no shortcoming, a measure with nothing on record may be one
        done = [f"发布权威信息{len(released)}次" if released else "未发布权威信息"]
        formal = sum(a.startswith("正式答复") for a in answers)
        if answers:
            done.append(f"回应网民{len(answers)}次" + (f"（其中正式答复意见{formal}份）" if formal else ""))
        lessons.add(
            Paragraph(
                f"对照预案：「{case.category}」类舆情的处置要求为{CATEGORIES.get(case.category, '')}；"
                f"处置记录显示，本工单{'，'.join(done)}。预案要求中系统未记录的措施，请承办单位在总结中说明。"
            )
        )
    if case.summary:
        lessons.add(Paragraph(f"承办单位总结：{case.summary}"))
    else:
        lessons.add(Paragraph("承办单位尚未填写文字总结。", "note"))

    if evidence:
        doc.section("附：证据清单").add(
            Table(
                ("信息编号", "发布时间", "内容摘要", "原始数据哈希（SHA-256）"),
                tuple(
                    (
                        str(post.id),
                        time_text(post.published_at or post.fetched_at, zone),
                        clip(post.text, 50),
                        post.raw_sha256 or "—",
                    )
                    for _, post in evidence
                ),
                (0.8, 1.4, 3, 2.6),
            )
        )
    return doc


_REGRADE = re.compile(r"^等级 (\S+?) → (\S+?)(?:[：（]|$)")


def graded_as(grade: str, regrades: list[str]) -> str:
    """How the case was graded over its life, from its 「等级 X → Y」 log lines: 「定为较大」, or
    「初定为特别重大，后调整为一般」 when the grade it was opened at is not the grade it ended at."""
    steps = [m.groups() for m in map(_REGRADE.match, regrades) if m]
    if not steps or steps[0][0] == grade:
        extra = f"（期间调整等级{len(steps)}次）" if steps else ""
        return f"定为{grade}{extra}"
    return f"初定为{steps[0][0]}，后调整为{grade}"
