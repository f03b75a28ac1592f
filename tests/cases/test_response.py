"""The response path: a graded event → alert → case → statement → approvals → release → close,
on both databases, with the clocks, escalation, 24-hour duty and refusals along the way."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import FakeClock
from yuqing.alerts import service as alerts
from yuqing.analysis import topics
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.cases import followup
from yuqing.cases import service as cases
from yuqing.cases.deadlines import DeadlineError
from yuqing.cases.plan import load_plan
from yuqing.cases.stats import statistics_report
from yuqing.cases.workflow import WorkflowError
from yuqing.db import transaction
from yuqing.ingest import service as ingest
from yuqing.ingest.models import Post
from yuqing.ingest.store import PostWriter
from yuqing.notify.models import Notification
from yuqing.org import duty
from yuqing.org import service as org
from yuqing.reports.common import clip
from yuqing.runtime import Runtime
from yuqing.web.pages.events import event_context

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
HOSPITAL = "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡，家属在医院门口拉横幅讨说法，医院至今未回应。"
ROLES = {
    "王值班": ("duty_officer", "市卫生健康委员会"),
    "孙监测": ("monitor", "市卫生健康委员会"),
    "李办公室": ("office", "市卫生健康委员会"),
    "赵分管": ("deputy_leader", "市卫生健康委员会"),
    "陈市长": ("chief", "南京市人民政府"),
    "周组员": ("leading_group", "南京市人民政府"),
    "钱教育": ("office", "市教育局"),
}


def setup_org(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        city = org.create_unit(session, "南京市人民政府", kind="government", regions=["南京"])
        health = org.create_unit(session, "市卫生健康委员会", parent_id=city.id, kind="bureau")
        education = org.create_unit(session, "市教育局", parent_id=city.id, kind="bureau")
        ids = {"南京市人民政府": city.id, "市卫生健康委员会": health.id, "市教育局": education.id}
        people = {}
        for name, (role, unit) in ROLES.items():
            person = org.add_person(session, name, ids[unit])
            org.grant_role(session, person.id, role, ids[unit])
            people[name] = person
        org.add_contact(session, people["王值班"].id, "email", "wang@example.cn")
        duty.set_rotation(session, health.id, [people["王值班"].id], dt.date(2026, 11, 1), hours="all_day")
    topics.set_word_group(rt, "地域", ["南京", "江苏"], "地域")
    topics.set_word_group(rt, "主体", ["医院", "学校"], "主体")
    topics.add_topic(rt, "医疗", "@地域 + @主体 + (投诉|事故|死亡) - 招聘", "市卫生健康委员会")


def import_posts(rt: Runtime, rows: list[dict[str, object]], name: str) -> None:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    ingest.import_data(
        rt, PostWriter(rt.sessions, rt.settings, rt.clock), data, origin=name, platform="weibo"
    )


def graded_event(rt: Runtime) -> int:
    setup_org(rt)
    import_posts(
        rt,
        [
            {"id": "o1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00", "reposts": 620},
            {
                "id": "r1",
                "text": "太可怕了//@网友:" + HOSPITAL,
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-20T08:10:00+08:00",
            },
        ],
        "a.jsonl",
    )
    AnalysisPipeline(rt).run()
    events = alerts_events(rt)
    assert len(events) == 1
    return events[0]


def alerts_events(rt: Runtime) -> list[int]:
    from yuqing.analysis.models import Event

    with rt.sessions() as session:
        return list(session.scalars(select(Event.id).where(Event.grade_code.is_not(None))))


def notifications(rt: Runtime) -> list[Notification]:
    with rt.sessions() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_escalation_passes_a_level_whose_holders_were_told_already(rt: Runtime, clock: FakeClock) -> None:
    """In a small bureau the duty officer is the office too: the office's 30 minutes would only
    delay the leader of a 特别重大, so the escalation goes straight to the deputy leader."""
    setup_org(rt)
    with transaction(rt.sessions) as session:
        health = org.find_unit(session, "市卫生健康委员会").id
        org.revoke_role(session, org.find_person(session, "李办公室").id, "office", health)
        org.grant_role(session, org.find_person(session, "王值班").id, "office", health)
    import_posts(
        rt, [{"id": "o1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00", "reposts": 620}], "a"
    )
    AnalysisPipeline(rt).run()
    assert followup.run_once(rt)["alerts"]["created"] == 1
    clock.advance(minutes=16)
    assert alerts.escalate_due(rt) == 1
    alert = alerts.list_alerts(rt)[0]
    with rt.sessions() as session:
        wang, zhao = (org.find_person(session, n).id for n in ("王值班", "赵分管"))
    assert [(r["person_id"], r["reason"]) for r in alert["recipients"]] == [
        (wang, "值班员"),
        (zhao, "升级：分管领导"),
    ]
    assert alert["level"] == 2


def test_after_a_stop_every_level_whose_time_has_passed_is_told_at_once_and_told_it_is_late(
    rt: Runtime, clock: FakeClock
) -> None:
    """A 特别重大's chain is duty → office (6 min) → deputy leader (12) → chief (12). With serve
    stopped from 09:07 to 11:00, the deputy leader was told at 11:00 and the chief only at 11:12,
    each notice reading as if on time. Both are told at 11:00 now, with when they should have been."""
    graded_event(rt)
    assert followup.run_once(rt)["alerts"]["created"] == 1  # 09:00, the duty officer
    clock.advance(minutes=7)
    assert alerts.escalate_due(rt) == 1  # 09:07, the office, on time
    clock.advance(minutes=113)  # the process was stopped until 11:00
    assert alerts.escalate_due(rt) == 2
    alert = alerts.list_alerts(rt)[0]
    assert [r["reason"] for r in alert["recipients"]] == [
        "值班员",
        "升级：办公室",
        "升级：分管领导",
        "升级：主要领导",
    ]
    assert alert["next_escalation_at"] is None
    bodies = {n.title: n.message["body"] for n in notifications(rt) if n.kind == "in_app"}
    office, deputy, chief = (
        next(body for title, body in bodies.items() if f"已升级至{role}" in title)
        for role in ("办公室", "分管领导", "主要领导")
    )
    assert "延迟" not in office
    assert "本次升级通知应于 11月20日 09:18 发出（预警此前一直未确认），因系统停止运行而延迟" in deputy
    assert "本次升级通知应于 11月20日 09:30 发出" in chief
    clock.advance(minutes=120)
    assert alerts.escalate_due(rt) == 0  # the top has been told


def test_graded_event_to_closed_case(rt: Runtime, clock: FakeClock) -> None:
    event_id = graded_event(rt)
    round_one = followup.run_once(rt)
    assert round_one["alerts"]["created"] == 1
    listed = alerts.list_alerts(rt)
    assert len(listed) == 1
    alert = listed[0]
    assert alert["unit"] == "市卫生健康委员会"  # the topic's unit, inside the city that the post names
    assert alert["grade"] == "特别重大" and alert["status"] == "open"
    assert [r["reason"] for r in alert["recipients"]] == ["值班员"]
    sent = notifications(rt)
    assert {(n.kind, n.address) for n in sent} >= {("email", "wang@example.cn")}
    assert all(n.subject_kind == "alert" for n in sent)

    # Nobody acknowledges: after the duty officer's wait, the office is told.
    clock.advance(minutes=16)
    assert alerts.escalate_due(rt) == 1
    alert = alerts.list_alerts(rt)[0]
    assert alert["level"] == 1 and "升级：办公室" in [r["reason"] for r in alert["recipients"]]
    assert any(n.title.startswith("【未确认·已升级至办公室】") for n in notifications(rt))
    assert alerts.escalate_due(rt) == 0  # running it again sends nothing twice

    with pytest.raises(LookupError, match="找不到预警"):
        alerts.acknowledge(rt, alert["id"], "钱教育")  # the education bureau's office cannot see it
    acked = alerts.acknowledge(rt, alert["id"], "王值班")
    assert acked["status"] == "acknowledged" and acked["next_escalation_at"] is None
    clock.advance(hours=2)
    assert alerts.escalate_due(rt) == 0

    case = cases.open_case(rt, "李办公室", event_id=event_id)
    assert case["grade_code"] == "I" and case["stage"] == "detected"
    due = {d["kind"]: d for d in case["deadlines"]}
    assert set(due) == {"report", "first_response", "release", "press_conference"}
    detected = dt.datetime.fromisoformat(alert["created_at"])
    assert dt.datetime.fromisoformat(due["report"]["due_at"]) == detected + dt.timedelta(hours=1)
    assert dt.datetime.fromisoformat(due["release"]["due_at"]) == detected + dt.timedelta(hours=5)
    with rt.sessions() as session:
        answer = duty.duty_at(session, org.find_unit(session, "市卫生健康委员会").id, clock())
        assert answer.round_the_clock  # 特别重大: 24-hour duty while the case is open

    clock.advance(minutes=10)
    # A summary is the office's and the leaders', when the case goes to 总结 or is closed: a monitor
    # moving it to 报告 with one writes nothing, or the text would stand as the case's 总结评估.
    with pytest.raises(cases.PermissionDenied, match="无权提交总结评估"):
        cases.close(rt, case["id"], "孙监测", summary="已处置完毕")
    case = cases.advance(rt, case["id"], "报告", "孙监测", summary="已处置完毕")
    assert case["summary"] is None
    report = next(d for d in case["deadlines"] if d["kind"] == "report")
    assert report["state"] == "missed"  # reported 2 h 26 min after detection; 特别重大 allows 1 h
    # 报告 reaches the city: its chief is told of the 特别重大 case, with the facts, and the case says so
    with rt.sessions() as session:
        mayor = org.find_person(session, "陈市长").id
    told = [n for n in notifications(rt) if n.person_id == mayor and n.subject_kind == "case"]
    title = f"【舆情报告】市卫生健康委员会报告特别重大舆情：{clip(case['title'], 30)}（工单 #{case['id']}）"
    assert [n.title for n in told] == [title]  # the story, not only a case number
    body = str(told[0].message.get("body", ""))
    assert "孙监测（市卫生健康委员会）报告" in body and "定级依据：单日转发量" in body
    assert "事发地：南京" in body and "类别：尚未研判" in body and "最新一条见于" in body, body
    # and the bureau's own deputy leader, who answers for it
    assert "已报告南京市人民政府，已通知：赵分管、陈市长" in [e["text"] for e in case["timeline"]]
    with rt.sessions() as session:
        deputy = org.find_person(session, "赵分管").id
    assert [n.title for n in notifications(rt) if n.person_id == deputy and n.subject_kind == "case"][
        -1
    ] == title

    with pytest.raises(WorkflowError, match="类别"):
        cases.advance(rt, case["id"], "研判", "李办公室")
    case = cases.advance(rt, case["id"], "研判", "李办公室", category="谣言")
    assert case["category"] == "捏造/歪曲/谣言/诽谤" and "公安" in (case["measures"] or "")
    case = cases.advance(rt, case["id"], "disposing", "李办公室")
    with pytest.raises(WorkflowError, match="权威信息"):
        cases.advance(rt, case["id"], "following", "李办公室")

    case = cases.draft_statement(
        rt,
        case["id"],
        "李办公室",
        facts="11月20日上午，鼓楼医院一名产妇术中死亡。",
        progress="市卫健委已成立调查组。",
    )
    assert case["statements"][0]["required_roles"] == ["chief", "leading_group"]
    with pytest.raises(cases.PermissionDenied, match="缺少"):
        cases.release(rt, case["id"], "新闻发布会", "李办公室")
    with pytest.raises(cases.PermissionDenied, match="不能审批"):
        cases.approve(rt, case["id"], "赵分管")  # a deputy may not approve for a 特别重大 case
    cases.approve(rt, case["id"], "陈市长")
    with pytest.raises(cases.PermissionDenied, match="领导小组成员"):
        cases.release(rt, case["id"], "新闻发布会", "李办公室")
    case = cases.approve(rt, case["id"], "周组员")
    case = cases.release(rt, case["id"], "新闻发布会", "李办公室")
    states = {d["kind"]: d["state"] for d in case["deadlines"]}
    assert states["release"] == "met" and states["press_conference"] == "met"
    assert states["first_response"] in ("met", "missed")

    case = cases.advance(rt, case["id"], "跟踪", "李办公室")
    with pytest.raises(WorkflowError, match="总结"):
        cases.close(rt, case["id"], "赵分管")
    # The office sums up (the stage form offers the category again); the leader closes with a word.
    case = cases.advance(
        rt,
        case["id"],
        "总结",
        "李办公室",
        category="谣言",
        summary="事件已平息；报告超时 1 次，需改进夜间值守。",
    )
    case = cases.close(rt, case["id"], "赵分管", summary="同意结案。")
    assert case["stage"] == "closed" and case["closed_at"]
    assert (
        case["summary"] == "事件已平息；报告超时 1 次，需改进夜间值守。\n赵分管：同意结案。"
    )  # nothing lost
    assert [e["action"] for e in case["timeline"]].count("categorize") == 1
    assert alerts.list_alerts(rt)[0]["status"] == "closed"
    # 终报: those the report reached hear how it ended (not the leader who closed it)
    ends = [n for n in notifications(rt) if "【舆情终报】" in n.title]
    with rt.sessions() as session:
        mayor, deputy = (org.find_person(session, n).id for n in ("陈市长", "赵分管"))
    assert mayor in {n.person_id for n in ends} and deputy not in {n.person_id for n in ends}
    [end] = {n.title: n for n in ends}.values()
    assert end.title == f"【舆情终报】市卫生健康委员会特别重大舆情处置完毕：工单 #{case['id']}"
    body = str(end.message["body"])
    assert body.startswith("赵分管（市卫生健康委员会）终报：工单「") and "已结案" in body
    assert "类别：捏造/歪曲/谣言/诽谤" in body and "权威信息：第 1 稿已于" in body
    assert "总结：事件已平息；报告超时 1 次，需改进夜间值守。 赵分管：同意结案。" in body
    assert any(e["text"].startswith("已向南京市人民政府报告终报，已通知：") for e in case["timeline"])
    with rt.sessions() as session:
        answer = duty.duty_at(session, org.find_unit(session, "市卫生健康委员会").id, clock())
        assert not answer.round_the_clock
    actions = [entry["action"] for entry in case["timeline"]]
    assert actions[0] == "open" and "approve" in actions and "release" in actions
    # closed a few hours after the posts: not calm by the plan's rule, said on the record and above
    assert actions[-3:] == ["advance", "calm_warning", "report_end"]
    warning = case["timeline"][-2]["text"]
    assert warning.startswith("结案时舆情尚未平息：最近一条信息距结案") and "请继续关注" in warning
    assert warning in str(end.message["body"])
    assert all(entry["via"] in ("cli", "system") for entry in case["timeline"])

    stats = statistics_report(rt)
    report_row = next(r for r in stats["units"] if r["kind"] == "report")
    assert report_row["missed"] == 1 and report_row["on_time_rate"] == 0.0
    assert any(m["kind"] == "report" and m["person"] == "孙监测" for m in stats["missed"])


def test_sweep_marks_and_escalates_once_and_extension_is_once(rt: Runtime, clock: FakeClock) -> None:
    event_id = graded_event(rt)
    followup.run_once(rt)
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    cases.categorize(rt, case["id"], "询问", "李办公室")
    shown = cases.show(rt, case["id"])
    formal = next(d for d in shown["deadlines"] if d["kind"] == "formal_reply")
    # 5 working days after Friday 2026-11-20: the end of Friday 2026-11-27.
    assert formal["due_at"] == "2026-11-27T17:30:00+08:00"

    clock.advance(minutes=35)  # report due 1 h after detection: now within 30 minutes of it
    counts = followup.sweep_deadlines(rt)
    assert counts.due_soon >= 1 and counts.overdue == 0
    # the office is reminded while there is time to act (a clock due soon from its start is not)
    reminders = [n for n in notifications(rt) if n.title.startswith("【时限将至】")]
    assert {n.title for n in reminders} == {f"【时限将至】工单 #{case['id']} 向上级报告"}
    with rt.sessions() as session:
        office = org.find_person(session, "李办公室").id
    assert {n.person_id for n in reminders} == {office}
    assert "向上级报告时限将于 11月20日 10:00 到期（还有 25 分钟），尚未完成" in str(
        reminders[0].message["body"]
    )
    assert followup.sweep_deadlines(rt).due_soon == 0
    assert len([n for n in notifications(rt) if n.title.startswith("【时限将至】")]) == len(reminders)
    clock.advance(hours=1)
    counts = followup.sweep_deadlines(rt)
    assert counts.overdue == 1 and counts.escalated == 1  # the report clock
    # the notice says when it was due and how late it is (told after a restart, it read as new)
    [late] = [n for n in notifications(rt) if n.title.startswith("【时限已超】")][:1]
    body = str(late.message.get("body"))
    assert re.search(r"向上级报告时限（\d+月\d+日 \d\d:\d\d）已超过\d+ 分钟", body), body
    before = len(notifications(rt))
    again = followup.sweep_deadlines(rt)
    assert (again.overdue, again.escalated) == (0, 0) and len(notifications(rt)) == before
    overdue = [d for d in cases.show(rt, case["id"])["deadlines"] if d["state"] == "overdue"]
    assert [d["kind"] for d in overdue] == ["report"]

    with pytest.raises(ValueError, match="「向上级报告」时限不能延期"):  # the overdue 1-hour report stays
        cases.extend(rt, case["id"], "领导外出", "李办公室", kind="report")
    with pytest.raises(DeadlineError, match="理由"):
        cases.extend(rt, case["id"], "  ", "李办公室")
    with pytest.raises(cases.PermissionDenied):
        cases.extend(rt, case["id"], "需调取病历", "孙监测")
    extended = cases.extend(rt, case["id"], "需调取病历并征求专家意见", "李办公室")
    formal = next(d for d in extended["deadlines"] if d["kind"] == "formal_reply")
    assert formal["extended"] and formal["due_at"] == "2026-12-04T17:30:00+08:00"  # 10 working days in all
    with pytest.raises(DeadlineError, match="延期一次"):
        cases.extend(rt, case["id"], "再延", "李办公室")


def followed_case(rt: Runtime, clock: FakeClock, reposts_last_hour: int = 0) -> int:
    """The hospital event's case, its statement released and moved to 跟踪, after
    `reposts_last_hour` reposts in the hour before."""
    event_id = graded_event(rt)
    if reposts_last_hour:
        reposts_between(rt, clock() - dt.timedelta(hours=1), clock(), reposts_last_hour, "a")
    followup.run_once(rt)
    case_id = int(cases.open_case(rt, "李办公室", event_id=event_id)["id"])
    cases.advance(rt, case_id, "报告", "孙监测")
    cases.advance(rt, case_id, "研判", "李办公室", category="属实批评")
    cases.advance(rt, case_id, "处置", "李办公室")
    cases.draft_statement(rt, case_id, "李办公室", facts="医院已向家属致歉。")
    cases.approve(rt, case_id, "陈市长")
    cases.approve(rt, case_id, "周组员")
    cases.release(rt, case_id, "官方微博/微信", "李办公室")
    cases.advance(rt, case_id, "跟踪", "李办公室")
    return case_id


def reposts_between(
    rt: Runtime, start: dt.datetime, end: dt.datetime, count: int, name: str
) -> list[dict[str, object]]:
    """`count` reposts of the hospital story spread evenly from `start` to `end`, imported."""
    step = (end - start) / count
    rows: list[dict[str, object]] = [
        {
            "id": f"{name}{i}",
            "text": f"第{i}条：" + HOSPITAL + f"家属再次发声{name}{i}",
            "kind": "repost",
            "cascade": "o1",
            "published_at": (start + step * i).isoformat(),
        }
        for i in range(count)
    ]
    import_posts(rt, rows, f"{name}.jsonl")
    AnalysisPipeline(rt).run()
    return rows


def test_flare_up_reopens_a_followed_case(rt: Runtime, clock: FakeClock) -> None:
    case_id = followed_case(rt, clock)
    clock.advance(hours=2)
    reposts_between(rt, clock() - dt.timedelta(minutes=30), clock(), 25, "f")
    result = followup.run_once(rt)
    assert result["reopened"] == 1
    shown = cases.show(rt, case_id)
    assert shown["stage"] == "disposing" and shown["reopened"] == 1
    assert any("舆情反复" in entry["text"] for entry in shown["timeline"])
    alert = alerts.list_alerts(rt)[0]
    assert alert["kind"] == "flare_up" and alert["status"] == "open" and alert["repeats"] >= 1


def test_a_story_spreading_as_it_did_when_the_case_went_to_following_is_no_flare_up(
    rt: Runtime, clock: FakeClock
) -> None:
    """A hot story keeps spreading after the statement at the pace the office saw when it moved the
    case to 跟踪: no 舆情反复. A burst faster than that pace is one, and its note says how fast."""
    # 60 reposts in the hour before the case goes to 跟踪, then 30 an hour for two hours
    case_id = followed_case(rt, clock, reposts_last_hour=60)
    reposts_between(rt, clock(), clock() + dt.timedelta(hours=2), 60, "b")
    clock.advance(hours=2)
    assert followup.run_once(rt)["reopened"] == 0
    assert cases.show(rt, case_id)["stage"] == "following"

    # 200 more within half an hour: over six times the pace before
    reposts_between(rt, clock(), clock() + dt.timedelta(minutes=30), 200, "c")
    clock.advance(minutes=30)
    assert followup.run_once(rt)["reopened"] == 1
    shown = cases.show(rt, case_id)
    assert shown["stage"] == "disposing"
    note = next(entry["text"] for entry in shown["timeline"] if "舆情反复" in entry["text"])
    assert "进入跟踪后新增 260 条信息" in note and "每小时 62 条" in note, note


def test_alert_notices_arrive_by_email_and_dingtalk(rt: Runtime, clock: FakeClock) -> None:
    """The alert's notices leave through the outbox: a real SMTP server and a DingTalk-shaped robot."""
    from tests.notify import RobotServer, smtp_server
    from yuqing.notify.outbox import deliver_due

    robot = RobotServer().start()
    try:
        with smtp_server() as (mailbox, port):
            rt.settings = rt.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
            setup_org(rt)
            with transaction(rt.sessions) as session:
                wang = org.find_person(session, "王值班")
                org.add_contact(session, wang.id, "dingtalk", robot.url())
            # a government account's report of a death: casualties on evidence, so 特别重大
            report = {"name": "南京发布", "verified": True, "verified_type": 1}  # 政务
            import_posts(
                rt,
                [
                    {
                        "id": "o1",
                        "text": HOSPITAL,
                        "published_at": "2026-11-20T08:00:00+08:00",
                        "author": report,
                    }
                ],
                "a.jsonl",
            )
            AnalysisPipeline(rt).run()
            followup.run_once(rt)
            counts = deliver_due(rt)
            assert counts.sent == 3 and counts.failed == 0  # in-app, e-mail, DingTalk
            assert deliver_due(rt).claimed == 0  # nothing is sent twice
            mails = mailbox.mails()
            assert len(mails) == 1 and "特别重大舆情预警" in str(mails[0]["Subject"])
            assert mails[0]["To"] == "wang@example.cn"
            assert len(robot.posts) == 1
            payload = robot.posts[0].json
            assert payload["msgtype"] == "markdown" and "特别重大" in payload["markdown"]["title"]
            assert "市卫生健康委员会" in payload["markdown"]["text"]
            # the reasons are the grade's figures when it was given; the post count is today's
            # (a notice read 「信息量 382」 in one and 「信息量 419」 in the other)
            assert "定级依据（定级时）：" in payload["markdown"]["text"]
            assert "当前信息量" in payload["markdown"]["text"]
            # what a duty officer acts on: where, since when, and what the plan asks by when (a
            # 特别重大 alert raised at 09:00 is reported up by 10:00 and answered by 14:00)
            text = payload["markdown"]["text"]
            assert "事发地：南京" in text and "首发于 11月20日 08:00" in text, text
            assert "于11月20日 10:00前向上级报告（1 小时）" in text, text
            assert "于11月20日 14:00前发布权威信息（5 小时）" in text and "开立工单" in text, text
            [alert] = alerts.list_alerts(rt)
            assert f"/alerts/{alert['id']})" in payload["markdown"]["text"]  # the alert's own page
    finally:
        robot.stop()


