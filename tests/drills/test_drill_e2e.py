"""A shipped scenario end to end: replayed through the real pipeline by `yuqing drill run`, worked
by the team through the CLI acting as each role, scored from the record — with nothing of the
drill in the real event lists, dashboard, statistics or outside notification channels, and a
late report costing points against an on-time one."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import docx
import pytest
from sqlalchemy import func, select

from tests.conftest import FakeClock
from tests.drills.conftest import Cli, setup_org
from yuqing.alerts.models import Alert
from yuqing.analysis import queries as analysis_queries
from yuqing.analysis.models import Event, PostAnalysis
from yuqing.cases.stats import statistics_report
from yuqing.drills.report import drill_report_data
from yuqing.drills.scenario import load_scenario
from yuqing.ingest.models import Post
from yuqing.notify.models import Notification
from yuqing.notify.outbox import INTERNAL_ONLY
from yuqing.reports import service as reports_service
from yuqing.reports.common import clip
from yuqing.runtime import Runtime
from yuqing.web.pages import queries as console

SCENARIO, _ = load_scenario("hospital_rumour")
ORIGINAL = SCENARIO.posts[0].text


def detection_time(cli: Cli, drill_id: int) -> tuple[int, dt.datetime]:
    """The drill's first alert and when it was raised."""
    status = cli.json("drill", "status", str(drill_id))
    assert status["alerts"], f"the drill raised no alert: {status['log']}"
    alert_id = status["alerts"][0]
    alert = next(a for a in cli.json("alerts", "list") if a["id"] == alert_id)
    return alert_id, dt.datetime.fromisoformat(alert["created_at"])


def work_the_case(
    cli: Cli, clock: FakeClock, alert_id: int, detected: dt.datetime, report_after: float
) -> int:
    """The team takes the drill's case from the alert to release; the report to superiors is made
    `report_after` minutes after detection, everything else a few minutes after that."""

    def at(minutes: float, *args: str) -> Any:
        target = detected + dt.timedelta(minutes=minutes)
        assert target >= clock.now, "the team's steps must move forward in time"
        clock.now = target
        return cli.json(*args)

    at(5, "alerts", "ack", str(alert_id), "--as", "王值班")
    case = at(8, "cases", "open", "--alert", str(alert_id), "--as", "李办公室")
    assert case["is_drill"] is True and case["grade"] == "特别重大"
    case_id = str(case["id"])
    r = report_after
    at(r, "cases", "advance", case_id, "报告", "--as", "王值班")
    at(r + 5, "cases", "advance", case_id, "研判", "--category", "谣言", "--as", "李办公室")
    tasked = at(
        r + 6,
        "cases",
        "task",
        case_id,
        "--unit",
        "市疾病预防控制中心",
        "--text",
        "核查永康市中医院是否有H7N9病例",
        "--hours",
        "2",
        "--as",
        "李办公室",
    )
    at(r + 7, "cases", "advance", case_id, "处置", "--as", "李办公室")
    facts = "经核查，永康市中医院未发现H7N9病例，网传信息不实。"
    at(
        r + 8,
        "cases",
        "statement",
        case_id,
        "--facts",
        facts,
        "--progress",
        "疾控部门持续监测",
        "--as",
        "李办公室",
    )
    at(r + 9, "cases", "approve", case_id, "--as", "陈市长")
    at(r + 9, "cases", "approve", case_id, "--as", "周组员")
    task_id = str(tasked["tasks"][0]["id"])
    at(r + 10, "cases", "task-done", case_id, task_id, "--result", "未发现病例", "--as", "钱联络")
    released = at(r + 11, "cases", "release", case_id, "--channel", "官方微博/微信", "--as", "李办公室")
    assert released["statements"][0]["status"] == "released"
    clock.now = detected + dt.timedelta(minutes=r + 15)
    return int(case_id)


def import_real_incident(cli: Cli, clock: FakeClock, tmp_path: Any) -> None:
    """A real report with the very words of the scenario's original, already being handled."""
    now = clock.now.isoformat()
    rows = [
        {"id": "real-o", "text": ORIGINAL, "published_at": now, "reposts": 620},
        {
            "id": "real-r",
            "text": "求真相//@原帖作者:" + ORIGINAL,
            "kind": "repost",
            "cascade": "real-o",
            "published_at": now,
        },
    ]
    path = tmp_path / "real.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    cli.run("import", str(path), "--platform", "weibo")
    cli.run("analyze")
    cli.run("response", "run")


