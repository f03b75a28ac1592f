"""Hot lists as a spread signal (platform sources issue, item 3): every reading of a list keeps
each entry's place, an event's best place is the `hot_list_rank` metric the profile grades on, a
rise on a list read again regrades the event with no new post, and the event page shows the
rank history."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from tests.analysis.test_pipeline import setup_topics
from tests.conftest import FakeClock
from tests.web.test_pages import build_world
from yuqing.analysis import queries
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.ingest import service
from yuqing.ingest.models import HotListRank
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

REPORT = "南京鼓楼医院门诊大楼突发停电，数百名患者滞留候诊，医院称正在抢修，家属投诉无人解释。"
HOT = {
    "id": "hot-1",
    "url": "https://s.weibo.com/weibo?q=%23南京鼓楼医院停电%23",
    "text": "南京鼓楼医院停电 患者投诉无人解释",
    "hot_list": "微博热搜",
}


def load(rt: Runtime, rows: list[dict[str, object]], name: str) -> None:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    service.import_data(
        rt, PostWriter(rt.sessions, rt.settings, rt.clock), data, origin=name, platform="weibo"
    )


def only_event(rt: Runtime) -> dict[str, object]:
    [event] = queries.list_events(rt)
    return event


def test_a_hot_list_entry_grades_its_event_and_a_rise_regrades_it(rt: Runtime) -> None:
    setup_topics(rt)
    pipeline = AnalysisPipeline(rt)
    report = {
        "id": "n1",
        "url": "https://news.example.cn/2026/11/20/a1.html",
        "text": REPORT,
        "published_at": "2026-11-20T08:00:00+08:00",
    }
    load(rt, [report], "news.jsonl")
    pipeline.run()
    assert only_event(rt)["grade"] == "一般"

    load(rt, [{**HOT, "hot_rank": 30, "published_at": "2026-11-20T08:20:00+08:00"}], "hot.jsonl")
    pipeline.run()
    event = only_event(rt)
    assert event["grade"] == "较大" and event["posts"] == 2
    assert event["metrics"]["hot_list_rank"] == 30
    assert "热榜最高排名 30（不超过 50）" in [r["text"] for r in event["reasons"]]

    # The list is read again: the same entry, now fifth. No new post, a new place.
    load(rt, [{**HOT, "hot_rank": 5, "published_at": "2026-11-20T08:20:00+08:00"}], "hot.jsonl")
    pipeline.run()
    event = only_event(rt)
    assert event["grade"] == "重大" and event["posts"] == 2
    assert "热榜最高排名 5（不超过 10）" in [r["text"] for r in event["reasons"]]
    with rt.sessions() as session:
        readings = session.scalars(select(HotListRank).order_by(HotListRank.id))
        assert [(r.list_name, r.rank) for r in readings] == [("微博热搜", 30), ("微博热搜", 5)]
    history = queries.hot_list_history(rt, int(str(event["id"])))
    assert [(h["list"], h["rank"]) for h in history] == [("微博热搜", 30), ("微博热搜", 5)]


def test_an_event_never_on_a_hot_list_has_no_rank_and_no_condition_on_it_holds(rt: Runtime) -> None:
    setup_topics(rt)
    load(rt, [{"id": "n1", "text": REPORT, "published_at": "2026-11-20T08:00:00+08:00"}], "news.jsonl")
    AnalysisPipeline(rt).run()
    event = only_event(rt)
    assert "hot_list_rank" not in event["metrics"] and event["grade"] == "一般"
    assert queries.hot_list_history(rt, int(str(event["id"]))) == []


def test_the_event_page_shows_the_rank_history(rt: Runtime, clock: FakeClock) -> None:
    world = build_world(rt, clock)
    entry = {
        "id": "hot-2",
        "url": "https://s.weibo.com/weibo?q=%23鼓楼医院产妇死亡%23",
        "text": "南京鼓楼医院产妇手术中死亡 家属讨说法",
        "hot_list": "微博热搜",
        "published_at": "2026-11-20T08:30:00+08:00",
    }
    load(rt, [{**entry, "hot_rank": 3}], "hot.jsonl")
    AnalysisPipeline(rt).run()
    clock.advance(seconds=75 * 60)
    load(rt, [{**entry, "hot_rank": 1, "hot_heat": 2_345_678}], "hot.jsonl")
    AnalysisPipeline(rt).run()
    try:
        page = world.login("office").get(f"/events/{world.event_id}").text
    finally:
        for client in world.clients:
            client.close()
    assert "热榜排名记录" in page and "最高排名：第 1 名" in page
    assert "微博热搜：最高第 1 名，在榜 1 小时 15 分" in page and "上榜读取 2 次" in page
    rows = re.findall(r"<tr><td>([^<]+)</td><td>微博热搜</td><td>第 (\d+) 名</td><td>([^<]+)</td>", page)
    assert [(rank, heat) for _, rank, heat in rows] == [("3", "—"), ("1", "2,345,678")]