def test_an_event_naming_a_unit_is_routed_to_that_unit(rt: Runtime) -> None:
    """The topic belongs to the health commission; the event names a hospital that is itself a
    unit under it: the hospital gets the alert (the specific one), not the commission."""
    setup_org(rt)
    with transaction(rt.sessions) as session:
        health = org.find_unit(session, "市卫生健康委员会")
        org.create_unit(session, "南京市鼓楼医院", parent_id=health.id, kind="hospital")
        org.create_unit(session, "南京市儿童医院", parent_id=health.id, kind="hospital")
    import_posts(
        rt,
        [{"id": "o1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00", "reposts": 620}],
        "a.jsonl",
    )
    AnalysisPipeline(rt).run()
    followup.run_once(rt)
    [alert] = alerts.list_alerts(rt)
    assert alert["unit"] == "南京市鼓楼医院"


def test_a_case_of_a_graded_event_opens_at_its_grade_unless_a_leader_says_otherwise(rt: Runtime) -> None:
    """The grade sets the report clock, the approvals and the duty: a 监测员 opening a 特别重大
    event's case as 一般 would have its statement approved by 分管领导 alone."""
    event_id = graded_event(rt)
    with pytest.raises(cases.PermissionDenied, match=r"无权改变等级.*特别重大"):
        cases.open_case(rt, "孙监测", event_id=event_id, grade_code="IV")
    case = cases.open_case(rt, "赵分管", event_id=event_id, grade_code="ii")  # a deputy may regrade
    assert case["grade_code"] == "II"


