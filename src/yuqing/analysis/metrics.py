"""Event metrics: how far an event has spread, and the evidence for the flags it carries.

An `EventAccumulator` is an event's running state: posts are added as they join the event, each at
a constant cost, and `result(now)` measures the event without reading its posts again. The state
stays small whatever the event's size (a counter per day, hour, site, platform, tier and region,
at most ten post ids per flag, and per-minute counts of the last three hours), and `to_json` /
`from_json` store it between runs. `compute(posts, now)` measures a list of posts the same way.

Engagement is counted per day in Asia/Shanghai, and the grade conditions read the busiest day, as
the plan counts "within one day". An original post's engagement figures (reposts, comments,
likes, views as the platform reported them) are set against the reposts we collected ourselves,
and the larger is taken, so neither source of evidence is counted twice.

A flag (casualties, a threat to public safety, …) is evidence, not a word count: per flag, the
posts that support it, how many of them come from a mainstream source (central, provincial or
city media, or a verified account), their share of the event's posts that report an incident, and
up to ten of them to show (mainstream first, then the earliest). A near-copy of a post that
supports the flag in this event (`PostFacts.copy_of`: the same list posted again, with 「转」
added) is the same report, not a second one, unless a mainstream source published it: three
copies of one rumoured list had made an event 特别重大 on "3 posts" of public-safety evidence. A
copy of a post elsewhere, or of one that did not state what the copy states, is a report of its
own. The supporting posts' ids are kept for this (up to `_SUPPORT_IDS` per flag; a state
written before them knows none, so copies of its earlier posts still count). Such a copy leaves
the flag's share too: the share is of the event's incident posts less the copies the flag passed
over, so the same report posted again neither counts for the flag nor against it (counted against
it, 7 reports of deaths among 37 incident posts read 19% and the flag failed its 30%).

The growth counts (`last_hour`, `hour_before`) are kept per minute: a post is counted in the
whole minute at or after its time, and `result(now)` reads `now` rounded up to the whole minute.
So they equal a count of the posts in `(now - 1 h, now]` and in the hour before exactly when `now`
is a whole minute; otherwise they are those of the next whole minute (a post less than a minute
from an edge of the two hours may fall in the neighbouring hour). Minutes more than three hours
before the newest post are dropped: the counts are exact for any `now` later than an hour before
the newest post, which is how the pipeline reads them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from yuqing.analysis.incidents import REPLY_KINDS
from yuqing.analysis.regions import regions_in
from yuqing.ingest.models import OFFICIAL_AUTHOR_KINDS

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
    "incident_posts": "报道事件的信息数",
    "incident_reports": "报道事件的原帖数",
    # present only for an event with a post on a hot list (a condition on it fails otherwise)
    "hot_list_rank": "热榜最高排名",
}
OPTIONAL_METRICS = frozenset({"hot_list_rank"})
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
MAINSTREAM_TIERS = frozenset({"central", "provincial", "city"})
EVIDENCE_POST_IDS = 10  # supporting posts named per flag
_ENGAGEMENT = ("views", "reposts", "comments", "likes")
# A day's counters, in this order in the stored state and in `EventMetrics.daily`.
_DAILY = (*_ENGAGEMENT, "posts", "collected_reposts", "weibo_reposts")
_STATE_VERSION = 1
# Platforms whose posts come from many sites (news sites, forums, video sites, anything else): a
# post's site is its link's host. Every other platform (微博, 微信, 知乎, 抖音…) is one site.
MULTI_SITE_PLATFORMS = frozenset({"news", "forum", "video", "other"})
# The hosts of such a platform's links (a link elsewhere, as a file import may give a news article
# marked 微博, is the site its host says).
PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    "weibo": ("weibo.com", "weibo.cn", "t.cn"),
    "wechat": ("weixin.qq.com", "wechat.com"),
    "zhihu": ("zhihu.com",),
    "bilibili": ("bilibili.com", "b23.tv"),
    "douyin": ("douyin.com", "iesdouyin.com"),
    "xiaohongshu": ("xiaohongshu.com", "xhslink.com"),
    "kuaishou": ("kuaishou.com", "gifshow.com"),
    "tieba": ("tieba.baidu.com",),
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MINUTE_US = 60_000_000
_RECENT_MINUTES = 180  # per-minute counts kept behind the newest post
_PRUNE_AT = _RECENT_MINUTES + 60  # dropped in bulk, so a post costs O(1) amortised


@dataclass(frozen=True)
class PostFacts:
    """What metrics need to know of one post of an event.

    `flags` are the flags this post supports (the caller puts in only those it trusts);
    `incident` says the post reports an incident, `author_verified` whether its account is
    verified (None: not known) and `author_kind` as whom (`ingest.models.AuthorKind`)."""

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
    incident: bool = False
    casualties: bool = False
    public_safety: bool = False
    author_verified: bool | None = None
    author_kind: str | None = None
    # the earlier post this one nearly copies (`ingest` near-duplicate detection), if any
    copy_of: int | None = None
    # the post rebuts the occurrence (辟谣: 「经查证…未发生此事」, `incidents.rebuts`)
    rebuts: bool = False
    # ...in the words of an official account it quotes (「@永康发布：经查证…」,
    # `incidents.relays_official_rebuttal`): counted as an official rebuttal
    official_rebuttal: bool = False

    @property
    def when(self) -> dt.datetime:
        return self.published_at or self.fetched_at

    @property
    def site(self) -> str:
        """Where the post was published, for the plan's 「两个以上网站」: a platform that is one
        site (微博, 微信, 知乎, 抖音…) whatever host its link has (weibo.com, m.weibo.cn), else the
        link's host, else the source."""
        host = (urlsplit(self.url).hostname or "") if self.url else ""
        if self.platform not in MULTI_SITE_PLATFORMS and (
            not host or host.endswith(PLATFORM_HOSTS.get(self.platform, (self.platform,)))
        ):
            return self.platform
        if host:
            return host.removeprefix("www.")
        # without a link, a source of news, forum or video posts is a site of its own
        return f"{self.platform}:{self.source_id}"

    @property
    def mainstream(self) -> bool:
        """From central, provincial or city media, or an account verified as a government body or
        a medium. A verified individual, brand or group is not, nor an account said to be verified
        as no one knows what (most verified Weibo accounts are individuals): an outlet without a
        kind is made mainstream by its source's media tier."""
        if self.media_tier in MAINSTREAM_TIERS:
            return True
        return self.author_kind in OFFICIAL_AUTHOR_KINDS and self.author_verified is not False


