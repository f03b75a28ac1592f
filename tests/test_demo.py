"""The demo tells the truth: its topics match what the bureaus would want to see, its history is
stored in publishing order ending just before the demo starts, and the dashboard's 72-hour chart
shows the posts the replay feeds, at the times the replay presents them."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import FakeClock
from yuqing.analysis import topics
from yuqing.analysis.matcher import TopicMatcher
from yuqing.analysis.models import Event, PostAnalysis
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.demo import DEMO_GROUPS, DEMO_TOPICS, HISTORY_GAP, history_rows, load_demo
from yuqing.ingest.models import Post
from yuqing.ingest.normalise import to_simplified
from yuqing.replay import ReplayWorker, ced_window
from yuqing.runtime import Runtime
from yuqing.web.pages.dashboard import SeriesCache, dashboard_data

FIXTURE = Path(__file__).parent / "fixtures" / "ced_sample.jsonl.gz"
FOOD, SCHOOL, HEALTH = "食品安全舆情", "校园安全舆情", "医疗卫生舆情"

# Originals of the CED file, quoted as posted (traditional characters simplified on import).
NINGBO = (
    "人间惨剧：今天下午约14点，宁波妇儿医院，一妇女携带一婴儿在住院楼跳楼，后抢救无效死亡。具体情况有关部门"
    "正在调查。据现场网友称妇女因小孩病重，加上负担不起昂贵的医疗费，带着刚满月的宝宝从12楼跳楼身亡。"
)
FISH = (
    "【太活跃的鱼千万别买】去买鱼,结果看到摊贩往水盆内加入一种白色粉未,迅速用手搅拌,一会功夫白色粉未溶解,"
    "将半死不活的鱼虾倒入其中,一会儿就活蹦乱跳开.这是一种能够致癌的催化剂，俗称鱼浮灵，也对智力有影响。"
)
SCHOOL_FIGHT = (
    "【上海大学一学院男生被室友捅伤致死】12日，上海大学巴士汽车学院内发生血案，警方接报赶往现场将一持刀捅伤"
    "室友的21岁男生汤某控制，20岁伤者聂某送医抢救无效死亡。汤某被刑拘。案发寝室内，两男生非同专业。"
)
COMPUTER_VIRUS = (
    "公安网监 9:50紧急通告，请大家要速传！如果你收到《2012年度工资调整方案》,在任何环境下请不要打开它。"
    "是一个新的病毒，已经确认了它的危险性， 而杀毒 软件不能清除它。"
)
CELEBRITY = (
    "北京时间3月12日消息，在83版《西游记》中扮演孙悟空的演员六小龄童（章金莱），3月12日早上八点半病逝于"
    "浙江绍兴慈济医院，享年53岁。"
)
HOAX = "帮忙转发一下，一位叫徐敬的女孩，21岁，请速回水城县人民医院，妈妈伤的很严重，想见她最后一面。"
JOURNALIST = "【调查地沟油的记者李翔，死了】身中10余刀，惨死。他为全国十多亿人民的食品安全努力过。"
NOSTALGIA = "当年高考完，老师说的话现在还记得＂以后你们就会知道，学校的生活就是天堂＂，那时打死也不理解。"
RECIPE = "【冰镇咕噜肉】瘦肉切厚块，用蛋清，淀粉腌制。沾淀粉炸。做法：锅底留点油，加汁加肉。"


def topics_of(text: str) -> set[str]:
    groups = {name: words for name, (_kind, words) in DEMO_GROUPS.items()}
    matcher = TopicMatcher({name: (rule, groups) for name, rule, _unit in DEMO_TOPICS})
    return {match.topic_id for match in matcher.match(to_simplified(text))}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("某小学食堂发生食物中毒，20余名学生呕吐腹泻被送医", {FOOD, SCHOOL}),
        ("市民反映超市出售的过期奶粉仍在货架上", {FOOD}),
        (FISH, {FOOD}),
        (NINGBO, {HEALTH}),
        ("南京鼓楼医院发生医疗事故，一名产妇在手术中死亡，家属在医院门口拉横幅", {HEALTH}),
        ("恭喜镇江的朋友们，昨晚在镇江市区医院确诊了一名H7N9患者，现已隔离", {HEALTH}),
        (SCHOOL_FIGHT, {SCHOOL}),
        # What only looks like an incident of the three bureaus.
        (COMPUTER_VIRUS, set()),  # 病毒 is not food; 毒 alone is no food word
        ("病毒", set()),
        ("流感病毒进入高发期，医生提醒注意休息", set()),
        (CELEBRITY, set()),  # a named person's death from illness
        (HOAX, set()),
        (JOURNALIST, set()),  # a murder story, not a food-safety case
        (NOSTALGIA, set()),  # 打死也不理解
        (RECIPE, set()),
        ("市第一医院招聘护士若干名，手术室、急诊科优先，待遇从优", set()),
        ("今日星座运势：处女座学业受阻，老师批评，小心食物中毒", set()),
        ("新剧《学校2013》剧情曝光：学生坠楼之谜", set()),
        ("文章道歉与高晓松老师的道歉书惊人相似，文章同学，你抄作业呢？", set()),
    ],
)
def test_demo_topics_match_what_the_bureaus_would_want(text: str, expected: set[str]) -> None:
    assert topics_of(text) == expected


def test_every_demo_word_group_is_used_and_every_topic_names_its_unit() -> None:
    rules = " ".join(rule for _name, rule, _unit in DEMO_TOPICS)
    assert all(f"@{name}" in rules for name in DEMO_GROUPS)
    assert [unit for _n, _r, unit in DEMO_TOPICS] == ["市卫生健康委员会", "市教育局", "市市场监督管理局"]


# ---- the history --------------------------------------------------------------------------------


def fixture_rows() -> list[dict[str, Any]]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def test_history_rows_come_in_publishing_order_ending_at_the_given_time() -> None:
    newest = dt.datetime(2026, 11, 20, 0, 55, tzinfo=dt.UTC)
    raw, left_out = history_rows(FIXTURE.read_bytes(), None, newest)
    rows = [json.loads(line) for line in raw.splitlines()]
    original = fixture_rows()
    assert len(rows) == len(original) and left_out == 0  # 220 rows: a tenth of a percent is none
    times = [dt.datetime.fromisoformat(r["published_at"]) for r in rows]
    assert times == sorted(times) and times[-1] == newest
    # One shift for all: the intervals between posts are the real ones, the real time is kept.
    real = [dt.datetime.fromisoformat(r["original_published_at"]) for r in rows]
    assert {t - r for t, r in zip(times, real, strict=True)} == {times[-1] - real[-1]}
    assert max(real) == max(dt.datetime.fromisoformat(r["published_at"]) for r in original)


def test_stray_late_reposts_do_not_push_the_history_back_by_months() -> None:
    """The CED file's history ends in April 2014 but for a few reposts up to December 2015. The
    newest tenth of a percent is left out, so the bulk ends just before the demo starts."""
    start = dt.datetime(2013, 1, 1, tzinfo=dt.UTC)
    lines = [
        {"id": str(n), "text": f"帖子{n}", "published_at": (start + dt.timedelta(minutes=n)).isoformat()}
        for n in range(3000)
    ]
    late = (f"2015-0{n + 1}-01T00:00:00+00:00" for n in range(3))
    lines += [{"id": f"late{n}", "text": "转发", "published_at": at} for n, at in enumerate(late)]
    raw = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in lines)
    newest = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    out, left_out = history_rows(raw, None, newest)
    rows = [json.loads(line) for line in out.splitlines()]
    assert left_out == 3 and len(rows) == 3000
    assert rows[-1]["id"] == "2999" and dt.datetime.fromisoformat(rows[-1]["published_at"]) == newest


def test_the_demo_history_is_stored_as_collected_and_events_keep_their_posts_times(
    rt: Runtime, clock: FakeClock
) -> None:
    load_demo(rt, FIXTURE, echo=lambda _message: None)
    with rt.sessions() as session:
        posts = list(session.execute(select(Post.published_at, Post.extra).order_by(Post.id)))
    times = [published for published, _extra in posts]
    assert times == sorted(times) and times[-1] == clock() - HISTORY_GAP
    assert all(extra and extra["original_published_at"].startswith("201") for _p, extra in posts)

    # a broad topic, so that the sample forms events (untopiced posts form none)
    topics.add_topic(rt, "全部", "的 | 了 | 是", None)
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        earliest, latest = func.min(Post.published_at), func.max(Post.published_at)
        spans = session.execute(
            select(Event.first_seen, Event.last_seen, earliest, latest)
            .join(PostAnalysis, PostAnalysis.event_id == Event.id)
            .join(Post, Post.id == PostAnalysis.post_id)
            .group_by(Event.id)
        ).all()
    assert spans
    assert all((first, last) == (earliest, latest) for first, last, earliest, latest in spans)


# ---- the replay on the dashboard ----------------------------------------------------------------


def replay_file(tmp_path: Path) -> Path:
    """The fixture's cascades, the first one opened by a real CED hospital report instead."""
    rows = fixture_rows()
    first = rows[0]["cascade"]
    for row in rows:
        if row["id"] == first:
            row["text"] = NINGBO
    path = tmp_path / "window.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_dashboard_chart_shows_the_replayed_posts_at_the_replay_clock(
    rt: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    load_demo(rt, FIXTURE, echo=lambda _message: None)
    pipeline = AnalysisPipeline(rt)
    pipeline.run()
    cache = SeriesCache()
    assert dashboard_data(rt, cache)["series"]["total"] == 0  # nothing monitored in the history

    window = ced_window(replay_file(tmp_path), skip=0, cascades=2)
    assert window[0]["text"] == NINGBO  # the cascade that matches a demo topic comes first
    worker = ReplayWorker(rt, window, speed=3600, stagger=600, clock=clock, interval=0.01)
    start = clock()
    worker.work()
    for _ in range(12):
        clock.advance(minutes=1)
        worker.work()
    pipeline.run()
    with rt.sessions() as session:
        fed = list(
            session.execute(
                select(Post.published_at, Post.extra, PostAnalysis.event_id)
                .join(PostAnalysis, PostAnalysis.post_id == Post.id)
                .where(Post.external_id.like(f"%{worker.tag}"))
            )
        )
        monitored = session.scalars(select(Event.id).where(Event.topic_id.is_not(None))).all()
    # The replay window here repeats the history's texts, so a few are stored as sightings only.
    assert worker.finished and 0 < len(fed) <= worker.fed
    # Presented as arriving now, the real time kept with the post.
    assert all(start <= published <= clock() for published, _e, _ev in fed)
    assert all(extra["original_published_at"].startswith("201") for _p, extra, _ev in fed)

    series = dashboard_data(rt, cache)["series"]
    in_topics = sum(1 for _p, _x, event_id in fed if event_id in monitored)
    assert in_topics > 0 and series["total"] == in_topics
    local = clock().astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert series["hours"][-1] == local.strftime("%m-%d %H:00")
    assert sum(series["posts"][-2:]) == in_topics  # in the hours the replay fed them