def test_an_upgrade_sends_an_approved_statement_back_for_the_new_grades_approvals(rt: Runtime) -> None:
    event_id = graded_event(rt)
    case = cases.open_case(rt, "赵分管", event_id=event_id, grade_code="IV")
    case = cases.draft_statement(rt, case["id"], "李办公室", facts="鼓楼医院一名产妇术中死亡。")
    case = cases.approve(rt, case["id"], "赵分管")
    assert case["statements"][0]["status"] == "approved"

    case = cases.regrade(rt, case["id"], "I", "产妇死亡，舆情升温", "陈市长")
    statement = case["statements"][0]
    assert statement["status"] == "draft" and statement["required_roles"] == ["chief", "leading_group"]
    assert "按新等级须经主要领导、领导小组成员审批" in case["timeline"][-1]["text"]
    with pytest.raises(cases.PermissionDenied, match="主要领导"):
        cases.release(rt, case["id"], "官方微博/微信", "李办公室")
    cases.approve(rt, case["id"], "陈市长")
    cases.approve(rt, case["id"], "周组员")
    case = cases.release(rt, case["id"], "官方微博/微信", "李办公室")
    assert case["statements"][0]["status"] == "released"


def test_an_approval_lands_only_on_the_draft_the_leader_read(rt: Runtime) -> None:
    event_id = graded_event(rt)
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    cases.draft_statement(rt, case["id"], "李办公室", facts="鼓楼医院一名产妇术中死亡，原因正在调查。")
    cases.draft_statement(rt, case["id"], "李办公室", facts="纯属谣言。")  # while the chief reads the first
    with pytest.raises(WorkflowError, match=r"第 1 稿已不是最新稿.*第 2 稿"):
        cases.approve(rt, case["id"], "陈市长", version=1)
    case = cases.approve(rt, case["id"], "陈市长", version=2)
    assert [s["status"] for s in case["statements"]] == ["draft", "draft"]
    assert any(e["action"] == "approve" and "第 2 稿" in e["text"] for e in case["timeline"])


