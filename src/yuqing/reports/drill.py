"""演练总结: the drill report each unit hands in after a drill (seed 001, PRODUCT.md §2.7) —
scenario, participants, the timeline of what was done when, scores per subject with the reasons,
checks against the plan, deadlines, shortcomings found and improvements to the plan. Everything
comes from `yuqing.drills.report.drill_report_data`, i.e. from the drill's record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from yuqing.cases.plan import rule_text
from yuqing.org.models import Unit
from yuqing.reports.common import ReportError, iso_time_text, nested_quotes, root_unit
from yuqing.reports.document import Bullets, Document, Paragraph, Table
from yuqing.runtime import Runtime

__all__ = ["build_drill_report"]


# Provenance keys of a scenario's [source] table, as the report names them.
SOURCE_LABELS = {
    "dataset": "数据集",
    "cascade": "传播链编号",
    "label": "数据集标注",
    "published_at": "原帖发布时间",
    "posts_kept": "选取范围",
}


def _when(text: str | None) -> str:
    """`2026-11-22T10:15:00+08:00` → `11月22日 10:15`; "—" for nothing."""
    return iso_time_text(text, year=False)


# Labels of the CED data set's annotation, as the report names them.
_DATASET_LABELS = {
    "rumor": "谣言",
    "non-rumor": "非谣言",
    "nonrumor": "非谣言",
    "true": "属实",
    "false": "不实",
}


def _source_value(key: str, value: object) -> str:
    """A provenance value as the office reads it: the data set's label in Chinese, a time as a
    date and time."""
    text = str(value)
    if key == "label":
        return _DATASET_LABELS.get(text.lower(), text)
    if key == "published_at":
        try:
            return iso_time_text(text)
        except ValueError:  # the [source] table is free-form: a time written otherwise is shown as is
            return text
    return text


def _span(minutes: float) -> str:
    """A scenario's length: 「45分钟」, 「22.7小时」."""
    return f"{minutes:g}分钟" if minutes < 120 else f"{minutes / 60:.1f}小时"


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:g}分钟"


def _points(value: float) -> str:
    return f"{value:g}"


