"""Running event metrics (`EventAccumulator`) against a full re-read of the event's posts."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yuqing.analysis.metrics import (
    SHANGHAI,
    EventAccumulator,
    EventMetrics,
    PostFacts,
    compute,
)
from yuqing.analysis.regions import regions_in

START = dt.datetime(2026, 11, 18, 0, 0, tzinfo=dt.UTC)  # 08:00 in Shanghai
TEXTS = (
    "南京某小区发生火灾，消防赶到现场",
    "苏州和杭州网友热议南京火灾",
    "成都一学校食堂被曝食品安全问题",
    "北京、上海两地媒体转发：广州地铁故障",
    "转发微博",
    "重庆暴雨致道路积水，武汉也有降雨",
    "",
    "哈尔滨冰雪节开幕，沈阳游客众多",
)
TIERS = ("central", "provincial", "city", "county", "other", "self_media")
FLAGS = ("casualties", "public_safety", "food_drug_safety", "crime")


def reference(posts: Sequence[PostFacts], now: dt.datetime) -> dict[str, Any]:
    """The metrics as the pipeline measured them before accumulators: every post read again."""
    counted = ("views", "reposts", "comments", "likes", "posts", "collected_reposts", "weibo_reposts")
    daily: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(counted, 0))
    hourly: Counter[str] = Counter()
    hourly_negative: Counter[str] = Counter()
    sites: set[str] = set()
    platforms: Counter[str] = Counter()
    tiers: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    topics: set[int] = set()
    regions: Counter[str] = Counter()
    negative = sensitive = 0
    for post in posts:
        local = post.when.astimezone(SHANGHAI)
        day = daily[local.date().isoformat()]
        day["posts"] += 1
        for name in ("views", "reposts", "comments", "likes"):
            day[name] += getattr(post, name) or 0
        if post.kind == "repost":
            day["collected_reposts"] += 1
        if post.platform == "weibo":
            day["weibo_reposts"] += (post.reposts or 0) + (1 if post.kind == "repost" else 0)
        hour = local.replace(minute=0, second=0, microsecond=0).isoformat()
        hourly[hour] += 1
        if post.negative:
            negative += 1
            hourly_negative[hour] += 1
        if post.flags:
            sensitive += 1
            flags.update(post.flags)
        sites.add(post.site)
        sites.update(post.sighting_sites)
        platforms[post.platform] += 1
        if post.kind == "original" or post.platform not in ("weibo",):
            tiers[post.media_tier] += 1
        topics.update(post.topics)
        regions.update(sorted(regions_in(post.text)))
    for day in daily.values():
        day["reposts"] = max(day["reposts"], day["collected_reposts"])
    busiest = {
        name: max((d[name] for d in daily.values()), default=0)
        for name in ("views", "reposts", "comments", "likes", "weibo_reposts")
    }
    last_hour = sum(1 for p in posts if now - dt.timedelta(hours=1) < p.when <= now)
    an_hour_ago = now - dt.timedelta(hours=1)
    hour_before = sum(1 for p in posts if an_hour_ago - dt.timedelta(hours=1) < p.when <= an_hour_ago)
    incident_posts = sum(1 for p in posts if p.incident)
    incident_reports = sum(1 for p in posts if p.incident and p.kind not in ("repost", "comment", "reply"))
    evidence: dict[str, dict[str, Any]] = {}
    for flag in flags:
        support = [p for p in posts if flag in p.flags]
        mainstream = [p for p in support if p.mainstream]
        shown = sorted(support, key=lambda p: (not p.mainstream, p.when, p.post_id))[:10]
        evidence[flag] = {
            "posts": len(support),
            "mainstream": len(mainstream),
            "post_ids": [p.post_id for p in shown],
            "share": len(support) / max(incident_posts, 1),
        }
    values: dict[str, float] = {
        "posts": len(posts),
        **{name: float(busiest[name]) for name in busiest},
        "sites": len(sites),
        "platforms": len(platforms),
        "regions": len(regions),
        "negative_share": negative / len(posts) if posts else 0.0,
        "sensitive_posts": sensitive,
        "topic_matched": len(topics),
        "media_central": tiers["central"],
        "media_provincial": tiers["provincial"],
        "media_city": tiers["city"],
        "media_provincial_or_central": tiers["central"] + tiers["provincial"],
        "media_city_or_above": tiers["central"] + tiers["provincial"] + tiers["city"],
        "growth": last_hour - hour_before,
        "last_hour": last_hour,
        "hour_before": hour_before,
        "incident_posts": incident_posts,
        "incident_reports": incident_reports,
    }
    series = [
        {"hour": hour, "posts": hourly[hour], "negative": hourly_negative[hour]} for hour in sorted(hourly)
    ]
    return EventMetrics(
        values=values,
        flags=dict(flags),
        daily={k: daily[k] for k in sorted(daily)},
        hourly=series,
        sites=sorted(sites),
        platforms=dict(platforms),
        regions=[name for name, _ in regions.most_common(10)],
        evidence=evidence,
    ).as_dict()


def realistic_posts(count: int, seed: int = 7, days: int = 4) -> list[PostFacts]:
    """Posts of one event over a few days: Weibo originals and reposts (with and without the
    platform's repost counts), news articles seen again on other sites, WeChat and forum posts."""
    rng = random.Random(seed)
    posts = []
    for i in range(1, count + 1):
        when = START + dt.timedelta(seconds=rng.randrange(days * 86400))
        platform = rng.choice(("weibo", "weibo", "weibo", "news", "wechat", "forum"))
        kind = "repost" if platform == "weibo" and rng.random() < 0.5 else "original"
        incident = rng.random() < 0.6
        flags = tuple(f for f in FLAGS if incident and rng.random() < 0.15)
        news = platform == "news"
        posts.append(
            PostFacts(
                post_id=i,
                published_at=None if rng.random() < 0.1 else when,
                fetched_at=when + dt.timedelta(minutes=rng.randrange(30), microseconds=rng.randrange(10**6)),
                platform=platform,
                kind=kind,
                media_tier=rng.choice(TIERS)
                if news or platform == "wechat"
                else rng.choice(("other", "city")),
                url=f"https://{rng.choice(('news.sina.com.cn', 'www.people.com.cn', 'js.news.cn'))}/{i}.html"
                if news
                else (f"https://weibo.com/{i}" if platform == "weibo" and rng.random() < 0.5 else None),
                source_id=rng.randrange(1, 6),
                text=rng.choice(TEXTS),
                negative=rng.random() < 0.4,
                flags=flags,
                topics=tuple(rng.sample((1, 2, 3, 4), rng.randrange(3))),
                views=rng.choice((None, rng.randrange(5000))),
                reposts=None if kind == "repost" or rng.random() < 0.4 else rng.randrange(300),
                comments=rng.choice((None, rng.randrange(100))),
                likes=rng.choice((None, rng.randrange(1000))),
                sighting_sites=tuple(rng.sample(("sohu.com", "163.com", "ifeng.com"), rng.randrange(3)))
                if news
                else (),
                incident=incident,
                casualties="casualties" in flags,
                public_safety="public_safety" in flags,
                author_verified=rng.choice((None, True, False)),
            )
        )
    return posts


def accumulate(posts: Sequence[PostFacts]) -> EventAccumulator:
    acc = EventAccumulator()
    for post in posts:
        acc.add(post)
    return acc


def newest(posts: Sequence[PostFacts]) -> dt.datetime:
    return max(p.when for p in posts)


def whole_minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def test_running_metrics_equal_a_full_reread_of_the_posts() -> None:
    posts = realistic_posts(400)
    acc = accumulate(posts)
    last = whole_minute(newest(posts))
    for now in (
        last,
        last - dt.timedelta(minutes=59),  # up to an hour before the newest post
        last + dt.timedelta(minutes=37),
        last + dt.timedelta(hours=1, minutes=5),
        last + dt.timedelta(days=2),
    ):
        assert acc.result(now).as_dict() == reference(posts, now), now
        assert compute(posts, now).as_dict() == reference(posts, now)
    measured = acc.result(last).as_dict()
    assert measured["last_hour"] > 0 and measured["hour_before"] > 0  # the growth counts were exercised
    assert len(measured["daily"]) >= 4 and len(measured["region_list"]) == 10
    assert set(measured["evidence"]) == set(FLAGS)


def test_growth_counts_read_now_rounded_up_to_the_minute() -> None:
    posts = realistic_posts(300, seed=3, days=1)
    acc = accumulate(posts)
    now = newest(posts) + dt.timedelta(seconds=17, microseconds=5)
    rounded = whole_minute(now) + dt.timedelta(minutes=1)
    got = acc.result(now).values
    expected = reference(posts, rounded)
    assert (got["last_hour"], got["hour_before"]) == (expected["last_hour"], expected["hour_before"])


def test_state_stored_mid_stream_continues_as_if_never_stopped() -> None:
    posts = realistic_posts(500, seed=11)
    first, second = posts[:230], posts[230:]
    stored = json.loads(json.dumps(accumulate(first).to_json(), ensure_ascii=False, sort_keys=True))
    resumed = EventAccumulator.from_json(stored)  # keys reordered, as a JSONB column would
    for post in second:
        resumed.add(post)
    resumed.add_sites(["late.example.cn"])
    never_stopped = accumulate(posts)
    never_stopped.add_sites(["late.example.cn"])
    now = whole_minute(newest(posts))
    assert resumed.result(now).as_dict() == never_stopped.result(now).as_dict()
    assert resumed.to_json() == never_stopped.to_json()
    assert "late.example.cn" in resumed.result(now).sites


def test_a_state_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        EventAccumulator.from_json({"version": 99})


def post(i: int, minutes: int, **kwargs: Any) -> PostFacts:
    base: dict[str, Any] = {
        "post_id": i,
        "published_at": START + dt.timedelta(minutes=minutes),
        "fetched_at": START,
        "platform": "weibo",
        "kind": "original",
        "media_tier": "other",
        "url": None,
        "source_id": 1,
        "text": "某地发生事故",
        "negative": True,
        "incident": True,
    }
    base.update(kwargs)
    return PostFacts(**base)


def test_flag_evidence_counts_posts_and_names_mainstream_ones_first() -> None:
    posts = [post(i, minutes=i, flags=("casualties",)) for i in range(1, 13)]
    posts += [
        post(20, minutes=50, flags=("casualties",), platform="news", media_tier="provincial"),
        post(
            21, minutes=40, flags=("casualties", "public_safety"), author_verified=True, author_kind="media"
        ),
        post(22, minutes=0, flags=("public_safety",), author_verified=False, media_tier="county"),
        post(23, minutes=5, incident=False),
        post(24, minutes=6),
        # verified as an individual (a 大V), or as no one knows what: not a mainstream report
        post(25, minutes=1, flags=("casualties",), author_verified=True, author_kind="individual"),
        post(26, minutes=2, flags=("casualties",), author_verified=True),
    ]
    metrics = accumulate(posts).result(START + dt.timedelta(hours=2))
    casualties = metrics.evidence["casualties"]
    assert casualties["posts"] == 16 and casualties["mainstream"] == 2
    # the verified medium (earlier) and the provincial outlet first, then the earliest others
    assert casualties["post_ids"] == [21, 20, 1, 25, 2, 26, 3, 4, 5, 6]
    assert casualties["share"] == pytest.approx(16 / 18)  # of the 18 posts that report an incident
    assert metrics.evidence["public_safety"] == {
        "posts": 2,
        "mainstream": 1,
        "post_ids": [21, 22],
        "share": 2 / 18,
    }
    assert metrics.flags == {"casualties": 16, "public_safety": 2}
    assert metrics.values["incident_posts"] == 18 and metrics.values["sensitive_posts"] == 17
    shown = metrics.as_dict()
    assert shown["evidence"]["casualties"]["post_ids"][:2] == [21, 20] and shown["incident_posts"] == 18


def test_near_copies_of_a_post_are_one_report_of_a_flag_unless_a_mainstream_source_copies_it() -> None:
    """Three accounts posting one rumoured list (「…这是在服毒吗？」, once with 「转」 added) are
    one report of a threat to public safety, not three."""
    posts = [
        post(1, minutes=0, flags=("public_safety",)),
        post(2, minutes=5, flags=("public_safety",), copy_of=1),
        post(3, minutes=9, flags=("public_safety",), copy_of=1),
        post(4, minutes=12, flags=("public_safety",), copy_of=1, author_verified=True, author_kind="media"),
    ]
    evidence = accumulate(posts[:3]).result(START + dt.timedelta(hours=1)).evidence["public_safety"]
    assert (evidence["posts"], evidence["post_ids"]) == (1, [1])
    # nor against it: among two other incident posts, the one report is a third of the reports
    others = [post(8, minutes=1), post(9, minutes=2)]
    evidence = (
        accumulate([*posts[:3], *others]).result(START + dt.timedelta(hours=1)).evidence["public_safety"]
    )
    assert evidence["share"] == 1 / 3
    state = json.loads(json.dumps(accumulate([*posts[:3], *others]).to_json()))
    restored_share = EventAccumulator.from_json(state).result(START + dt.timedelta(hours=1))
    assert restored_share.evidence["public_safety"]["share"] == 1 / 3
    state["evidence"][0] = state["evidence"][0][:5]  # written before the copies were kept
    assert EventAccumulator.from_json(state).result(START).evidence["public_safety"]["share"] == 1 / 5
    # a medium's copy is a mainstream report of its own
    evidence = accumulate(posts).result(START + dt.timedelta(hours=1)).evidence["public_safety"]
    assert (evidence["posts"], evidence["mainstream"], evidence["post_ids"]) == (2, 1, [4, 1])
    # the supporting posts are kept with the state: a copy arriving after a restart is known
    restored = EventAccumulator.from_json(json.loads(json.dumps(accumulate(posts[:1]).to_json())))
    restored.add(posts[1])
    assert restored.result(START + dt.timedelta(hours=1)).evidence["public_safety"]["posts"] == 1
    # a copy of a post elsewhere (or of one that stated no threat) is a report of its own
    elsewhere = [post(5, minutes=0), post(6, minutes=3, flags=("public_safety",), copy_of=5)]
    elsewhere += [post(7, minutes=4, flags=("public_safety",), copy_of=999)]
    assert accumulate(elsewhere).result(START + dt.timedelta(hours=1)).evidence["public_safety"]["posts"] == 2


def test_a_large_event_keeps_a_small_state() -> None:
    acc = EventAccumulator()
    for i in range(100_000):
        acc.add(
            post(
                i,
                minutes=0,
                published_at=START + dt.timedelta(seconds=i * 86399 // 100_000),
                text=TEXTS[i % len(TEXTS)],
                flags=("casualties",) if i % 3 == 0 else (),
                url=f"https://weibo.com/u/{i}",
                kind="repost" if i % 2 else "original",
            )
        )
    assert len(acc.daily) <= 2 and len(acc.hourly) <= 24  # 08:00 to 07:59 the next day in Shanghai
    assert len(acc.recent) <= 240 and len(acc.evidence["casualties"].shown) == 10
    assert len(acc.regions) <= 34 and len(acc.sites) == 1
    assert len(json.dumps(acc.to_json())) < 20_000
    metrics = acc.result(START + dt.timedelta(days=1))
    last_hour = sum(1 for i in range(100_000) if i * 86399 // 100_000 > 23 * 3600)
    assert metrics.values["posts"] == 100_000 and metrics.values["last_hour"] == last_hour
    assert metrics.evidence["casualties"]["posts"] == 33_334


@st.composite
def post_lists(draw: st.DrawFn) -> list[PostFacts]:
    count = draw(st.integers(0, 40))
    return [
        PostFacts(
            post_id=i,
            published_at=draw(
                st.none() | st.just(START + dt.timedelta(seconds=draw(st.integers(0, 3 * 86400))))
            ),
            fetched_at=START + dt.timedelta(microseconds=draw(st.integers(0, 3 * 86400 * 10**6))),
            platform=draw(st.sampled_from(("weibo", "news", "wechat"))),
            kind=draw(st.sampled_from(("original", "repost", "comment"))),
            media_tier=draw(st.sampled_from(TIERS)),
            url=draw(st.none() | st.just("https://www.people.com.cn/a")),
            source_id=draw(st.integers(1, 3)),
            text=draw(st.sampled_from(TEXTS)),
            negative=draw(st.booleans()),
            flags=tuple(draw(st.sets(st.sampled_from(FLAGS), max_size=2))),
            topics=tuple(draw(st.sets(st.integers(1, 3), max_size=2))),
            views=draw(st.none() | st.integers(0, 10**6)),
            reposts=draw(st.none() | st.integers(0, 10**4)),
            sighting_sites=tuple(draw(st.sets(st.sampled_from(("163.com", "qq.com")), max_size=2))),
            incident=draw(st.booleans()),
            author_verified=draw(st.none() | st.booleans()),
        )
        for i in range(count)
    ]


@settings(max_examples=60, deadline=None)
@given(posts=post_lists(), split=st.integers(0, 40), offset=st.integers(-59, 3 * 60))
def test_any_posts_stored_at_any_point_measure_as_a_full_reread(
    posts: list[PostFacts], split: int, offset: int
) -> None:
    acc = EventAccumulator.from_json(json.loads(json.dumps(accumulate(posts[:split]).to_json())))
    for p in posts[split:]:
        acc.add(p)
    base = whole_minute(newest(posts)) if posts else START
    now = base + dt.timedelta(minutes=offset)
    assert acc.result(now).as_dict() == reference(posts, now)


def test_a_platform_that_is_one_site_counts_once_whatever_host_its_links_have() -> None:
    """「两个以上网站」: the same story on weibo.com and m.weibo.cn is on one site, 微博; news sites
    are told apart by their links' hosts, and a news source without links is a site of its own."""
    posts = [
        post(1, minutes=0, url="https://weibo.com/1234/AbCd"),
        post(2, minutes=1, url="https://m.weibo.cn/status/AbCd"),
        post(3, minutes=2, platform="zhihu", url="https://www.zhihu.com/question/1"),
        post(4, minutes=3, platform="news", url="https://news.sina.com.cn/a.html"),
        post(5, minutes=4, platform="news", url="https://www.163.com/b.html"),
        post(6, minutes=5, platform="news", source_id=7),
        # a file import's article marked 微博 with a news site's link is on that site
        post(7, minutes=6, url="https://news.example.cn/a.html"),
    ]
    assert [p.site for p in posts] == [
        "weibo",
        "weibo",
        "zhihu",
        "news.sina.com.cn",
        "163.com",
        "news:7",
        "news.example.cn",
    ]
    assert accumulate(posts).result(START + dt.timedelta(hours=1)).values["sites"] == 6