@dataclass
class EventMetrics:
    values: dict[str, float]
    flags: dict[str, int]  # flag -> supporting posts
    daily: dict[str, dict[str, int]] = field(default_factory=dict)
    hourly: list[dict[str, Any]] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    platforms: dict[str, int] = field(default_factory=dict)
    regions: list[str] = field(default_factory=list)
    # flag -> {"posts", "mainstream", "post_ids", "share" (of the event's incident posts)}
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.values.items()},
            "flags": self.flags,
            "evidence": self.evidence,
            "daily": self.daily,
            "hourly": self.hourly,
            "site_list": self.sites,
            "platform_counts": self.platforms,
            "region_list": self.regions,
        }


@dataclass
class _FlagEvidence:
    posts: int = 0
    mainstream: int = 0
    # [0 if mainstream else 1, time in µs, post id] of the first supporting posts in that order
    shown: list[list[int]] = field(default_factory=list)
    # the supporting posts (the first `_SUPPORT_IDS`): a near-copy of one of them is no new report
    ids: set[int] = field(default_factory=set)
    # incident posts passed over as copies of a supporting post: out of the share's denominator
    copies: int = 0


_SUPPORT_IDS = 1000
# The evidence entry of the posts that rebut the event's claims (not a flag: it raises nothing and
# makes no post sensitive; an official rebuttal takes casualties and public safety off the event)
REBUTTAL = "rebuttal"