def test_shipped_scenario_end_to_end_marked_isolated_and_scored(
    rt: Runtime, clock: FakeClock, cli: Cli, tmp_path: Any
) -> None:
    setup_org(rt)
    import_real_incident(cli, clock, tmp_path)
    with rt.sessions() as session:
        real_events = list(session.scalars(select(Event).where(Event.grade_code.is_not(None))))
    assert len(real_events) == 1 and not real_events[0].is_drill
    real_event = real_events[0]
    real_case = cli.json("cases", "open", "--event", str(real_event.id), "--as", "李办公室")

    finished = cli.json(
        "drill", "run", "hospital_rumour", "--speed", "3600", "--participants", "李办公室,赵分管"
    )
    drill_id = finished["id"]
    assert finished["state"] == "finished"
    assert finished["posts_fed"] == finished["posts_total"] == len(SCENARIO.posts)
    assert finished["injects_fed"] == 3 and finished["events"] and finished["alerts"]

    # Everything the drill produced is marked, and kept apart from the real incident.
    with rt.sessions() as session:
        drill_posts = list(session.scalars(select(Post).where(Post.is_drill.is_(True))))
        assert len(drill_posts) == len(SCENARIO.posts)  # none swallowed as a copy of the real post
        assert all(p.text.startswith(f"【演练#{drill_id}】") for p in drill_posts if p.text)
        events = list(session.scalars(select(Event).where(Event.drill_id == drill_id)))
        assert events and all(e.is_drill for e in events)
        assert {e.grade_code for e in events if e.grade_code} == {SCENARIO.expect.grade}
        joined = session.scalars(
            select(PostAnalysis.event_id).where(PostAnalysis.post_id.in_([p.id for p in drill_posts]))
        ).all()
        assert real_event.id not in joined
        refreshed = session.get(Event, real_event.id)
        assert refreshed is not None and refreshed.post_count == 2 and not refreshed.is_drill
    alert_id, detected = detection_time(cli, drill_id)
    drill_alert = next(a for a in cli.json("alerts", "list") if a["id"] == alert_id)
    assert drill_alert["is_drill"] is True and drill_alert["unit"] == "市卫生健康委员会"

    case_id = work_the_case(cli, clock, alert_id, detected, report_after=20)
    assert cli.json("drill", "status", str(drill_id))["cases"] == [case_id]

    score = cli.json("drill", "score", str(drill_id))
    assert [s["name"] for s in score["subjects"]] == [
        "现场信息发布",
        "重大事件信息发布",
        "突发事件现场协调",
        "社会稳定评估",
        "信息报送",
    ]
    assert all(s["status"] == "按时完成" and s["score"] == 100 for s in score["subjects"]), score["subjects"]
    by_subject = {s["name"]: s for s in score["subjects"]}
    assert by_subject["社会稳定评估"]["minutes"] == 25 and by_subject["社会稳定评估"]["done_by"] == "李办公室"
    assert by_subject["突发事件现场协调"]["minutes"] == 30
    assert [(c["name"], c["passed"]) for c in score["checks"]] == [
        ("grade", True),
        ("category", True),
        ("approvals", True),
        ("release", True),
    ]
    assert score["deadline_counts"]["missed"] == 0 and score["deadline_counts"]["overdue"] == 0
    assert score["overall"] == 100 and score["rating"] == "优秀"
    human = cli.run("drill", "score", str(drill_id)).stdout
    assert "总分：100（优秀）" in human and "社会稳定评估" in human

    # What the drill report (演练总结) is rendered from.
    report = drill_report_data(rt, drill_id)
    assert report["title"] == f"{SCENARIO.name}应急演练总结"
    assert report["scenario"]["source"]["cascade"] == "22_zqN8ejall_1913366090"
    assert [(p["name"], p["roles"]) for p in report["participants"]] == [
        ("李办公室", ["办公室（市卫生健康委员会）"]),
        ("赵分管", ["分管领导（市卫生健康委员会）"]),
    ]
    assert report["detection"]["alert_id"] == alert_id and report["cases"][0]["id"] == case_id
    assert report["score"]["overall"] == 100 and report["shortcomings"] == [] and report["improvements"] == []
    lines = report["timeline"]
    assert [line["at"] for line in lines] == sorted(line["at"] for line in lines)
    texts = [f"{line['actor']}：{line['text']}" for line in lines]
    order = [
        next(i for i, t in enumerate(texts) if t.startswith("演练：演练开始")),
        # raised at the first grade the replay reached, then upgraded: the report says both
        next(i for i, t in enumerate(texts) if t.startswith(f"系统：预警 #{alert_id}【一般】")),
        next(i for i, t in enumerate(texts) if t.startswith("演练：情景注入「记者来电」")),
        next(
            i
            for i, t in enumerate(texts)
            if t == f"系统：预警 #{alert_id} 等级提升为【特别重大】，须重新确认"
        ),
        next(i for i, t in enumerate(texts) if t == f"王值班：确认预警 #{alert_id}"),
        next(i for i, t in enumerate(texts) if t.startswith(f"王值班：工单 #{case_id}：发现 → 报告")),
        next(i for i, t in enumerate(texts) if t.startswith(f"陈市长：工单 #{case_id}：以主要领导身份批准")),
        next(i for i, t in enumerate(texts) if "通过「官方微博/微信」发布" in t),
    ]
    assert order == sorted(order), texts

    # The 演练总结 as an office hands it in: Word, and PDF.
    made = cli.json("drill", "report", str(drill_id), "-o", str(tmp_path / "drill.docx"))
    assert made["format"] == "docx" and made["title"] == report["title"]
    assert made["kind"] == "drill" and made["is_drill"] is True  # archived, marked as a drill's
    word = docx.Document(str(tmp_path / "drill.docx"))
    text = "\n".join(p.text for p in word.paragraphs) + "\n".join(
        cell.text for table in word.tables for row in table.rows for cell in row.cells
    )
    for expected in (
        "应急演练总结",
        "【演练】",
        "科目评分",
        "社会稳定评估",
        "总分 100 分，评定为「优秀」",
        "李办公室",
    ):
        assert expected in text, expected
    pdf = cli.json("drill", "report", str(drill_id), "--format", "pdf", "-o", str(tmp_path / "drill.pdf"))
    assert (tmp_path / "drill.pdf").read_bytes().startswith(b"%PDF") and pdf["size"] > 10_000

    # Nothing of the drill in real statistics, event lists or the dashboard.
    stats = statistics_report(rt)
    assert stats["cases"] == 1
    assert {m["case_id"] for m in stats["missed"]} <= {real_case["id"]}
    assert statistics_report(rt, include_drills=True)["cases"] == 2
    assert [e["id"] for e in analysis_queries.list_events(rt)] == [real_event.id]
    assert {e["id"] for e in cli.json("events", "list")} == {real_event.id}
    with rt.sessions() as session:
        zone = rt.settings.timezone
        assert [row["id"] for row in console.event_page(session, zone, status=None).rows] == [real_event.id]
        with_drills = console.event_page(session, zone, status=None, include_drills=True).rows
        assert {r["id"] for r in with_drills} == {real_event.id, *finished["events"]}
        counts = console.active_grade_counts(session)
        assert counts == {"I": 1, "II": 0, "III": 0, "IV": 0}
        assert console.volume_series(session, clock.now, zone)["total"] == 2
        found = console.search_posts(session, zone, "永康")
        assert found.rows and all(not r["text"].startswith("【演练") for r in found.rows)
        assert {r["id"] for r in found.rows} == set(
            session.scalars(select(Post.id).where(Post.is_drill.is_(False), Post.text.contains("永康")))
        )
        by_stage = console.cases_by_stage(session)
        assert (
            by_stage["disposing"] == 0 and by_stage["detected"] == 1
        )  # the drill case (处置) is not counted
        assert [c["id"] for c in console.case_page(session, zone).rows] == [real_case["id"]]
        real_alerts = session.scalar(select(func.count()).select_from(Alert).where(Alert.is_drill.is_(False)))
        real_posts_today = session.scalar(
            select(func.count()).select_from(Post).where(Post.is_drill.is_(False))
        )

    # Nor in the real daily report and response table: only the real incident is counted.
    day = clock.now.astimezone(ZoneInfo(rt.settings.timezone)).date().isoformat()
    daily = reports_service.generate(rt, "daily", {"date": day}, "html").document.plain_text()
    assert f"发出预警{real_alerts}条" in daily and f"系统共采集信息{real_posts_today}条" in daily
    assert "【演练" not in daily
    table = reports_service.generate(rt, "response_table", {"from": day, "to": day}, "html").document
    assert [row[1] for row in table.sheets[0][1].rows] == [clip(real_case["title"], 50)]
    with rt.sessions() as session:
        # Drill notices stayed in-app: outside channels were withheld, in-app ones reached people.
        drill_alerts = finished["alerts"]
        notices = list(
            session.scalars(
                select(Notification).where(
                    ((Notification.subject_kind == "alert") & Notification.subject_id.in_(drill_alerts))
                    | ((Notification.subject_kind == "drill") & (Notification.subject_id == drill_id))
                )
            )
        )
        outside = [n for n in notices if n.kind != "in_app"]
        assert outside, "the duty officer's e-mail and the office's DingTalk robot were candidates"
        assert all(n.status == "cancelled" and n.last_error == INTERNAL_ONLY for n in outside)
        inside = [n for n in notices if n.kind == "in_app"]
        assert inside and all(n.title.startswith("【演练】") for n in inside)
        injected = {(n.title, n.person_id) for n in inside if n.subject_kind == "drill"}
        assert len(injected) == 5  # journalist → office; superior → office and deputy; large account → both