def test_a_leaders_approval_sent_many_times_at_once_is_recorded_once(rt: Runtime) -> None:
    """A double click, or the console and a phone at the same moment: eight approvals by 陈市长 of
    one draft, sent at once, are one approval (each read that he had not approved yet, and eight
    were recorded); the others are told he has."""
    event_id = graded_event(rt)
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    cases.draft_statement(rt, case["id"], "李办公室", facts="鼓楼医院一名产妇术中死亡，原因正在调查。")
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def approve() -> None:
        start.wait()
        try:
            cases.approve(rt, case["id"], "陈市长", version=1)
            outcomes.append("approved")
        except (cases.PermissionDenied, ValueError) as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=approve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("approved") == 1, outcomes
    approvals = cases.show(rt, case["id"])["approvals"]
    assert [(a["person"], a["decision"]) for a in approvals] == [("陈市长", "approved")]


def test_a_report_up_after_a_leaders_regrade_gives_the_leaders_reason(rt: Runtime) -> None:
    """The chief woken for a 重大 set by a leader reads why it is 重大, not the system's figures
    for the grade it had."""
    event_id = graded_event(rt)
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    cases.regrade(rt, case["id"], "II", "经核实一人受伤，无人死亡，本地媒体已关注", "陈市长")
    cases.advance(rt, case["id"], "报告", "李办公室")
    reports = [str(n.message.get("body")) for n in notifications(rt) if n.title.startswith("【舆情报告】")]
    assert reports, [n.title for n in notifications(rt)]
    assert "等级由陈市长调整为重大，理由：经核实一人受伤，无人死亡，本地媒体已关注" in reports[0], reports[0]
    assert "系统定级依据：" in reports[0]


def test_a_grade_lowered_with_a_reason_loosens_the_clocks_and_ends_the_cases_24_hour_duty(
    rt: Runtime, clock: FakeClock
) -> None:
    """A false 特别重大 corrected by the deputy: the 1-hour report clock that ran late becomes the
    一般 case's same working day, the press conference is no longer due, and the unit leaves the
    24-hour duty the case started; the log keeps what happened."""
    event_id = graded_event(rt)
    followup.run_once(rt)
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    with rt.sessions() as session:
        health_id = org.find_unit(session, "市卫生健康委员会").id
        assert duty.duty_at(session, health_id, clock()).round_the_clock
    clock.advance(hours=2)
    followup.run_once(rt)
    due = {d["kind"]: d for d in cases.show(rt, case["id"])["deadlines"]}
    assert due["report"]["state"] == "overdue"

    with pytest.raises(ValueError, match="理由"):
        cases.regrade(rt, case["id"], "IV", " ", "赵分管")
    case = cases.regrade(rt, case["id"], "IV", "经核实系家属与医院的费用纠纷，无人死亡", "赵分管")
    due = {d["kind"]: d for d in case["deadlines"]}
    assert case["grade"] == "一般"
    assert due["report"]["rule"] == "swd" and due["report"]["state"] == "pending"
    assert due["report"]["original_due_at"] != due["report"]["due_at"]  # the 1-hour clock is on record
    report_due = dt.datetime.fromisoformat(due["report"]["due_at"]).astimezone(SHANGHAI)
    assert (report_due.date(), report_due.hour, report_due.minute) == (dt.date(2026, 11, 20), 17, 30)
    assert due["release"]["rule"] == "48h"
    assert due["press_conference"]["state"] == "cancelled"
    texts = [e["text"] for e in case["timeline"]]
    assert "等级 特别重大 → 一般：经核实系家属与医院的费用纠纷，无人死亡" in texts
    assert "向上级报告时限按新等级放宽：11月20日 10:00 → 11月20日 17:30" in texts
    assert "一般事件无需召开新闻发布会，该时限取消" in texts
    assert any("24小时值班结束" in t for t in texts)
    with rt.sessions() as session:
        office, chief = (org.find_person(session, n).id for n in ("李办公室", "陈市长"))
    assert any(
        n.person_id == office and n.title == f"【等级调整】工单 #{case['id']}：特别重大 → 一般"
        for n in notifications(rt)
    )
    # the 主要领导 who leads a 特别重大 response hears that a deputy lowered it
    told = [n for n in notifications(rt) if n.person_id == chief and "等级下调" in n.title]
    assert told and "赵分管将您牵头处置的工单" in str(told[0].message)
    with rt.sessions() as session:
        assert not duty.duty_at(session, health_id, clock()).round_the_clock

    # The event says the person's grade, who set it and why, and keeps the system's grade; more
    # posts that change nothing of the evidence do not raise it back to 特别重大.
    from yuqing.analysis.models import Event

    import_posts(
        rt,
        [
            {
                "id": "r9",
                "text": "还是没说法//@网友:" + HOSPITAL,
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-20T10:30:00+08:00",
            }
        ],
        "c.jsonl",
    )
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        assert event is not None
        assert (event.grade_code, event.grade, event.grade_set_by) == ("IV", "一般", "赵分管")
        assert event.system_grade_code == "I" and "费用纠纷" in (event.grade_note or "")
        # The alert raised at 特别重大 shows the grade in force, who set it and what it was.
        from yuqing.web.pages import queries

        shown = queries.alert_page(session, "Asia/Shanghai", event_id=event_id).rows
        assert [(a["grade"], a["current_grade"], a["regraded_by"]) for a in shown] == [
            ("特别重大", "一般", "赵分管")
        ]

    # A later sweep does not put the loosened clock back to overdue; raising the grade again
    # tightens it and restarts the duty.
    followup.run_once(rt)
    assert {d["kind"]: d["state"] for d in cases.show(rt, case["id"])["deadlines"]}["report"] == "pending"
    case = cases.regrade(rt, case["id"], "II", "家属聚集，多家媒体报道", "陈市长")
    due = {d["kind"]: d for d in case["deadlines"]}
    assert due["report"]["rule"] == "2h"
    press = [d for d in case["deadlines"] if d["kind"] == "press_conference"]
    assert [(d["state"], d["rule"]) for d in press] == [("pending", "24h")]  # restored: one row
    texts = [e["text"] for e in case["timeline"]]
    assert any("召开新闻发布会，该时限恢复" in t for t in texts)
    assert "等级升为重大，本单位转入24小时值班" in texts
    with rt.sessions() as session:
        assert duty.duty_at(session, health_id, clock()).round_the_clock


