"""The analysis command-line contract, run as a real process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import ok_json, yuqing

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_topics_add_list_and_test() -> None:
    assert yuqing("topics", "groups", "set", "地域", "南京", "江苏", "--kind", "地域").returncode == 0
    assert yuqing("topics", "groups", "set", "主体", "医院", "学校", "--kind", "主体").returncode == 0
    added = ok_json(
        yuqing(
            "topics",
            "add",
            "医疗",
            "--rule",
            "@地域 + @主体 + (投诉|事故|死亡) - 招聘",
            "--unit",
            "市卫健委",
            "--json",
        )
    )
    assert isinstance(added, dict) and added["unit"] == "市卫健委"
    listed = ok_json(yuqing("topics", "list", "--json"))
    assert isinstance(listed, list) and [t["name"] for t in listed] == ["医疗"]

    hit = ok_json(
        yuqing(
            "topics", "test", "@地域 + @主体 + (投诉|事故|死亡) - 招聘", "南京某医院发生医疗事故", "--json"
        )
    )
    assert hit == {"matched": True, "terms": ["南京", "医院", "事故"]}
    excluded = ok_json(
        yuqing("topics", "test", "@地域 + @主体 + 事故 - 招聘", "南京某医院招聘，事故科", "--json")
    )
    assert isinstance(excluded, dict) and excluded["matched"] is False
    bridge = ok_json(yuqing("topics", "test", "[市长]", "南京市长江大桥", "--json"))
    assert isinstance(bridge, dict) and bridge["matched"] is False

    bad = yuqing("topics", "test", "南京 + (医院 | 学校", "南京医院")
    assert bad.returncode != 0
    message = bad.stderr.decode()
    assert "字符" in message and len(message.strip().splitlines()) == 1
    bad_add = yuqing("topics", "add", "坏", "--rule", "@不存在 + 事故")
    assert bad_add.returncode != 0 and "不存在" in bad_add.stderr.decode()


def test_analyze_sentiment_adds_a_label_to_each_line() -> None:
    lines = [
        {"text": "垃圾酒店，服务太差了，再也不来了[怒]"},
        {"text": "非常满意，环境很好，下次还来！"},
        {"id": 3, "text": "某小学食堂发生食物中毒，二十多名学生送医。"},
    ]
    stdin = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()
    result = yuqing("analyze", "sentiment", "-", stdin=stdin)
    assert result.returncode == 0, result.stderr.decode()
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [o["sentiment"]["label"] for o in out] == ["negative", "positive", "negative"]
    assert out[2]["id"] == 3 and 0.0 <= out[2]["sentiment"]["negative"] <= 1.0


def test_a_post_of_nothing_but_accounts_is_neutral() -> None:
    """「@新浪早晚报」 alone read as negative: the model took the account's name for words."""
    from yuqing.analysis.sentiment import SentimentModel

    model = SentimentModel.load()
    bare, named, said = model.predict(
        ["@新浪早晚报", "@阿矿Acon @随手拍福州 //@头狼是以诺:", "@张三 太可怕了"]
    )
    assert bare.label == named.label == "neutral" and bare.negative < 0.5
    assert said.label == "negative"  # the words after the account still count


def test_analyze_events_adds_event_ids_in_time_order() -> None:
    sample = FIXTURES / "ced_sample.jsonl.gz"
    result = yuqing("analyze", "events", str(sample))
    assert result.returncode == 0, result.stderr.decode()
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert out and all("event_id" in o for o in out)
    times = [o["published_at"] for o in out if o.get("published_at")]
    assert times == sorted(times)


def test_events_show_lists_the_posts_entities_and_linked_reasons(database_url: str, tmp_path: Path) -> None:
    def run(*args: str) -> object:
        return ok_json(yuqing(*args, "--json", database_url=database_url))

    assert (
        yuqing("topics", "groups", "set", "医疗主体", "医院", "患儿", database_url=database_url).returncode
        == 0
    )
    run("topics", "add", "医疗", "--rule", "@医疗主体 + (死亡|事故)")
    death = (
        "南京市儿童医院一名5岁患儿输液后死亡，家属质疑护士用错药。患儿在该院输液约二十分钟后出现抽搐，"
        "经抢救无效死亡，院方称已封存药品，等待尸检结果。"
    )
    rows = [
        {"id": "a1", "text": death, "published_at": "2026-12-03T09:10:00+08:00", "reposts": 800},
        {
            "id": "a2",
            "text": "太让人心痛了",
            "kind": "repost",
            "cascade": "a1",
            "published_at": "2026-12-03T09:20:00+08:00",
        },
    ]
    data = tmp_path / "posts.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    run("import", str(data))
    assert yuqing("analyze", database_url=database_url).returncode == 0
    events = run("events", "list")
    assert isinstance(events, list) and len(events) == 1
    shown = run("events", "show", str(events[0]["id"]))
    assert isinstance(shown, dict)
    assert len(shown["post_ids"]) == 2
    assert {"kind": "hospital", "name": "南京儿童医院", "posts": 1} in shown["entities"]
    assert shown["grade_code"] == "I"
    text = yuqing("events", "show", str(events[0]["id"]), database_url=database_url).stdout.decode()
    assert "涉及对象：" in text and "南京儿童医院" in text
