"""Replaying a drill: the virtual clock with pause and resume, repeated steps, drill posts kept
apart from real and other drills' posts, the state table, notices held in-app unless allowed,
the server's worker, and scoring when monitoring misses the incident."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.conftest import FakeClock
from tests.drills.conftest import setup_org
from yuqing.alerts.models import Alert
from yuqing.analysis.models import Event
from yuqing.drills import service
from yuqing.drills.errors import DrillError
from yuqing.drills.models import Drill, DrillRunner
from yuqing.drills.runner import DrillWorker, run_foreground, step
from yuqing.drills.scoring import subject_points
from yuqing.ingest import queries as ingest_queries
from yuqing.ingest import service as ingest
from yuqing.ingest.models import Post
from yuqing.ingest.store import PostWriter
from yuqing.notify.models import Notification
from yuqing.notify.outbox import INTERNAL_ONLY
from yuqing.runtime import Runtime

HOSPITAL = "永康中医院今天死亡一例外地归来患者，死因发烧头痛，大家注意预防H7N9。"
SCENARIO = f"""
name = "测试：医院谣言"
[expect]
grade = "I"
category = "谣言"
topic_hint = "医院 + 死亡"
[[posts]]
id = "o"
at = 0
text = "{HOSPITAL}"
reposts = 620
[[posts]]
id = "r1"
at = 600
kind = "repost"
text = "太可怕了//@原帖作者:{HOSPITAL}"
[[posts]]
id = "r2"
at = 1200
kind = "repost"
parent = "r1"
text = "求真相"
[[injects]]
id = "call"
at = 900
kind = "记者来电"
text = "记者来电询问此事。"
to = ["办公室"]
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> str:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return str(path)


def published(rt: Runtime, drill_id: int) -> dict[str, dt.datetime]:
    """The drill's posts by scenario key, with the time they were published."""
    with rt.sessions() as session:
        rows = session.execute(
            select(Post.external_id, Post.published_at).where(Post.external_id.like(f"drill{drill_id}-%"))
        )
        return {str(key).split("-", 1)[1]: at for key, at in rows}


def test_pause_and_resume_shift_the_rest_of_the_replay(
    rt: Runtime, clock: FakeClock, scenario_file: str
) -> None:
    setup_org(rt)
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    drill = service.create_drill(rt, scenario_file, speed=60, participants=["李办公室"])
    start = clock.now
    service.start_drill(rt, drill["id"])
    assert step(rt, drill["id"], writer).posts == 1
    assert published(rt, drill["id"]) == {"o": start}

    clock.advance(seconds=12)  # scenario second 720: r1 (600) is due, but nobody stepped before the pause
    paused = service.pause_drill(rt, drill["id"])
    assert paused["state"] == "paused" and paused["scenario_seconds"] == 720
    clock.advance(hours=1)
    assert step(rt, drill["id"], writer).posts == 0  # a paused drill's clock stands still
    assert service.drill_status(rt, drill["id"])["scenario_seconds"] == 720

    resumed_at = clock.now
    resumed = service.resume_drill(rt, drill["id"])
    assert resumed["state"] == "running"
    fed = step(rt, drill["id"], writer)
    assert fed.posts == 1 and fed.injects == 0 and fed.next_in == pytest.approx(3.0)  # the inject at 900
    # r1 fell due before the pause: it keeps that moment, not the moment it was fed.
    assert published(rt, drill["id"])["r1"] == start + dt.timedelta(seconds=10)

    clock.advance(seconds=3)
    assert step(rt, drill["id"], writer).injects == 1
    clock.advance(seconds=5)
    last = step(rt, drill["id"], writer)
    assert last.posts == 1 and last.finished
    # After the pause, everything is later by the pause: r2 (1200) at resume + (1200 − 720) / 60 s.
    assert published(rt, drill["id"])["r2"] == resumed_at + dt.timedelta(seconds=8)
    status = service.drill_status(rt, drill["id"])
    assert status["state"] == "finished" and status["posts_fed"] == 3 and status["injects_fed"] == 1
    texts = [entry["text"] for entry in status["log"]]
    assert any(t.startswith("演练暂停，场景时间停在第 12.0 分钟") for t in texts)
    assert any("暂停了 60.0 分钟" in t for t in texts)
    inject = next(e for e in status["log"] if e["kind"] == "inject")
    assert (
        inject["at"]
        == (resumed_at + dt.timedelta(seconds=3)).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    )
    assert "通知：李办公室" in inject["text"] and inject["scenario_minutes"] == 15
    assert texts[-1] == "场景全部回放完毕"


