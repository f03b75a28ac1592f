"""The `yuqing drill` commands: Chinese tables for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import FakeClock
from tests.drills.conftest import Cli, setup_org
from tests.test_cli import yuqing
from yuqing.org.scope import not_found
from yuqing.runtime import Runtime

SCENARIO = """
name = "命令行测试场景"
[[posts]]
id = "o"
at = 0
text = "永康中医院今天死亡一例外地归来患者，大家注意预防H7N9。"
[[posts]]
id = "r"
at = 1200
kind = "repost"
text = "求真相"
[[injects]]
at = 600
kind = "上级要求报送"
text = "请一小时内报送核查情况。"
"""


def write_scenario(tmp_path: Path, text: str = SCENARIO) -> str:
    path = tmp_path / "drill.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_list_shows_the_shipped_scenarios_and_the_drills(rt: Runtime, cli: Cli, tmp_path: Path) -> None:
    listed = cli.json("drill", "list")
    assert [s["key"] for s in listed["scenarios"]] == [
        "chemical_plant_rumour",
        "hospital_rumour",
        "school_food_rumour",
    ]
    assert listed["drills"] == []
    human = cli.run("drill", "list").stdout
    assert "内置场景" in human and "医院H7N9死亡病例谣言（永康中医院）" in human and "尚无演练" in human
    cli.json("drill", "create", write_scenario(tmp_path))
    human = cli.run("drill", "list").stdout
    assert "命令行测试场景" in human and "未开始" in human and "0/2" in human


def test_a_server_drill_is_created_started_paused_resumed_and_stopped(
    rt: Runtime, clock: FakeClock, cli: Cli, tmp_path: Path
) -> None:
    setup_org(rt)
    created = cli.json(
        "drill",
        "create",
        write_scenario(tmp_path),
        "--speed",
        "60",
        "--participants",
        "李办公室",
        "--participants",
        "赵分管",
    )
    drill_id = str(created["id"])
    assert created["state"] == "created" and created["runner"] == "server"
    assert created["participants"] == ["李办公室", "赵分管"] and created["allow_external"] is False
    assert cli.json("drill", "start", drill_id)["state"] == "running"
    clock.advance(seconds=5)
    paused = cli.json("drill", "pause", drill_id)
    assert paused["state"] == "paused" and paused["scenario_seconds"] == 300
    clock.advance(minutes=10)
    resumed = cli.json("drill", "resume", drill_id)
    assert resumed["state"] == "running" and resumed["scenario_seconds"] == 300
    # The rest of the scenario (1200 − 300 s at 60×) takes 15 s from the resume.
    finish = (clock.now + dt.timedelta(seconds=15)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert resumed["expected_finish_at"] == finish.isoformat(timespec="seconds")
    stopped = cli.json("drill", "stop", drill_id)
    assert stopped["state"] == "stopped"
    status = cli.run("drill", "status", drill_id).stdout
    assert "演练 #1「命令行测试场景」：已停止（60 倍速）" in status
    assert (
        "演练日志" in status
        and "演练暂停，场景时间停在第 5.0 分钟" in status
        and "暂停了 10.0 分钟" in status
    )
    everything = cli.json("drill", "status")
    assert [d["id"] for d in everything] == [created["id"]]
    assert "已停止" in cli.run("drill", "status").stdout


def test_run_replays_in_the_foreground_until_the_scenario_is_fed(
    rt: Runtime, clock: FakeClock, cli: Cli, tmp_path: Path
) -> None:
    output = cli.run("drill", "run", write_scenario(tmp_path), "--speed", "120", "--no-pipeline").stdout
    assert "回放中" in output and "+1 条信息" in output and "回放完毕" in output
    assert "未指定参演人员" in output  # the inject reaches nobody: said at the start
    status = cli.json("drill", "status", "1")
    assert status["state"] == "finished" and status["runner"] == "foreground"
    assert status["posts_fed"] == 2 and status["injects_fed"] == 1
    score = cli.run("drill", "score", "1").stdout
    assert "发现（首条预警）：未产生预警" in score and "总分：0（不合格）" in score


def test_mistakes_are_refused_with_the_reason(rt: Runtime, cli: Cli, tmp_path: Path) -> None:
    assert "找不到演练 #99" in cli.refused("drill", "start", "99")
    assert "找不到场景 'nowhere'" in cli.refused("drill", "run", "nowhere")
    bad = write_scenario(tmp_path, SCENARIO.replace('kind = "repost"', 'kind = "retweet"'))
    assert "posts[1].kind 无法识别 'retweet'" in cli.refused("drill", "create", bad)
    created = cli.json("drill", "create", write_scenario(tmp_path))
    assert "未开始，不能「暂停」" in cli.refused("drill", "pause", str(created["id"]))
    assert "找不到人员 无名氏" in cli.refused(
        "drill", "create", write_scenario(tmp_path), "--participants", "无名氏"
    )
    assert "不支持 'xlsx'" in cli.refused("drill", "report", str(created["id"]), "-f", "xlsx")
    assert "找不到演练 #42" in cli.refused("drill", "report", "42")


def test_errors_are_one_line_on_stderr_in_a_real_process(rt: Runtime) -> None:
    result = yuqing("drill", "score", "5", "--json")
    assert result.returncode != 0 and result.stdout == b""
    assert result.stderr.decode().strip() == "错误：" + not_found("演练 #5")