def test_a_late_report_loses_points_against_an_on_time_one(rt: Runtime, clock: FakeClock, cli: Cli) -> None:
    setup_org(rt)
    scores = {}
    for team, report_after in (("on_time", 20.0), ("late", 100.0)):
        drill = cli.json("drill", "run", "hospital_rumour", "--speed", "3600", "--participants", "李办公室")
        alert_id, detected = detection_time(cli, drill["id"])
        work_the_case(cli, clock, alert_id, detected, report_after=report_after)
        scores[team] = cli.json("drill", "score", str(drill["id"]))

    on_time, late = scores["on_time"], scores["late"]
    assert on_time["overall"] == 100
    reporting = {s["name"]: s for s in late["subjects"]}["信息报送"]
    assert reporting["status"] == "超时完成" and 99 <= reporting["minutes"] <= 101
    assert 30 <= reporting["score"] <= 36  # 100 × (2 − 100/60)
    assert all(s["score"] == 100 for s in late["subjects"] if s["name"] != "信息报送")
    missed = [d for d in late["deadlines"] if d["state"] == "missed"]
    assert [d["kind"] for d in missed] == ["report"] and 39 <= missed[0]["late_minutes"] <= 41
    assert late["deduction_total"] == 5
    assert late["overall"] < on_time["overall"] and late["rating"] == "良好"
    assert any("向上级报告时限超时完成" in item for item in late["shortcomings"])
    assert any("信息报送流程" in item for item in late["improvements"])
    report = drill_report_data(rt, late["drill_id"])
    assert report["shortcomings"] == late["shortcomings"] and report["deadlines"]["counts"]["missed"] == 1