def build_drill_report(rt: Runtime, drill_id: int) -> Document:
    from yuqing.drills.errors import DrillNotFound
    from yuqing.drills.report import drill_report_data

    try:
        data: dict[str, Any] = drill_report_data(rt, drill_id)
    except DrillNotFound as exc:
        raise ReportError(str(exc)) from exc
    drill, scenario, result = data["drill"], data["scenario"], data["score"]
    # The drill's record belongs to the unit that ran it (who may read and write it follows),
    # not to the unit its alert was routed to; a drill of no unit, to its alert's unit.
    with rt.sessions() as session:
        unit_name = drill.get("unit") or (data.get("detection") or {}).get("unit")
        if not unit_name or session.scalar(select(Unit.id).where(Unit.name == unit_name)) is None:
            unit_name = root_unit(session).name
    doc = Document(
        kind="drill",
        banner="网络舆情应急演练总结",
        title=data["title"],
        issuer=unit_name,
        issued_at=rt.clock(),
        zone=rt.settings.timezone,
        meta=[
            ("演练编号", str(drill["id"])),
            ("演练情景", scenario["name"]),
            ("演练状态", drill["state_label"]),
            ("回放倍速", f"{drill['speed']:g}倍"),
        ],
        is_drill=True,
    )

    overview = doc.section("演练概况")
    started, ended = _when(drill.get("started_at")), _when(drill.get("ended_at"))
    lead = (
        f"本次演练以“{nested_quotes(scenario['name'])}”为情景，{started}开始"
        + (f"，{ended}结束" if drill.get("ended_at") else "，尚未结束")
        + f"。情景共{scenario['posts']}条网络信息，历时{_span(scenario['duration_minutes'])}（情景时间），"
        f"以{drill['speed']:g}倍速回放进入监测系统，期间注入情况{len(scenario['injects'])}次。"
        + (
            f"演练于情景第{drill['scenario_seconds'] / 60:.0f}分钟提前结束，"
            f"实际回放信息{drill['posts_fed']}条、注入情况{drill['injects_fed']}次。"
            if drill.get("state") == "stopped"
            else ""
        )
        + f"综合得分{_points(result['overall'])}分，评定为「{result['rating']}」。"
    )
    overview.add(Paragraph(lead, "lead"))
    if scenario.get("description"):
        overview.add(Paragraph(f"情景说明：{scenario['description']}"))
    source = scenario.get("source") or {}
    shown = [
        f"{label}：{_source_value(key, source[key])}"
        for key, label in SOURCE_LABELS.items()
        if source.get(key)
    ]
    if shown:
        overview.add(Paragraph("情景来源：" + "；".join(shown) + "。", "note"))
    expect = scenario["expect"]
    expected = [
        f"预期等级：{expect['grade_name'] or expect['grade'] or '未设定'}",
        f"预期类别：{expect['category'] or '未设定'}",
        "预期对外发布权威信息：" + ("是" if expect.get("released") else "否"),
    ]
    overview.add(Bullets(tuple(expected)))

    people = doc.section("参演人员")
    if data["participants"]:
        people.add(
            Table(
                ("姓名", "单位", "角色"),
                tuple(
                    (p["name"], p["unit"] or "—", "、".join(p["roles"]) or "—") for p in data["participants"]
                ),
                (1, 1.6, 3),
            )
        )
    else:
        people.add(Paragraph("本次演练未登记参演人员。"))

    if scenario["injects"]:
        delivered, stopped = int(drill.get("injects_fed") or 0), drill.get("state") == "stopped"
        doc.section("情景注入").add(
            Table(
                ("情景时间", "类型", "内容", "对象", "送达"),
                tuple(
                    (
                        f"第{i['at_minutes']:g}分钟",
                        i["kind"],
                        i["text"],
                        "、".join(i["to"]) or "全体参演人员",
                        "已送达" if n < delivered else "未送达（演练已提前结束）" if stopped else "待送达",
                    )
                    for n, i in enumerate(scenario["injects"])
                ),
                (1, 1, 3.4, 1.2, 1),
            )
        )

    timeline = doc.section("演练过程")
    detection = data.get("detection")
    if detection:
        timeline.add(
            Paragraph(
                f"{_when(detection['at'])}系统发出首条演练预警（#{detection['alert_id']}，{detection['grade']}，"
                f"{detection['unit'] or ''}），各科目自此计时。"
            )
        )
    else:
        timeline.add(Paragraph("演练信息未触发预警，各科目未能计时。"))
    # The replay's own progress lines (each batch of posts fed) are summed up, not listed: the
    # document is about what the team did.
    fed = [item for item in data["timeline"] if item["kind"] == "posts"]
    steps = [item for item in data["timeline"] if item["kind"] != "posts"]
    if fed:
        timeline.add(
            Paragraph(
                f"情景信息分{len(fed)}批回放进入监测系统：首批于{_when(fed[0]['at'])}，"
                f"末批于{_when(fed[-1]['at'])}（共{drill['posts_fed']}条）。"
            )
        )
    if steps:
        timeline.add(
            Table(
                ("时间", "情景时间", "执行人", "事项"),
                tuple(
                    (
                        _when(item["at"]),
                        _minutes(item.get("scenario_minutes")),
                        item["actor"],
                        item["text"],
                    )
                    for item in steps
                ),
                (1.2, 1, 1, 4),
            )
        )

    scores = doc.section("科目评分")
    scores.add(
        Table(
            ("科目", "完成标志", "时限", "用时", "状态", "得分", "说明"),
            tuple(
                (
                    s["name"],
                    s["action_label"],
                    _minutes(s["limit_minutes"]),
                    _minutes(s["minutes"]),
                    s["status"],
                    _points(s["score"]),
                    s["reason"],
                )
                for s in result["subjects"]
            ),
            (1.4, 1.3, 0.8, 0.8, 0.9, 0.6, 3),
        ),
    )
    if result["reasons"]:  # how the total was reached, ending with it
        scores.add(Bullets(tuple(result["reasons"])))
    else:
        scores.add(
            Paragraph(
                f"科目平均{_points(result['subject_average'])}分，"
                f"预案执行核对扣{_points(result['deduction_total'])}分，"
                f"综合得分{_points(result['overall'])}分，评定为「{result['rating']}」。"
            )
        )

    checks = [c for c in result["checks"] if c["passed"] is not None]
    if checks:
        doc.section("预案执行核对").add(
            Table(
                ("项目", "预期", "实际", "结果", "扣分", "说明"),
                tuple(
                    (
                        c["label"],
                        c["expected"] or "—",
                        c["actual"] or "—",
                        "符合" if c["passed"] else "不符合",
                        _points(c["deduction"]),
                        c["reason"],
                    )
                    for c in checks
                ),
                (1.2, 1.2, 1.2, 0.8, 0.6, 3),
            )
        )

    clocks = doc.section("时限执行情况")
    counts = data["deadlines"]["counts"]
    if data["deadlines"]["items"]:
        clocks.add(
            Paragraph(
                "演练工单共计时"
                + "、".join(
                    f"{label}{counts.get(key, 0)}项"
                    for key, label in (
                        ("met", "按时完成"),
                        ("missed", "超时完成"),
                        ("overdue", "超时未办"),
                        ("pending", "尚在计时"),
                    )
                )
                + "。"
            ),
            Table(
                ("工单", "时限", "要求", "截止", "完成", "状态", "说明"),
                tuple(
                    (
                        f"#{d['case_id']}",
                        d["label"],
                        rule_text(d["rule"]),
                        _when(d["due_at"]),
                        _when(d["done_at"]),
                        d["state_label"],
                        d["reason"],
                    )
                    for d in data["deadlines"]["items"]
                ),
                (0.6, 1.2, 0.6, 1.1, 1.1, 0.9, 2.6),
            ),
        )
    else:
        clocks.add(Paragraph("演练中未开立工单，没有计时的时限。"))

    doc.section("发现的不足").add(
        Bullets(tuple(data["shortcomings"]))
        if data["shortcomings"]
        else Paragraph("本次演练未发现明显不足。")
    )
    doc.section("改进措施").add(
        Bullets(tuple(data["improvements"]))
        if data["improvements"]
        else Paragraph("各科目均在时限内完成，建议保持现行预案并按计划开展下一次演练。")
    )
    return doc