REMARKS = ("家属还在等说法", "医院给个交代", "太让人心寒了", "希望早日查明真相", "转发关注", "这事后来怎样了")


def story_reposted_now(rt: Runtime, clock: FakeClock, count: int = 1, *, first: int = 0) -> None:
    """`count` new reposts of the hospital story, analysed."""
    reposts = [
        {
            "id": f"r{first + i + 2}",
            "text": f"{REMARKS[(first + i) % len(REMARKS)]}（{first + i + 1}）//@网友:" + HOSPITAL,
            "kind": "repost",
            "cascade": "o1",
            "published_at": clock().isoformat(),
        }
        for i in range(count)
    ]
    import_posts(rt, reposts, f"b{first}.jsonl")
    AnalysisPipeline(rt).run()


def test_an_event_graded_long_after_its_last_post_alerts_only_when_it_is_active_again(
    rt: Runtime, clock: FakeClock
) -> None:
    """Old posts collected now (a backfill, last month's export) make a graded event but wake
    nobody; one repost of the old story today wakes nobody either (it would wake the chief on a
    story long over); as many new posts as the plan asks of a flare-up raise the held alert, as
    舆情反复, saying so."""
    from yuqing.analysis.models import Event

    clock.advance(days=4)
    event_id = graded_event(rt)
    counts = followup.run_once(rt)
    assert counts["alerts"]["created"] == 0 and counts["alerts"]["quiet"] == 1
    assert alerts.list_alerts(rt) == [] and notifications(rt) == []
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        assert event is not None and event.grade_code == "I" and event.alert_held_at is not None
    assert followup.run_once(rt)["alerts"]["created"] == 0  # still quiet: still held

    story_reposted_now(rt, clock)
    again = followup.run_once(rt)["alerts"]
    assert (again["created"], again["quiet"]) == (0, 1)
    assert alerts.list_alerts(rt) == [] and notifications(rt) == []
    needed = load_plan(None).flare_up_posts
    page = event_context(rt, event_id)  # its page says what would make it alert
    assert page is not None and (page["quiet_hours"], page["revival_posts"]) == (72, needed)
    story_reposted_now(rt, clock, needed - 2, first=1)  # with the first: one short
    assert followup.run_once(rt)["alerts"]["created"] == 0
    story_reposted_now(rt, clock, 1, first=needed)
    assert followup.run_once(rt)["alerts"]["created"] == 1
    listed = alerts.list_alerts(rt)
    assert [(a["event_id"], a["grade"], a["kind"]) for a in listed] == [(event_id, "特别重大", "flare_up")]
    lead = listed[0]["reasons"][0]["text"]
    assert lead.startswith("旧事重提：此前最后一条信息发布于") and f"又有 {needed} 条" in lead, lead
    told = [n for n in notifications(rt) if n.subject_kind == "alert"]
    body = str(told[0].message)
    assert "舆情反复" in body and "旧事重提" in body, body
    assert any(n.subject_kind == "alert" for n in notifications(rt))
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        assert event is not None and event.alert_held_at is None
    # opened then, its first-response clock runs from when yuqing collected the posts, not from
    # their publication days before
    opened = cases.open_case(rt, "李办公室", event_id=event_id)
    first = next(d for d in opened["deadlines"] if d["kind"] == "first_response")
    assert first["state"] == "pending"
    assert dt.datetime.fromisoformat(first["started_at"]) == clock()


def test_a_quiet_event_taken_up_in_a_case_raises_no_alert_when_active_again(
    rt: Runtime, clock: FakeClock
) -> None:
    """Opened by hand while its alert was held (old posts), the case runs the response: the
    story's new posts raise no alert beside it, which nobody would acknowledge."""
    clock.advance(days=4)
    event_id = graded_event(rt)
    assert followup.run_once(rt)["alerts"]["quiet"] == 1
    opened = cases.open_case(rt, "李办公室", event_id=event_id)
    first = next(d for d in opened["deadlines"] if d["kind"] == "first_response")
    assert dt.datetime.fromisoformat(first["started_at"]) == clock()
    story_reposted_now(rt, clock)
    assert followup.run_once(rt)["alerts"]["created"] == 0
    assert alerts.list_alerts(rt) == []


@pytest.mark.parametrize(("system_grade", "raised"), [("I", False), ("III", True)])
def test_a_persons_grade_stands_until_the_evidence_goes_past_the_systems(
    rt: Runtime, system_grade: str, raised: bool
) -> None:
    """The event was set to 一般 by a person while the pipeline had computed `system_grade`; the
    evidence now computes 特别重大. Only evidence past the system's grade raises it (and wakes
    people again); the person's grade is then replaced by the system's."""
    from yuqing.analysis.models import Event, GradeSignal

    event_id = graded_event(rt)
    with transaction(rt.sessions) as session:
        event = session.get(Event, event_id)
        assert event is not None and event.grade_code == "I"
        event.grade_code, event.grade, event.grade_set_by = "IV", "一般", "赵分管"
        event.grade_note, event.system_grade_code = "工单 #1：经核实无人死亡", system_grade
        signals_before = len(list(session.scalars(select(GradeSignal.id))))
    import_posts(
        rt,
        [
            {
                "id": "r5",
                "text": "求真相//@网友:" + HOSPITAL,
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-20T08:40:00+08:00",
            }
        ],
        "d.jsonl",
    )
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        assert event is not None
        signals = list(session.scalars(select(GradeSignal).order_by(GradeSignal.id)))[signals_before:]
        if raised:
            assert [(s.kind, s.from_code, s.to_code) for s in signals] == [("upgraded", "IV", "I")]
            assert (event.grade_code, event.grade_set_by, event.system_grade_code) == ("I", None, None)
        else:
            assert signals == []
            assert (event.grade_code, event.grade_set_by) == ("IV", "赵分管")


def test_a_rejected_draft_is_told_to_its_drafter_and_cannot_be_approved_or_released(rt: Runtime) -> None:
    event_id = graded_event(rt)
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    cases.draft_statement(rt, case["id"], "李办公室", facts="鼓楼医院一名产妇术中死亡，系医疗事故。")
    with pytest.raises(ValueError, match="驳回须写明理由"):
        cases.approve(rt, case["id"], "陈市长", reject=True, comment="  ")
    case = cases.approve(rt, case["id"], "陈市长", reject=True, comment="原因尚未查明，不能写“医疗事故”")
    assert case["statements"][0]["status"] == "rejected"
    assert any("驳回第 1 稿：原因尚未查明" in e["text"] for e in case["timeline"])
    with rt.sessions() as session:
        drafter = org.find_person(session, "李办公室").id
    told = [n for n in notifications(rt) if n.person_id == drafter and n.kind == "in_app"]
    assert [n.title for n in told] == [f"【声明被驳回】工单 #{case['id']} 第 1 稿"]
    assert "原因尚未查明" in told[0].message["body"] and "起草新稿" in told[0].message["body"]
    with pytest.raises(ValueError, match="已被驳回，请起草新稿"):
        cases.approve(rt, case["id"], "周组员")
    with pytest.raises(cases.PermissionDenied):
        cases.release(rt, case["id"], "官方微博/微信", "李办公室")


def test_opening_a_case_on_an_alert_stops_its_escalation(rt: Runtime, clock: FakeClock) -> None:
    """The office opens the case straight from the alert: nobody is told any more that the alert
    waits for acknowledgement."""
    event_id = graded_event(rt)
    followup.run_once(rt)
    [alert] = alerts.list_alerts(rt)
    assert alert["status"] == "open"
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    [alert] = alerts.list_alerts(rt)
    assert alert["status"] == "acknowledged" and alert["next_escalation_at"] is None
    assert any(f"开立工单即确认预警 #{alert['id']}" in e["text"] for e in case["timeline"])
    assert "特别重大事件：本单位转入24小时值班" in [e["text"] for e in case["timeline"]]
    clock.advance(hours=1)
    assert alerts.escalate_due(rt) == 0