class EventAccumulator:
    """An event's running metrics: `add` each post once, `result(now)` whenever needed."""

    def __init__(self) -> None:
        self.posts = 0
        self.negative = 0
        self.sensitive = 0
        self.incident_posts = 0
        # incident posts that are originals, not reposts, comments or replies (REPLY_KINDS)
        self.incident_reports = 0
        self.daily: dict[str, list[int]] = {}
        self.hourly: dict[str, list[int]] = {}  # local hour -> [posts, negative]
        self.sites: set[str] = set()
        self.topics: set[int] = set()
        # Counters keep first-seen order: it breaks ties among regions and orders the platforms.
        self.platforms: Counter[str] = Counter()
        self.tiers: Counter[str] = Counter()
        self.regions: Counter[str] = Counter()
        self.evidence: dict[str, _FlagEvidence] = {}
        self.recent: dict[int, int] = {}  # minute (epoch minutes, rounded up) -> posts
        self.newest: int | None = None  # the newest post's minute
        self.hot_rank: int | None = None  # the best place any of its posts held on a hot list

    def add(self, post: PostFacts) -> None:
        """Count one post of the event (each post once)."""
        when = post.when
        local = when.astimezone(SHANGHAI)
        day = self.daily.get(date := local.date().isoformat())
        if day is None:
            day = self.daily[date] = [0] * len(_DAILY)
        for i, name in enumerate(_ENGAGEMENT):
            day[i] += getattr(post, name) or 0
        day[4] += 1  # then collected_reposts, weibo_reposts: the order of _DAILY
        repost = post.kind == "repost"
        if repost:
            day[5] += 1
        if post.platform == "weibo":
            day[6] += (post.reposts or 0) + (1 if repost else 0)
        hour = self.hourly.setdefault(local.replace(minute=0, second=0, microsecond=0).isoformat(), [0, 0])
        hour[0] += 1
        self.posts += 1
        if post.negative:
            self.negative += 1
            hour[1] += 1
        if post.incident:
            self.incident_posts += 1
            if post.kind not in REPLY_KINDS:
                self.incident_reports += 1
        micros = (when - _EPOCH) // dt.timedelta(microseconds=1)
        if post.flags:
            self.sensitive += 1
            rank = [0 if post.mainstream else 1, micros, post.post_id]
            for flag in dict.fromkeys(post.flags):
                known = self.evidence.get(flag)
                if post.copy_of is not None and not post.mainstream and known and post.copy_of in known.ids:
                    known.copies += bool(post.incident)  # the same report again
                    continue
                self._support(flag, post.mainstream, rank)
        if post.rebuts:  # evidence against the event's claims, kept like a flag's (`REBUTTAL`)
            official = post.mainstream or post.official_rebuttal
            self._support(REBUTTAL, official, [0 if official else 1, micros, post.post_id])
        self.sites.add(post.site)
        self.sites.update(post.sighting_sites)
        self.platforms[post.platform] += 1
        if post.kind == "original" or post.platform != "weibo":  # a Weibo repost is no outlet's report
            self.tiers[post.media_tier] += 1
        self.topics.update(post.topics)
        self.regions.update(sorted(regions_in(post.text)))
        self._recent(-(-micros // _MINUTE_US))

    def add_sites(self, sites: Iterable[str]) -> None:
        """Sites where posts of the event were seen again after they were added."""
        self.sites.update(sites)

    def add_rank(self, rank: int) -> None:
        """A place one of the event's posts held on a hot list (1 is the top)."""
        self.hot_rank = rank if self.hot_rank is None else min(self.hot_rank, rank)

    def _support(self, flag: str, mainstream: bool, rank: list[int]) -> None:
        evidence = self.evidence.get(flag)
        if evidence is None:
            evidence = self.evidence[flag] = _FlagEvidence()
        evidence.posts += 1
        evidence.mainstream += mainstream
        if len(evidence.ids) < _SUPPORT_IDS:
            evidence.ids.add(rank[2])
        shown = evidence.shown
        if len(shown) < EVIDENCE_POST_IDS or rank < shown[-1]:
            shown.append(rank)
            shown.sort()
            del shown[EVIDENCE_POST_IDS:]

    def _recent(self, minute: int) -> None:
        if self.newest is None or minute > self.newest:
            self.newest = minute
        elif minute <= self.newest - _RECENT_MINUTES:
            return  # too old to count in any hour measured
        self.recent[minute] = self.recent.get(minute, 0) + 1
        if len(self.recent) > _PRUNE_AT:
            self.recent = self._recent_kept()

    def _recent_kept(self) -> dict[int, int]:
        if self.newest is None:
            return {}
        oldest = self.newest - _RECENT_MINUTES
        return {m: n for m, n in self.recent.items() if m > oldest}

    def result(self, now: dt.datetime) -> EventMetrics:
        """The event's metrics as of `now` (see the module docstring for the growth counts)."""
        daily = {}
        for date in sorted(self.daily):
            day = dict(zip(_DAILY, self.daily[date], strict=True))
            day["reposts"] = max(day["reposts"], day["collected_reposts"])
            daily[date] = day
        busiest = {
            name: max((d[name] for d in daily.values()), default=0)
            for name in (*_ENGAGEMENT, "weibo_reposts")
        }
        minute = -(-((now - _EPOCH) // dt.timedelta(microseconds=1)) // _MINUTE_US)
        last_hour = hour_before = 0
        for m, n in self._recent_kept().items():
            if minute - 60 < m <= minute:
                last_hour += n
            elif minute - 120 < m <= minute - 60:
                hour_before += n
        tiers = self.tiers
        values: dict[str, float] = {
            "posts": self.posts,
            **{name: float(busiest[name]) for name in busiest},
            "sites": len(self.sites),
            "platforms": len(self.platforms),
            "regions": len(self.regions),
            "negative_share": self.negative / self.posts if self.posts else 0.0,
            "sensitive_posts": self.sensitive,
            "topic_matched": len(self.topics),
            "media_central": tiers["central"],
            "media_provincial": tiers["provincial"],
            "media_city": tiers["city"],
            "media_provincial_or_central": tiers["central"] + tiers["provincial"],
            "media_city_or_above": tiers["central"] + tiers["provincial"] + tiers["city"],
            "growth": last_hour - hour_before,
            "last_hour": last_hour,
            "hour_before": hour_before,
            "incident_posts": self.incident_posts,
            "incident_reports": self.incident_reports,
        }
        if self.hot_rank is not None:
            values["hot_list_rank"] = self.hot_rank
        evidence = {
            flag: {
                "posts": e.posts,
                "mainstream": e.mainstream,
                "post_ids": [rank[2] for rank in e.shown],
                "share": e.posts / max(self.incident_posts - e.copies, 1),
            }
            for flag, e in self.evidence.items()
        }
        return EventMetrics(
            values=values,
            flags={flag: e.posts for flag, e in self.evidence.items() if flag != REBUTTAL},
            daily=daily,
            hourly=[
                {"hour": h, "posts": self.hourly[h][0], "negative": self.hourly[h][1]}
                for h in sorted(self.hourly)
            ],
            sites=sorted(self.sites),
            platforms=dict(self.platforms),
            regions=[name for name, _ in self.regions.most_common(10)],
            evidence=evidence,
        )

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-safe data (ordered counters as [key, count] pairs, since a JSON
        column need not keep the order of an object's keys)."""
        return {
            "version": _STATE_VERSION,
            "posts": self.posts,
            "negative": self.negative,
            "sensitive": self.sensitive,
            "incident_posts": self.incident_posts,
            "incident_reports": self.incident_reports,
            "daily": {k: list(v) for k, v in self.daily.items()},
            "hourly": {k: list(v) for k, v in self.hourly.items()},
            "sites": sorted(self.sites),
            "topics": sorted(self.topics),
            "platforms": [[k, n] for k, n in self.platforms.items()],
            "tiers": [[k, n] for k, n in self.tiers.items()],
            "regions": [[k, n] for k, n in self.regions.items()],
            "evidence": [
                [flag, e.posts, e.mainstream, [list(r) for r in e.shown], sorted(e.ids), e.copies]
                for flag, e in self.evidence.items()
            ],
            "recent": sorted([m, n] for m, n in self._recent_kept().items()),
            "newest": self.newest,
            "hot_rank": self.hot_rank,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventAccumulator:
        """The state `to_json` returned."""
        if data.get("version") != _STATE_VERSION:
            raise ValueError(
                f"event metrics state of version {data.get('version')!r}, expected {_STATE_VERSION}"
            )
        acc = cls()
        acc.posts, acc.negative = int(data["posts"]), int(data["negative"])
        acc.sensitive, acc.incident_posts = int(data["sensitive"]), int(data["incident_posts"])
        # absent in states written before it: their incident posts counted as reports
        acc.incident_reports = int(data.get("incident_reports", acc.incident_posts))
        acc.daily = {str(k): [int(x) for x in v] for k, v in data["daily"].items()}
        acc.hourly = {str(k): [int(x) for x in v] for k, v in data["hourly"].items()}
        acc.sites = {str(s) for s in data["sites"]}
        acc.topics = {int(t) for t in data["topics"]}
        acc.platforms = Counter({str(k): int(n) for k, n in data["platforms"]})
        acc.tiers = Counter({str(k): int(n) for k, n in data["tiers"]})
        acc.regions = Counter({str(k): int(n) for k, n in data["regions"]})
        acc.evidence = {
            # the supporting ids are absent in states written before them
            str(row[0]): _FlagEvidence(
                int(row[1]),
                int(row[2]),
                [[int(x) for x in r] for r in row[3]],
                {int(i) for i in (row[4] if len(row) > 4 else ())},
                int(row[5]) if len(row) > 5 else 0,  # absent before copies left the share
            )
            for row in data["evidence"]
        }
        acc.recent = {int(m): int(n) for m, n in data["recent"]}
        acc.newest = None if data["newest"] is None else int(data["newest"])
        rank = data.get("hot_rank")  # absent in states written before hot lists
        acc.hot_rank = None if rank is None else int(rank)
        return acc


def compute(posts: Iterable[PostFacts], now: dt.datetime) -> EventMetrics:
    """The metrics of an event made of these posts, as of `now`."""
    acc = EventAccumulator()
    for post in posts:
        acc.add(post)
    return acc.result(now)


def facts_from_rows(rows: Iterable[dict[str, Any]]) -> list[PostFacts]:
    return [PostFacts(**row) for row in rows]