def test_a_repeated_step_adds_nothing_twice(rt: Runtime, clock: FakeClock, scenario_file: str) -> None:
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    drill = service.create_drill(rt, scenario_file, speed=60)
    service.start_drill(rt, drill["id"])
    clock.advance(seconds=30)
    assert step(rt, drill["id"], writer).finished
    # As after a crash between the import and the cursor's move: the cursors go back.
    with rt.sessions.begin() as session:
        session.execute(
            update(Drill).where(Drill.id == drill["id"]).values(posts_fed=0, injects_fed=0, state="running")
        )
    again = step(rt, drill["id"], writer)
    assert again.posts == 3 and again.finished
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post).where(Post.is_drill.is_(True))) == 3


def test_drill_posts_are_never_swallowed_as_copies(rt: Runtime, clock: FakeClock, scenario_file: str) -> None:
    """The same words as a real post, or as another drill of the same scenario, are stored anyway."""
    row = {"id": "real", "text": HOSPITAL, "published_at": clock.now.isoformat()}
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    ingest.import_data(
        rt, writer, json.dumps(row, ensure_ascii=False).encode(), origin="real.jsonl", platform="weibo"
    )
    first = service.create_drill(rt, scenario_file, speed=600)
    second = service.create_drill(rt, scenario_file, speed=600)
    for drill in (first, second):
        service.start_drill(rt, drill["id"])
    clock.advance(seconds=10)
    for drill in (first, second):
        assert step(rt, drill["id"], writer).posts == 3
    with rt.sessions() as session:
        posts = session.execute(select(Post.text, Post.is_drill, Post.source_id)).all()
    assert len(posts) == 7
    assert [p.is_drill for p in posts].count(False) == 1
    originals = {p.text for p in posts if re.fullmatch(r"(【演练#\d+】)?" + re.escape(HOSPITAL), p.text)}
    assert originals == {
        HOSPITAL,
        f"【演练#{first['id']}】{HOSPITAL}",
        f"【演练#{second['id']}】{HOSPITAL}",
    }
    # `yuqing posts list` shows real posts; a drill's posts only when its source is asked for.
    assert [p["text"] for p in ingest_queries.list_posts(rt)] == [HOSPITAL]
    with rt.sessions() as session:
        drill_source = session.scalars(select(Post.source_id).where(Post.is_drill.is_(True))).first()
        assert drill_source is not None
    assert len(ingest_queries.list_posts(rt, source=str(drill_source))) == 3


def test_the_state_table_refuses_what_cannot_follow(rt: Runtime, scenario_file: str) -> None:
    drill = service.create_drill(rt, scenario_file)
    with pytest.raises(DrillError, match="未开始，不能「暂停」；可以：开始（start）、停止（stop）"):
        service.pause_drill(rt, drill["id"])
    service.start_drill(rt, drill["id"])
    with pytest.raises(DrillError, match="进行中，不能「开始」"):
        service.start_drill(rt, drill["id"])
    stopped = service.stop_drill(rt, drill["id"])
    assert stopped["state"] == "stopped" and stopped["ended_at"]
    with pytest.raises(DrillError, match="已停止，不能「继续」；演练已结束"):
        service.resume_drill(rt, drill["id"])
    with pytest.raises(DrillError, match="演练速度应大于 0"):
        service.create_drill(rt, scenario_file, speed=0)
    with pytest.raises(LookupError, match="找不到人员 没这个人"):
        service.create_drill(rt, scenario_file, participants=["没这个人"])


def test_the_server_worker_replays_only_drills_started_for_it(
    rt: Runtime, clock: FakeClock, scenario_file: str
) -> None:
    served = service.create_drill(rt, scenario_file, speed=600)
    foreground = service.create_drill(rt, scenario_file, speed=600, runner=DrillRunner.FOREGROUND)
    waiting = service.create_drill(rt, scenario_file, speed=600)
    service.start_drill(rt, served["id"])
    service.start_drill(rt, foreground["id"])
    clock.advance(seconds=5)
    DrillWorker(rt).work()
    assert len(published(rt, served["id"])) == 3
    assert published(rt, foreground["id"]) == {} and published(rt, waiting["id"]) == {}


def _run(rt: Runtime, clock: FakeClock, drill_id: int) -> None:
    service.start_drill(rt, drill_id, runner=DrillRunner.FOREGROUND)
    state = run_foreground(rt, drill_id, sleep=lambda seconds: clock.advance(seconds=seconds))
    assert state == "finished"