def test_requests_to_approve_leave_the_inbox_when_they_are_no_longer_wanted(rt: Runtime) -> None:
    """A 一般 draft asks the deputy; the case becomes 特别重大: the deputy's request is withdrawn
    (read), the chief and the leading group are asked; a decided draft asks nobody any more."""
    from yuqing.notify.models import Notification

    def asked() -> set[str]:
        with rt.sessions() as session:
            names = {p.id: p.name for p in org.list_people(session)}
            return {
                names[n.person_id]
                for n in session.scalars(select(Notification).where(Notification.kind == "in_app"))
                if ":approve:" in n.dedup_key and n.read_at is None and n.person_id is not None
            }

    event_id = graded_event(rt)
    case = cases.open_case(rt, "赵分管", event_id=event_id, grade_code="IV")
    cases.draft_statement(rt, case["id"], "李办公室", facts="鼓楼医院一名产妇术中死亡，原因正在调查。")
    assert asked() == {"赵分管"}
    cases.regrade(rt, case["id"], "I", "产妇死亡，舆情升温", "陈市长")
    assert asked() == {"陈市长", "周组员"}
    cases.approve(rt, case["id"], "周组员")
    assert asked() == {"陈市长"}
    cases.approve(rt, case["id"], "陈市长", reject=True, comment="原因未查明")
    assert asked() == set()


def test_a_leader_holding_two_of_the_roles_is_asked_to_approve_once(rt: Runtime) -> None:
    """陈市长 is chief and also on the leading group: a 特别重大 draft asks him once (he may approve
    in only one role), and asks the other member of the leading group."""
    event_id = graded_event(rt)
    with transaction(rt.sessions) as session:
        org.grant_role(
            session,
            org.find_person(session, "陈市长").id,
            "leading_group",
            org.find_unit(session, "南京市人民政府").id,
        )
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    cases.draft_statement(rt, case["id"], "李办公室", facts="11月20日上午，鼓楼医院一名产妇术中死亡。")
    asked = [
        (n.person_id, n.title) for n in notifications(rt) if n.kind == "in_app" and "【待审批】" in n.title
    ]
    with rt.sessions() as session:
        mayor, member = (org.find_person(session, name).id for name in ("陈市长", "周组员"))
    assert [title for pid, title in asked if pid == mayor] == [
        f"【待审批】工单 #{case['id']} 第 1 稿声明待主要领导审批"
    ]
    assert [title for pid, title in asked if pid == member] == [
        f"【待审批】工单 #{case['id']} 第 1 稿声明待领导小组成员审批"
    ]


def test_a_false_alarm_is_withdrawn_by_a_leader_with_a_reason(rt: Runtime, clock: FakeClock) -> None:
    """撤销: the 特别重大 case turns out to be a false alarm. Only a leader may close it before any
    response, with a reason; its clocks, its alert and the 24-hour duty end, and the office hears."""
    event_id = graded_event(rt)
    followup.run_once(rt)
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    clock.advance(minutes=20)
    with pytest.raises(WorkflowError, match="可由领导写明理由后撤销"):
        cases.advance(rt, case["id"], "closed", "赵分管")
    with pytest.raises(ValueError, match="写明理由"):
        cases.withdraw(rt, case["id"], "  ", "赵分管")
    with pytest.raises(cases.PermissionDenied):
        cases.withdraw(rt, case["id"], "误报", "李办公室")  # the office may not

    done = cases.withdraw(rt, case["id"], "经核实为误报：该院当日无手术死亡病例", "赵分管")
    assert done["stage"] == "closed" and done["withdrawn_at"] is not None
    assert done["summary"] == "撤销：经核实为误报：该院当日无手术死亡病例"
    assert {d["state"] for d in done["deadlines"]} == {"cancelled"}
    texts = [e["text"] for e in done["timeline"]]
    assert "发现 → 结案：撤销：经核实为误报：该院当日无手术死亡病例" in texts
    ended = [t for t in texts if t.startswith("撤销时向上级报告尚未完成（应于")]
    assert len(ended) == 1 and ended[0].endswith("该时限随撤销终止")
    [alert] = alerts.list_alerts(rt)
    assert alert["status"] == "closed"
    with rt.sessions() as session:
        health = org.find_unit(session, "市卫生健康委员会").id
        assert not duty.duty_at(session, health, clock()).round_the_clock
        office = org.find_person(session, "李办公室").id
    told = [n.title for n in notifications(rt) if n.person_id == office and n.subject_kind == "case"]
    assert told[-1] == f"【工单撤销】工单 #{case['id']}（特别重大）已撤销"
    with pytest.raises(WorkflowError, match="已结案"):
        cases.withdraw(rt, case["id"], "再撤销一次", "赵分管")

    # the story goes on spreading at the grade the leader judged: no flare-up, the decision stands
    clock.advance(hours=1)
    rows: list[dict[str, object]] = [
        {
            "id": f"w{i}",
            "text": f"第{i}条：" + HOSPITAL + f"有人转发{i}",
            "kind": "repost",
            "cascade": "o1",
            "published_at": (clock() - dt.timedelta(minutes=30 - i)).isoformat(),
        }
        for i in range(25)
    ]
    import_posts(rt, rows, "w.jsonl")
    AnalysisPipeline(rt).run()
    assert followup.run_once(rt)["reopened"] == 0
    shown = cases.show(rt, case["id"])
    assert shown["stage"] == "closed" and shown["withdrawn_at"] is not None and shown["reopened"] == 0
    assert [a["status"] for a in alerts.list_alerts(rt)] == ["closed"]


def test_a_case_that_released_a_statement_cannot_be_withdrawn() -> None:
    from yuqing.cases import workflow

    move = workflow.transition("disposing", "closed")
    assert move.withdraw
    facts = workflow.CaseFacts("disposing", "谣言", released_statements=1, summary=None, open_tasks=0)
    with pytest.raises(WorkflowError, match="已发布权威信息的工单不能撤销"):
        workflow.check(move, facts)
    workflow.check(move, workflow.CaseFacts("disposing", "谣言", 0, None, 0))  # nothing released: allowed


def test_a_follow_up_report_tells_those_the_report_told_with_the_cases_state(
    rt: Runtime, clock: FakeClock
) -> None:
    """续报: once reported, the office keeps the unit above and its own leaders informed; each 续报
    carries the words of its sender and the case's state, and the timeline numbers them."""
    event_id = graded_event(rt)
    followup.run_once(rt)
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    with pytest.raises(WorkflowError, match="尚未报告"):
        cases.follow_up(rt, case["id"], "调查组已进驻", "李办公室")
    cases.advance(rt, case["id"], "报告", "孙监测")
    with pytest.raises(cases.PermissionDenied, match="无权续报"):
        cases.follow_up(
            rt, case["id"], "调查组已进驻", "王值班"
        )  # the duty officer reports, the office follows up
    with pytest.raises(ValueError, match="写明进展"):
        cases.follow_up(rt, case["id"], " \n ", "李办公室")
    with pytest.raises(ValueError, match="不超过 1000 字"):
        cases.follow_up(rt, case["id"], "进" * 1001, "李办公室")

    # the story spreads after the report: one more repost
    import_posts(
        rt,
        [
            {
                "id": "r2",
                "text": "医院必须给个说法//@网友:" + HOSPITAL,
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-20T09:30:00+08:00",
            }
        ],
        "b.jsonl",
    )
    AnalysisPipeline(rt).run()
    clock.advance(minutes=30)
    case = cases.follow_up(rt, case["id"], "市卫健委调查组已进驻医院，\n封存病历。", "李办公室")
    line = (
        "第 1 次续报：市卫健委调查组已进驻医院， 封存病历。（已续报南京市人民政府，已通知：赵分管、陈市长）"
    )
    assert line in [e["text"] for e in case["timeline"]]
    with rt.sessions() as session:
        mayor = org.find_person(session, "陈市长").id
        deputy = org.find_person(session, "赵分管").id
        office = org.find_person(session, "李办公室").id

    def follow_ups(person_id: int) -> list[Notification]:
        return [n for n in notifications(rt) if n.person_id == person_id and "续报" in n.title]

    [told] = {n.title: n for n in follow_ups(mayor)}.values()
    story = f"{clip(case['title'], 30)}（工单 #{case['id']}）"
    assert told.title == f"【舆情续报】市卫生健康委员会第 1 次续报特别重大舆情：{story}"
    body = str(told.message.get("body", ""))
    assert body.startswith("李办公室（市卫生健康委员会）续报：工单「")
    assert "当前阶段：报告；等级：特别重大；相关信息 3 条（较上次报告增加 1 条）" in body
    assert "权威信息：尚未起草" in body
    assert follow_ups(deputy) and not follow_ups(office)  # the sender is not told their own 续报

    cases.advance(rt, case["id"], "研判", "李办公室", category="谣言")
    cases.draft_statement(rt, case["id"], "李办公室", facts="11月20日上午，鼓楼医院一名产妇术中死亡。")
    tasked = cases.add_task(rt, case["id"], "市卫生健康委员会", "核查手术记录", "李办公室", hours=4)
    # a task within the unit reads as one, not as the unit tasking itself
    assert any(e["text"].startswith("本单位内部分派任务：核查手术记录") for e in tasked["timeline"])
    case = cases.follow_up(rt, case["id"], "声明稿已报审。", "李办公室")
    assert any(e["text"].startswith("第 2 次续报：声明稿已报审。") for e in case["timeline"])
    second = {n.title: n for n in follow_ups(mayor)}
    body = str(second[f"【舆情续报】市卫生健康委员会第 2 次续报特别重大舆情：{story}"].message["body"])
    assert "当前阶段：研判" in body and "相关信息 3 条（较上次报告增加 0 条）" in body
    assert "权威信息：第 1 稿审批中，待主要领导、领导小组成员审批" in body
    assert "部门任务 1 项，已完成 0 项" in body
    assert cases.permissions(rt, case["id"], "李办公室")["follow_up"]
    assert not cases.permissions(rt, case["id"], "王值班")["follow_up"]

    case = cases.withdraw(rt, case["id"], "经核实为误报", "赵分管")
    # the unit above, told of a 特别重大, hears it was withdrawn and why
    withdrawn = [n for n in notifications(rt) if n.person_id == mayor and "撤销" in n.title]
    assert len(withdrawn) == 1, [n.title for n in withdrawn]
    assert "经核实为误报" in str(withdrawn[0].message["body"])
    assert any(e["text"].startswith("已向南京市人民政府报告撤销情况") for e in case["timeline"])
    assert not any("终报" in n.title for n in notifications(rt))
    with pytest.raises(WorkflowError, match="已结案"):
        cases.follow_up(rt, case["id"], "再续报", "李办公室")
    assert not cases.permissions(rt, case["id"], "李办公室")["follow_up"]