def test_a_drill_stays_inside_the_unit_that_runs_it(rt: Runtime, clock: FakeClock, cli: Cli) -> None:
    """The education bureau rehearses the hospital rumour: the alert that the topic would route to
    the health commission goes to the bureau, which runs the drill and can stop it; the bureau's
    office cannot enlist the health commission's office, whom the drill would wake, and may enlist
    the mayor above it, who approves its cases."""
    from yuqing.db import transaction
    from yuqing.drills import service as drills
    from yuqing.org import service as org
    from yuqing.org.models import PermissionDenied

    setup_org(rt)
    with transaction(rt.sessions) as session:
        city = org.find_unit(session, "演练市人民政府")
        education = org.create_unit(session, "市教育局", parent_id=city.id, kind="bureau")
        office = org.add_person(session, "孙教育", education.id)
        org.grant_role(session, office.id, "office", education.id)
        office_id = office.id
    with pytest.raises(PermissionDenied, match=r"^李办公室 不属于 市教育局 及其上级、下级单位，不能参加"):
        drills.create_drill(rt, "hospital_rumour", participants=["陈市长", "李办公室"], actor=office_id)
    assert drills.create_drill(rt, "hospital_rumour", participants=["陈市长", "孙教育"], actor=office_id)

    finished = cli.json("drill", "run", "hospital_rumour", "--speed", "3600", "--unit", "市教育局")
    assert finished["state"] == "finished" and finished["alerts"]
    with rt.sessions() as session:
        units = {a.unit_id for a in session.scalars(select(Alert).where(Alert.is_drill.is_(True)))}
        assert units == {org.find_unit(session, "市教育局").id}


