"""Event metrics: how far an event has spread, computed from its posts.

Pure functions over plain post records, so the pipeline, the benchmarks and the tests share them.
Engagement is counted per day in Asia/Shanghai, and the grade conditions read the busiest day, as
the plan counts "within one day". An original post's engagement figures (reposts, comments,
likes, views as the platform reported them) are set against the reposts we collected ourselves,
and the larger is taken, so neither source of evidence is counted twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from yuqing.analysis.regions import regions_in

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Metric name -> the label users read in grade reasons.
METRIC_LABELS: dict[str, str] = {
    "posts": "信息量",
    "views": "单日阅读量",
    "reposts": "单日转发量",
    "comments": "单日评论量",
    "likes": "单日点赞量",
    "weibo_reposts": "微博单日转发量",
    "sites": "站点数",
    "platforms": "平台数",
    "regions": "涉及地域数",
    "negative_share": "负面占比",
    "sensitive_posts": "敏感信息数",
    "topic_matched": "命中专题数",
    "media_central": "央级媒体报道数",
    "media_provincial": "省级媒体报道数",
    "media_city": "市级媒体报道数",
    "media_provincial_or_central": "省级及以上媒体报道数",
    "media_city_or_above": "市级及以上媒体报道数",
    "growth": "近一小时增长（条）",
}
FLAG_LABELS: dict[str, str] = {
    "casualties": "人员伤亡",
    "public_safety": "公共安全",
    "food_drug_safety": "食品药品安全",
    "corruption": "贪腐",
    "mass_incident": "群体性事件",
    "medical_dispute": "医疗纠纷",
    "education": "教育问题",
    "official_misconduct": "干部作风",
    "public_health": "公共卫生",
    "environment": "环境污染",
    "crime": "刑事案件",
}
_ENGAGEMENT = ("views", "reposts", "comments", "likes")


@dataclass(frozen=True)
class PostFacts:
    """What metrics need to know of one post of an event."""

    post_id: int
    published_at: dt.datetime | None
    fetched_at: dt.datetime
    platform: str
    kind: str
    media_tier: str
    url: str | None
    source_id: int
    text: str
    negative: bool
    flags: tuple[str, ...] = ()
    topics: tuple[int, ...] = ()
    views: int | None = None
    reposts: int | None = None
    comments: int | None = None
    likes: int | None = None
    sighting_sites: tuple[str, ...] = ()

    @property
    def when(self) -> dt.datetime:
        return self.published_at or self.fetched_at

    @property
    def site(self) -> str:
        if self.url:
            host = urlsplit(self.url).hostname
            if host:
                return host.removeprefix("www.")
        # Without a URL, a Weibo or WeChat post is on its platform; other sources are sites of their own.
        if self.platform in ("news", "forum", "other"):
            return f"{self.platform}:{self.source_id}"
        return self.platform


@dataclass
class EventMetrics:
    values: dict[str, float]
    flags: dict[str, int]
    daily: dict[str, dict[str, int]] = field(default_factory=dict)
    hourly: list[dict[str, Any]] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    platforms: dict[str, int] = field(default_factory=dict)
    regions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.values.items()},
            "flags": self.flags,
            "daily": self.daily,
            "hourly": self.hourly,
            "site_list": self.sites,
            "platform_counts": self.platforms,
            "region_list": self.regions,
        }


def compute(posts: Sequence[PostFacts], now: dt.datetime) -> EventMetrics:
    """The metrics of an event made of these posts, as of `now`."""
    counted = (*_ENGAGEMENT, "posts", "collected_reposts", "weibo_reposts")
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
        for name in _ENGAGEMENT:
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
        regions.update(regions_in(post.text))
    for day in daily.values():
        day["reposts"] = max(day["reposts"], day["collected_reposts"])
    busiest = {
        name: max((d[name] for d in daily.values()), default=0) for name in (*_ENGAGEMENT, "weibo_reposts")
    }
    last_hour = sum(1 for p in posts if now - dt.timedelta(hours=1) < p.when <= now)
    an_hour_ago = now - dt.timedelta(hours=1)
    hour_before = sum(1 for p in posts if an_hour_ago - dt.timedelta(hours=1) < p.when <= an_hour_ago)
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
    )


def facts_from_rows(rows: Iterable[dict[str, Any]]) -> list[PostFacts]:
    return [PostFacts(**row) for row in rows]