def test_notices_stay_in_app_unless_the_drill_allows_outside_channels(
    rt: Runtime, clock: FakeClock, scenario_file: str
) -> None:
    setup_org(rt)
    held = service.create_drill(rt, scenario_file, speed=600, participants=["李办公室"])
    allowed = service.create_drill(
        rt, scenario_file, speed=600, participants=["李办公室"], allow_external=True
    )
    for drill in (held, allowed):
        _run(rt, clock, drill["id"])
    with rt.sessions() as session:
        for drill, withheld in ((held, True), (allowed, False)):
            alerts = service.drill_status(rt, drill["id"])["alerts"]
            assert alerts
            outside = list(
                session.scalars(
                    select(Notification).where(
                        Notification.kind != "in_app",
                        ((Notification.subject_kind == "alert") & Notification.subject_id.in_(alerts))
                        | ((Notification.subject_kind == "drill") & (Notification.subject_id == drill["id"])),
                    )
                )
            )
            assert {n.kind for n in outside} == {"email", "dingtalk"}  # the duty officer's, the office's
            if withheld:
                assert all(n.status == "cancelled" and n.last_error == INTERNAL_ONLY for n in outside)
            else:
                assert all(n.last_error != INTERNAL_ONLY for n in outside)
                assert all(n.status != "cancelled" and n.attempts >= 1 for n in outside)


def test_a_drill_that_monitoring_misses_scores_nothing_and_says_why(
    rt: Runtime, clock: FakeClock, scenario_file: str
) -> None:
    drill = service.create_drill(rt, scenario_file, speed=600)  # no topic catches it, nobody takes part
    assert len(drill["warnings"]) == 2
    assert (
        drill["warnings"][0].startswith("场景的 3 条信息没有一条命中已启用的监测专题")
        and "医院 + 死亡" in drill["warnings"][0]
    )
    assert "未指定参演人员" in drill["warnings"][1]
    _run(rt, clock, drill["id"])
    with rt.sessions() as session:
        events = list(session.scalars(select(Event).where(Event.drill_id == drill["id"])))
    # posts no topic catches form no event of their own (only a link would join one): nothing graded
    assert all(e.is_drill and e.grade_code is None for e in events)
    result = service.score_drill(rt, drill["id"])
    assert result["detected_at"] is None and result["overall"] == 0 and result["rating"] == "不合格"
    assert {s["status"] for s in result["subjects"]} == {"未计时"}
    assert result["shortcomings"][0].startswith("演练信息未触发预警")
    assert "本场景建议的专题规则：医院 + 死亡" in result["improvements"][0]


@pytest.mark.parametrize(
    ("minutes", "points"),
    [(0, 100), (120, 100), (150, 75), (180, 50), (239, 0.8), (240, 0), (500, 0), (None, 0)],
)
def test_a_subject_loses_points_linearly_past_its_limit(minutes: float | None, points: float) -> None:
    assert subject_points(minutes, 120) == points


def test_a_drill_stopped_early_is_reported_as_it_happened(
    rt: Runtime, clock: FakeClock, scenario_file: str
) -> None:
    """Stopped before the replay ended: the 演练总结 says what was fed, marks the inject that never
    came, scores the subjects nobody finished as 未完成 (not 「进行中…仍可完成」), and its clocks
    read as the plan's words, not 「swd」."""
    from yuqing.analysis.pipeline import AnalysisPipeline
    from yuqing.cases import followup
    from yuqing.reports import service as reports_service

    setup_org(rt)
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    drill = service.create_drill(rt, scenario_file, speed=60, participants=["李办公室"])
    service.start_drill(rt, drill["id"])
    assert step(rt, drill["id"], writer).posts == 1
    AnalysisPipeline(rt).run()
    followup.run_once(rt)  # the drill's first alert: the subjects' clocks start
    clock.advance(seconds=11)
    assert step(rt, drill["id"], writer).posts == 1
    stopped = service.stop_drill(rt, drill["id"])
    assert (stopped["state"], stopped["posts_fed"], stopped["injects_fed"]) == ("stopped", 2, 0)
    with rt.sessions() as session:  # its alert nobody acknowledged waits for no one any more
        statuses = list(session.scalars(select(Alert.status).where(Alert.is_drill.is_(True))))
    assert statuses and set(statuses) == {"closed"}
    score = service.score_drill(rt, drill["id"])
    assert {s["status"] for s in score["subjects"]} == {"未完成"}, score["subjects"]
    assert all("仍可完成" not in s["reason"] for s in score["subjects"])
    text = reports_service.generate(rt, "drill", {"drill_id": drill["id"]}, "html").document.plain_text()
    assert "提前结束，实际回放信息2条、注入情况0次" in text
    assert "未送达（演练已提前结束）" in text
    assert "swd" not in text and "3wh" not in text


