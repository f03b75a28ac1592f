"""The command-line contract of the response side, end to end on a database filled by the
analysis pipeline: org and people set up, an event graded, the alert acknowledged, the case taken
through approval to release and closing, with a role refused on the way."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from tests.test_cli import yuqing
from yuqing.cli.main import app

HOSPITAL = "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡，家属在医院门口拉横幅讨说法，医院至今未回应。"


def run(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result


def refused(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code != 0, f"{args} should have been refused: {result.output}"
    return result.output


def as_json(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


def test_graded_event_to_closed_case_through_the_cli(tmp_path: Path) -> None:
    run("org", "add", "南京市人民政府", "--kind", "government", "--region", "南京")
    run("org", "add", "市卫生健康委员会", "--parent", "南京市人民政府", "--kind", "bureau")
    run(
        "people",
        "add",
        "王值班",
        "--unit",
        "市卫生健康委员会",
        "--role",
        "值班员",
        "--email",
        "wang@example.cn",
    )
    run("people", "add", "李办公室", "--unit", "市卫生健康委员会", "--role", "办公室")
    run("people", "add", "赵分管", "--unit", "市卫生健康委员会", "--role", "分管领导")
    run("people", "add", "陈市长", "--unit", "南京市人民政府", "--role", "主要领导")
    run("people", "add", "周组员", "--unit", "南京市人民政府", "--role", "领导小组成员")
    run("topics", "groups", "set", "地域", "南京", "江苏", "--kind", "地域")
    run("topics", "groups", "set", "主体", "医院", "学校", "--kind", "主体")
    run("topics", "add", "医疗", "--rule", "@地域 + @主体 + (事故|死亡)", "--unit", "市卫生健康委员会")
    posts = tmp_path / "posts.jsonl"
    # the CLI runs on the real clock: posts of an hour ago (an event long over would not alert)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    rows = [
        {"id": "o1", "text": HOSPITAL, "published_at": start.isoformat(), "reposts": 620},
        {
            "id": "r1",
            "text": "转发：" + HOSPITAL,
            "kind": "repost",
            "cascade": "o1",
            "published_at": (start + dt.timedelta(minutes=10)).isoformat(),
        },
    ]
    posts.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    run("import", str(posts), "--platform", "weibo")
    run("analyze")
    round_one = as_json("response", "run")
    assert round_one["alerts"]["created"] == 1

    alerts = as_json("alerts", "list")
    assert len(alerts) == 1 and alerts[0]["unit"] == "市卫生健康委员会" and alerts[0]["grade"] == "特别重大"
    alert_id = str(alerts[0]["id"])
    assert "状态：待确认" in run("alerts", "list").stdout
    run("alerts", "ack", alert_id, "--as", "王值班")
    assert as_json("alerts", "list")[0]["status"] == "acknowledged"
    assert "状态：已确认" in run("alerts", "list").stdout

    event_id = str(alerts[0]["event_id"])
    case = as_json("cases", "open", "--event", event_id, "--as", "李办公室")
    case_id = str(case["id"])
    assert {d["kind"] for d in case["deadlines"]} >= {"report", "release", "press_conference"}
    run("cases", "advance", case_id, "报告", "--as", "王值班")
    assert "类别" in refused("cases", "advance", case_id, "研判", "--as", "李办公室")
    run("cases", "advance", case_id, "研判", "--category", "属实批评", "--as", "李办公室")
    run("cases", "advance", case_id, "处置", "--as", "李办公室")
    run(
        "cases",
        "statement",
        case_id,
        "--as",
        "李办公室",
        "--facts",
        "11月20日上午，鼓楼医院一名产妇术中死亡。",
        "--causes",
        "原因正在调查",
        "--progress",
        "调查组已进驻",
    )
    assert "不能审批" in refused("cases", "approve", case_id, "--as", "赵分管")
    run("cases", "approve", case_id, "--as", "陈市长")
    run("cases", "approve", case_id, "--as", "周组员")
    released = as_json("cases", "release", case_id, "--channel", "新闻发布会", "--as", "李办公室")
    assert (
        released["statements"][0]["status"] == "released"
        and released["statements"][0]["channel"] == "新闻发布会"
    )
    run("cases", "advance", case_id, "跟踪", "--as", "李办公室")
    assert "总结" in refused("cases", "close", case_id, "--as", "赵分管")
    run("cases", "close", case_id, "--as", "赵分管", "--summary", "已平息，处置及时。")

    # read by people: in Chinese, with local times, not codes and ISO stamps
    text = run("cases", "show", case_id).stdout
    assert "时限 初步回应（3 个工作小时）" in text and "3wh" not in text
    assert "声明第 1 稿：已发布" in text and "released" not in text and "+08:00" not in text
    assert re.search(r"时限 向上级报告（[^）]+）：\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d前", text), text
    shown = as_json("cases", "show", case_id)
    assert shown["stage"] == "closed" and shown["grade"] == "特别重大" and shown["category"] == "属实批评"
    assert [a["role"] for a in shown["approvals"]] == ["chief", "leading_group"]
    states = {d["kind"]: d["state"] for d in shown["deadlines"]}
    assert states["release"] in ("met", "missed") and states["report"] in ("met", "missed")
    assert all(d["due_at"].endswith("+08:00") for d in shown["deadlines"])
    actors = [entry["actor"] for entry in shown["timeline"]]
    assert "陈市长" in actors and "周组员" in actors
    stats = as_json("stats")
    assert stats["cases"] == 1 and any(row["kind"] == "release" for row in stats["units"])
    assert [c["id"] for c in as_json("cases", "list")] == [int(case_id)]


def test_release_without_approvals_exits_non_zero_with_the_reason() -> None:
    """The refusal in a real process of its own: non-zero exit, and the reason on stderr."""
    run("org", "add", "市教育局")
    run("people", "add", "钱办公室", "--unit", "市教育局", "--role", "办公室")
    run("people", "add", "孙分管", "--unit", "市教育局", "--role", "分管领导")
    post = Path("post.jsonl")
    post.write_text(
        json.dumps(
            {"id": "p1", "text": "某小学食堂饭菜质量差，家长在群里投诉，学校尚未回应。"}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    run("import", str(post), "--platform", "weibo")
    case_id = str(as_json("cases", "open", "--post", "1", "--unit", "市教育局", "--as", "钱办公室")["id"])
    run("cases", "statement", case_id, "--as", "钱办公室", "--facts", "学校已约谈供餐企业。")
    result = yuqing("cases", "release", case_id, "--channel", "官方微博/微信", "--as", "钱办公室")
    assert result.returncode != 0
    assert "分管领导" in result.stderr.decode() and "审批" in result.stderr.decode()
    run("cases", "approve", case_id, "--as", "孙分管")
    assert (
        as_json("cases", "release", case_id, "--channel", "官方微博/微信", "--as", "钱办公室")["statements"][
            0
        ]["status"]
        == "released"
    )