def test_a_lesser_alert_escalates_to_the_deputy_leader_not_to_the_chief() -> None:
    """PRODUCT.md §2.4: the chief leads 重大 and 特别重大 only. An unacknowledged 一般 or 较大
    alert stops at the unit's deputy leader: a bureau without a chief of its own would otherwise
    wake the city's (people_with_role climbs the tree) for a 一般 rumour at night."""
    plan = load_plan(None)
    full = [step["role"] for step in alerts.escalation_chain(plan, "I")]
    assert full == ["duty_officer", "office", "deputy_leader", "chief"]
    assert [step["role"] for step in alerts.escalation_chain(plan, "II")] == full
    for code in ("III", "IV"):
        assert [step["role"] for step in alerts.escalation_chain(plan, code)] == full[:3]


def test_a_grave_alert_nobody_acknowledges_reaches_the_chief_by_half_its_report_clock() -> None:
    """The profile's waits (15 + 30 + 30 minutes) would tell the chief of an unacknowledged 特别重大
    after 75 minutes, its one-hour report overdue: a grave alert's waits before the chief are
    shortened in proportion, to half the report clock; lesser alerts keep the profile's."""
    from yuqing.cases.plan import load_plan

    plan = load_plan(None)

    def waits(code: str) -> list[float]:
        return [float(step["wait_minutes"]) for step in alerts.escalation_chain(plan, code)]

    assert waits("I")[:3] == [6, 12, 12] and sum(waits("I")[:3]) == 30  # report within 1 h
    assert waits("II")[:3] == [12, 24, 24] and sum(waits("II")[:3]) == 60  # report within 2 h
    assert waits("III") == waits("IV") == [15, 30, 30]


def test_a_formal_reply_by_the_office_is_given_only_once_a_leader_has_settled_it(
    rt: Runtime, clock: FakeClock
) -> None:
    """Seeds 000 and 003: 答复意见 经本单位负责人审定后答复. The office's draft stops no clock and
    asks the unit's deputy leader (and the chief above); a refusal needs a reason and goes back to
    the drafter; a newer draft replaces a waiting one; the settled reply is the answer given."""

    def unread_requests() -> set[str]:
        with rt.sessions() as session:
            names = {p.id: p.name for p in org.list_people(session)}
            return {
                names[n.person_id]
                for n in session.scalars(select(Notification).where(Notification.kind == "in_app"))
                if n.dedup_key.startswith("reply:") and ":settle" in n.dedup_key and n.read_at is None
                if n.person_id is not None
            }

    event_id = graded_event(rt)
    case_id = cases.open_case(rt, "李办公室", event_id=event_id)["id"]
    cases.categorize(rt, case_id, "询问", "李办公室")  # starts the 5-working-day formal-reply clock
    clock.advance(minutes=30)
    first = cases.respond(rt, case_id, "李办公室", "经核查，医院已成立调查组。", formal=True)
    states = {d["kind"]: d["state"] for d in first["deadlines"]}
    assert states["formal_reply"] == "pending" and states["first_response"] == "pending"
    assert [(r["status"], r["drafted_by"]) for r in first["replies"]] == [("pending", "李办公室")]
    assert "起草正式答复意见（待分管领导或主要领导审定后答复）" in first["timeline"][-1]["text"]
    # the bureau's own 分管领导 is asked; the mayor above is not troubled with the bureau's reply
    assert unread_requests() == {"赵分管"}
    reply_id = first["replies"][0]["id"]
    assert [r["id"] for r in cases.todo(rt, "赵分管")["replies"]] == [reply_id]
    assert cases.todo(rt, "李办公室")["replies"] == []
    assert cases.permissions(rt, case_id, "赵分管")["settle_replies"] == [reply_id]
    assert cases.permissions(rt, case_id, "李办公室")["settle_replies"] == []

    with pytest.raises(cases.PermissionDenied, match="不能审定答复意见：须由分管领导或主要领导审定"):
        cases.decide_reply(rt, case_id, reply_id, "李办公室")
    with pytest.raises(LookupError, match="找不到工单"):  # another unit's office does not see the case
        cases.decide_reply(rt, case_id, reply_id, "钱教育")
    with pytest.raises(ValueError, match="退回须写明理由"):
        cases.decide_reply(rt, case_id, reply_id, "赵分管", reject=True)
    sent_back = cases.decide_reply(rt, case_id, reply_id, "赵分管", reject=True, comment="须写明调查时限")
    assert sent_back["replies"][0]["status"] == "rejected"
    assert unread_requests() == set()
    with rt.sessions() as session:
        drafter = org.find_person(session, "李办公室").id
    told = [n for n in notifications(rt) if n.person_id == drafter and n.kind == "in_app"]
    assert [n.title for n in told] == [f"【答复意见被退回】工单 #{case_id}"]
    assert "须写明调查时限" in told[0].message["body"]
    with pytest.raises(ValueError, match="该答复意见已退回"):
        cases.decide_reply(rt, case_id, reply_id, "赵分管")

    second = cases.respond(rt, case_id, "李办公室", "医院已成立调查组，5日内公布结果。", formal=True)
    third = cases.respond(rt, case_id, "李办公室", "医院已成立调查组，3日内公布调查结果。", formal=True)
    assert [r["status"] for r in third["replies"]] == ["rejected", "superseded", "pending"]
    assert second["replies"][-1]["id"] != third["replies"][-1]["id"]
    clock.advance(hours=1)
    settled = cases.decide_reply(rt, case_id, third["replies"][-1]["id"], "陈市长", comment="同意")
    states = {d["kind"]: d["state"] for d in settled["deadlines"]}
    assert states["formal_reply"] == "met" and states["first_response"] == "met"
    given = [e for e in settled["timeline"] if e["action"] == "respond"]
    assert [(e["actor"], e["text"]) for e in given] == [
        ("陈市长", "正式答复：医院已成立调查组，3日内公布调查结果。")
    ]
    assert unread_requests() == set()

    # a leader's own formal reply is settled as it is written
    direct = cases.respond(rt, case_id, "赵分管", "调查结果已公布。", formal=True)
    assert direct["timeline"][-1]["text"] == "正式答复：调查结果已公布。"
    assert [r["status"] for r in direct["replies"]] == ["rejected", "superseded", "approved"]

    # a leader answering himself replaces a draft still waiting: it can no longer be a second answer
    waiting = cases.respond(rt, case_id, "李办公室", "补充说明：调查组已进驻。", formal=True)
    assert waiting["reply_pending"] and waiting["replies"][-1]["status"] == "pending"
    cases.respond(rt, case_id, "陈市长", "调查组已进驻医院。", formal=True)
    assert [r["status"] for r in cases.show(rt, case_id)["replies"]][-1] == "superseded"
    assert cases.todo(rt, "赵分管")["replies"] == [] and unread_requests() == set()
    with pytest.raises(ValueError, match="已被新稿替代"):
        cases.decide_reply(rt, case_id, waiting["replies"][-1]["id"], "赵分管")