def test_a_drill_ended_after_its_replay_counts_only_what_was_done_by_then(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    """After the replay the team works on; the office then ends the drill (「结束」 on a finished
    one). Then it is over: its open alerts are closed, its cases take no more actions, no case is
    opened on it, the subjects nobody finished read 「结束时尚未…」 (not 「提前结束」), and it
    changes state no more."""
    from yuqing.analysis.pipeline import AnalysisPipeline
    from yuqing.cases import followup
    from yuqing.cases import service as cases
    from yuqing.cases.workflow import WorkflowError

    scenario_file = tmp_path / "scenario.toml"
    subjects = (
        '[[subjects]]\nname = "开立工单"\ndone_when = "case_opened"\nlimit_minutes = 30\n'
        '[[subjects]]\nname = "研判类别"\ndone_when = "categorized"\nlimit_minutes = 30\n'
    )
    scenario_file.write_text(SCENARIO + subjects, encoding="utf-8")
    setup_org(rt)
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    drill = service.create_drill(rt, str(scenario_file), speed=60, participants=["李办公室"])
    service.start_drill(rt, drill["id"])
    assert step(rt, drill["id"], writer).posts == 1
    AnalysisPipeline(rt).run()
    followup.run_once(rt)  # the drill's first alert: the subjects' clocks start
    clock.advance(seconds=30)
    assert step(rt, drill["id"], writer).finished
    assert service.drill_status(rt, drill["id"])["state"] == "finished"
    with rt.sessions() as session:
        alert_ids = list(session.scalars(select(Alert.id).where(Alert.is_drill.is_(True))))
    assert alert_ids
    clock.advance(minutes=5)
    case = cases.open_case(rt, "李办公室", alert_id=alert_ids[0])

    clock.advance(minutes=5)
    ended = service.stop_drill(rt, drill["id"])
    assert (ended["state"], ended["state_label"]) == ("closed", "已结束")
    assert service.drill_status(rt, drill["id"])["log"][-1]["text"].startswith("演练结束（情景已回放完毕）")
    with rt.sessions() as session:
        assert set(session.scalars(select(Alert.status).where(Alert.is_drill.is_(True)))) <= {
            "acknowledged",
            "closed",
        }
    clock.advance(minutes=1)
    with pytest.raises(WorkflowError, match=f"演练 #{drill['id']} 已结束，工单 #{case['id']} 不能再处置"):
        cases.categorize(rt, case["id"], "询问", "李办公室")
    with pytest.raises(WorkflowError, match=f"演练 #{drill['id']} 已结束，不能再开立演练工单"):
        cases.open_case(rt, "李办公室", event_id=case["event_id"])
    # nor does the case page offer what would be refused
    may = cases.permissions(rt, case["id"], "李办公室")
    assert may["drill_ended"] == drill["id"] and not any(may[k] for k in ("draft", "categorize", "moves"))

    score = service.score_drill(rt, drill["id"])
    opened, categorized = score["subjects"]
    assert opened["status"] == "按时完成"
    assert categorized["status"] == "未完成" and categorized["done_at"] is None
    assert "结束时尚未" in categorized["reason"] and "提前" not in categorized["reason"]
    # the case's clocks the end cut short were not exercised: the summary says so (it read
    # 「未发现明显不足」 over a 特别重大's press conference never held)
    cut = [d for d in cases.show(rt, case["id"])["deadlines"] if d["state"] == "cancelled"]
    assert cut and score["deadline_counts"]["overdue"] == 0
    heading = "演练结束时以下时限尚未完成、未经检验："
    unexercised = next(s for s in score["shortcomings"] if s.startswith(heading))
    assert all(f"工单 #{case['id']} {d['label']}（截止 " in unexercised for d in cut), unexercised
    assert any("提前结束时未检验的环节" in line for line in score["improvements"])
    with pytest.raises(DrillError, match="已结束，不能「停止」；演练已结束"):
        service.stop_drill(rt, drill["id"])