def test_a_drill_takes_no_evidence_number_or_department_of_the_real_record(
    rt: Runtime, clock: FakeClock, cli: Cli, tmp_path: Any
) -> None:
    """A drill's scenario post is no evidence of a real case; a drill's 专报 takes no number of the
    unit's official series; a drill case's task goes to no unit outside the drill; a drill ended
    after its replay stops its clocks."""
    from yuqing.cases.models import Deadline
    from yuqing.db import transaction
    from yuqing.org import service as org

    setup_org(rt)
    with transaction(rt.sessions) as session:
        city = org.find_unit(session, "演练市人民政府")
        org.create_unit(session, "市教育局", parent_id=city.id, kind="bureau")
    import_real_incident(cli, clock, tmp_path)
    with rt.sessions() as session:
        real_event = session.scalars(select(Event).where(Event.grade_code.is_not(None))).one()
    real_case = cli.json("cases", "open", "--event", str(real_event.id), "--as", "李办公室")
    run = ("drill", "run", "hospital_rumour", "--speed", "3600", "--participants", "李办公室")
    drill_id = cli.json(*run, "--unit", "市卫生健康委员会")["id"]
    alert_id, _ = detection_time(cli, drill_id)
    drill_case = cli.json("cases", "open", "--alert", str(alert_id), "--as", "李办公室")
    with rt.sessions() as session:
        drill_post = session.scalars(select(Post.id).where(Post.is_drill.is_(True))).first()
        drill_event = session.scalars(select(Event.id).where(Event.drill_id == drill_id)).first()
    assert drill_post is not None and drill_event is not None

    refused = cli.refused("cases", "evidence", str(real_case["id"]), str(drill_post), "--as", "李办公室")
    assert f"信息 #{drill_post} 是演练情景中的信息，不能作为真实工单的证据" in refused
    cli.run("cases", "evidence", str(drill_case["id"]), str(drill_post), "--as", "李办公室")

    task = ("--text", "核查", "--hours", "2", "--as", "李办公室")
    outside = cli.refused("cases", "task", str(drill_case["id"]), "--unit", "市教育局", *task)
    assert "演练工单的任务只能分派给市卫生健康委员会及其上级、下级单位；市教育局未参加本次演练" in outside
    cli.run("cases", "task", str(drill_case["id"]), "--unit", "市疾病预防控制中心", *task)

    def number(event_id: int) -> str:
        made = reports_service.generate(rt, "special", {"event_id": event_id}, "html")
        return str(made.document.number)

    assert [number(real_event.id), number(drill_event), number(real_event.id)] == [
        "2026年第1期",
        "2026年演练第1期",
        "2026年第1期",
    ]

    assert cli.json("drill", "status", str(drill_id))["state"] == "finished"
    ended = cli.json("drill", "stop", str(drill_id))  # the team's work is over: the office ends it
    assert (ended["state"], ended["state_label"]) == ("closed", "已结束")
    with rt.sessions() as session:
        states = set(session.scalars(select(Deadline.state).where(Deadline.case_id == drill_case["id"])))
        real = set(session.scalars(select(Deadline.state).where(Deadline.case_id == real_case["id"])))
    assert states <= {"cancelled", "overdue", "met", "missed"} and "cancelled" in states
    assert "pending" in real or "due_soon" in real  # the real case's clocks run on
    shown = cli.json("cases", "show", str(drill_case["id"]))
    assert any(e["text"].startswith("演练已结束，") for e in shown["timeline"])