def test_a_profile_without_reply_approvers_lets_the_office_reply_alone(tmp_path: Path) -> None:
    from yuqing.analysis.grading import DEFAULT_PROFILE
    from yuqing.cases.plan import ProfileError, _load, load_plan

    shipped = DEFAULT_PROFILE.read_text(encoding="utf-8")
    alone = tmp_path / "alone.toml"
    alone.write_text(shipped + "\n[response]\nreply_approvers = []\n", encoding="utf-8")
    assert _load(str(alone)).reply_approvers == ()
    assert load_plan(None).reply_approvers == ("deputy_leader", "chief")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(shipped + '\n[response]\nreply_approvers = ["duty_officer"]\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="角色 'duty_officer' 不能审定答复意见"):
        _load(str(wrong))
    assert load_plan(None).flare_up_rate == 2.0
    for rate in ("0.5", '"fast"'):
        wrong.write_text(shipped + f"\n[response]\nflare_up_rate = {rate}\n", encoding="utf-8")
        with pytest.raises(ProfileError, match="flare_up_rate 应为不小于 1 的数"):
            _load(str(wrong))


def test_a_grave_case_is_reported_by_telephone_as_well_and_the_call_is_logged(
    rt: Runtime, clock: FakeClock
) -> None:
    """PRODUCT.md §2.4: 重大 and 特别重大 are reported immediately by phone as well, and the system
    logs that it was done: whom and when, given on the way to 报告 or afterwards; the 总结评估
    names a grave case with no call on record."""
    from yuqing.reports.summary import build_summary

    event_id = graded_event(rt)
    case_id = cases.open_case(rt, "王值班", event_id=event_id)["id"]
    assert cases.permissions(rt, case_id, "王值班")["phone_report_required"]
    clock.advance(minutes=10)  # 01:10 UTC, 09:10 in Nanjing
    with pytest.raises(ValueError, match="晚于现在"):
        cases.advance(rt, case_id, "报告", "王值班", phone_to="市政府总值班室", phone_at="2026-11-20 23:50")
    with pytest.raises(ValueError, match="2026年11月19日 23:50 早于发现时间"):  # 「23:50」 now is yesterday's
        cases.advance(rt, case_id, "报告", "王值班", phone_to="市政府总值班室", phone_at="23:50")
    with pytest.raises(ValueError, match="早于发现时间"):
        cases.advance(rt, case_id, "报告", "王值班", phone_to="市政府总值班室", phone_at="2026-11-19 08:00")
    with pytest.raises(ValueError, match="无法识别"):
        cases.advance(rt, case_id, "报告", "王值班", phone_to="市政府总值班室", phone_at="上午")
    reported = cases.advance(rt, case_id, "报告", "王值班", phone_to="市政府总值班室  张某", phone_at="9:05")
    assert reported["stage"] == "reported"
    assert [(p["to"], p["called_at"], p["by"]) for p in reported["phone_reports"]] == [
        ("市政府总值班室 张某", "2026-11-20T09:05:00+08:00", "王值班")
    ]
    assert reported["timeline"][-1]["text"] == "11月20日 09:05 已电话报告市政府总值班室 张某"
    with pytest.raises(ValueError, match="请写明电话报告了谁"):
        cases.record_phone_report(rt, case_id, "李办公室", "  ")
    with pytest.raises(LookupError):
        cases.record_phone_report(rt, case_id, "钱教育", "市政府")
    again = cases.record_phone_report(rt, case_id, "李办公室", "陈市长")
    assert [p["to"] for p in again["phone_reports"]] == ["市政府总值班室 张某", "陈市长"]

    # a grave case without a call on record: its 总结评估 says so
    import_posts(rt, [{"id": "x1", "text": "网传某地发生重大事故，多人伤亡，详情待核实。"}], "x.jsonl")
    with rt.sessions() as session:
        loose = session.scalars(select(Post.id).where(Post.external_id == "x1")).one()
    other = cases.open_case(rt, "李办公室", post_id=loose, grade_code="I")["id"]
    for stage in ("报告", "研判"):
        cases.advance(rt, other, stage, "陈市长", category="谣言")
    cases.draft_statement(rt, other, "李办公室", facts="鼓楼医院一名产妇术中死亡，原因正在调查。")
    cases.approve(rt, other, "陈市长")
    cases.approve(rt, other, "周组员")
    cases.advance(rt, other, "处置", "陈市长")
    cases.release(rt, other, "官方微博/微信", "陈市长")
    for stage in ("跟踪", "总结"):
        cases.advance(rt, other, stage, "陈市长", summary="已处置。")
    lessons = build_summary(rt, other).plain_text()
    assert "未记录电话报告：预案要求特别重大舆情在书面报告的同时电话报告上级。" in lessons


def test_each_acknowledgement_of_an_alert_stays_on_record(rt: Runtime, clock: FakeClock) -> None:
    """An upgrade re-opens an acknowledged alert; the next acknowledgement used to overwrite the
    first (a drill's record then lost the duty officer's). Each is kept, with the grade it
    answered; opening a case on the alert counts as one."""
    from yuqing.alerts.models import Alert, AlertAcknowledgement, AlertStatus

    event_id = graded_event(rt)
    followup.run_once(rt)
    [alert] = alerts.list_alerts(rt)
    alerts.acknowledge(rt, alert["id"], "王值班")
    clock.advance(minutes=20)
    with transaction(rt.sessions) as session:  # as the alerting of an upgrade does
        row = session.get(Alert, alert["id"])
        assert row is not None
        row.status, row.repeats, row.kind = AlertStatus.OPEN.value, 1, "upgrade"
    cases.open_case(rt, "李办公室", event_id=event_id)
    with rt.sessions() as session:
        acks = session.execute(
            select(AlertAcknowledgement.person_id, AlertAcknowledgement.grade).order_by(
                AlertAcknowledgement.id
            )
        ).all()
        names = {p.id: p.name for p in org.list_people(session)}
    assert [(names[p], g) for p, g in acks] == [("王值班", "特别重大"), ("李办公室", "特别重大")]


def test_a_case_raised_after_it_was_reported_is_reported_again_at_the_new_grade(
    rt: Runtime, clock: FakeClock
) -> None:
    """Reported as 一般 to the office above, then raised to 重大: the chief who leads a 重大
    response had never heard of it. A report clock of the new grade starts at the upgrade, the
    office is told, and its 续报 reaches the new grade's people and keeps that clock."""
    event_id = graded_event(rt)
    case = cases.open_case(rt, "赵分管", event_id=event_id, grade_code="IV")
    case = cases.advance(rt, case["id"], "报告", "李办公室")
    assert {d["kind"]: d["state"] for d in case["deadlines"]}["report"] in ("met", "missed")
    with rt.sessions() as session:
        mayor = org.find_person(session, "陈市长").id
        office = org.find_person(session, "李办公室").id
    assert not [n for n in notifications(rt) if n.person_id == mayor and n.subject_kind == "case"]

    clock.advance(minutes=5)
    raised_at = clock()
    case = cases.regrade(rt, case["id"], "II", "家属聚集，多家媒体报道", "赵分管")
    reports = [d for d in case["deadlines"] if d["kind"] == "report"]
    again = max(reports, key=lambda d: d["id"])
    assert len(reports) == 2 and again["state"] == "pending" and again["rule"] == "2h"
    assert dt.datetime.fromisoformat(again["due_at"]) == raised_at + dt.timedelta(hours=2)
    assert any("等级升为重大，须按新等级向上级报告" in e["text"] for e in case["timeline"])
    told = [n.title for n in notifications(rt) if n.person_id == office and n.subject_kind == "case"]
    assert f"【须按新等级报告】工单 #{case['id']}：一般 → 重大" in told

    clock.advance(minutes=30)
    case = cases.follow_up(rt, case["id"], "家属聚集，已派工作组", "李办公室")
    reports = [d for d in case["deadlines"] if d["kind"] == "report"]
    assert max(reports, key=lambda d: d["id"])["state"] == "met"
    heard = [n.title for n in notifications(rt) if n.person_id == mayor and n.subject_kind == "case"]
    assert heard == [
        f"【舆情续报】市卫生健康委员会第 1 次续报重大舆情：{clip(case['title'], 30)}（工单 #{case['id']}）"
    ]
