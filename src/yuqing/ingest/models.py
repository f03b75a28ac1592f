"""Tables of the ingest domain: sources, posts, sightings, fetch runs, dead letters, evidence blobs."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime, utcnow


class SourceKind(enum.StrEnum):
    RSS = "rss"
    WEB = "web"
    API = "api"
    WEBHOOK = "webhook"
    FILE = "file"
    RSSHUB = "rsshub"


class MediaTier(enum.StrEnum):
    """How authoritative the outlet is; grading treats central and provincial outlets specially."""

    CENTRAL = "central"
    PROVINCIAL = "provincial"
    CITY = "city"
    OTHER = "other"


class AuthorKind(enum.StrEnum):
    """Who stands behind a verified account, as its platform verified it (Weibo's verified_type)."""

    INDIVIDUAL = "individual"
    GOVERNMENT = "government"
    MEDIA = "media"
    ENTERPRISE = "enterprise"
    CAMPUS = "campus"
    WEBSITE = "website"
    ORGANISATION = "organisation"
    OTHER = "other"


# Accounts whose report of an incident counts as an authoritative one, as a mainstream outlet's:
# government bodies and media. A verified individual (a celebrity, a 大V), a brand, a website or a
# group is verified as who it is, not as a source of news.
OFFICIAL_AUTHOR_KINDS = frozenset({AuthorKind.GOVERNMENT.value, AuthorKind.MEDIA.value})

AUTHOR_KIND_LABELS = {
    "individual": "个人认证",
    "government": "政务认证",
    "media": "媒体认证",
    "enterprise": "企业认证",
    "campus": "校园认证",
    "website": "网站认证",
    "organisation": "机构认证",
    "other": "其他认证",
}


class Platform(enum.StrEnum):
    NEWS = "news"
    WEIBO = "weibo"
    WECHAT = "wechat"
    FORUM = "forum"
    VIDEO = "video"
    ZHIHU = "zhihu"
    BILIBILI = "bilibili"
    DOUYIN = "douyin"
    XIAOHONGSHU = "xiaohongshu"
    KUAISHOU = "kuaishou"
    TIEBA = "tieba"
    OTHER = "other"


# The platforms' names as users read them (the console, reports, drills).
# What exports and other systems call the platforms (a 舆情 system's Excel column 「平台」 or
# 「媒体类型」): each becomes the platform's code, so that 「微博」 and 「weibo」 count as one.
PLATFORM_ALIASES = {
    "新浪微博": "weibo",
    "腾讯微博": "weibo",
    "微信公众号": "wechat",
    "公众号": "wechat",
    "微信公众平台": "wechat",
    "网媒": "news",
    "网站": "news",
    "新闻网站": "news",
    "新闻客户端": "news",
    "客户端": "news",
    "app": "news",
    "报刊": "news",
    "社区": "forum",
    "bbs": "forum",
    "短视频": "video",
    "b站": "bilibili",
    "百度贴吧": "tieba",
    "微博": "weibo",
}


def platform_code(value: str) -> str:
    """A platform as stored: its code for any name an export gives it (微博, 新浪微博, Weibo), the
    value itself when it names none."""
    key = value.strip().lower()
    if key in PLATFORM_NAMES:
        return key
    return PLATFORM_ALIASES.get(key) or _PLATFORM_BY_NAME.get(key) or value.strip()


SOURCE_KIND_NAMES = {
    "rss": "RSS/Atom 订阅",
    "rsshub": "RSSHub 路由",
    "web": "网页",
    "api": "JSON 接口",
    "webhook": "推送（webhook）",
    "file": "文件导入",
}

PLATFORM_NAMES = {
    "news": "新闻",
    "weibo": "微博",
    "wechat": "微信",
    "forum": "论坛",
    "video": "视频",
    "zhihu": "知乎",
    "bilibili": "哔哩哔哩",
    "douyin": "抖音",
    "xiaohongshu": "小红书",
    "kuaishou": "快手",
    "tieba": "贴吧",
    "other": "其他",
}

_PLATFORM_BY_NAME = {name.lower(): code for code, name in PLATFORM_NAMES.items()}


class RunOutcome(enum.StrEnum):
    SUCCESS = "success"
    PARTIAL = "partial"  # some items went to the dead-letter list
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process was killed; closed at the next start (`ingest.runs`)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(20), default=Platform.OTHER.value)
    media_tier: Mapped[str] = mapped_column(String(20), default=MediaTier.OTHER.value)
    schedule: Mapped[str | None] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    token_sha256: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Conditional-request validators from the last successful fetch.
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # Scheduler state and health.
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    empty_runs: Mapped[int] = mapped_column(Integer, default=0)
    last_items: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When a run last brought a new post: a source that used to produce and stopped is an alarm.
    last_new_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set on a drill's own source: its posts are drill posts (yuqing.drills), kept apart from
    # real events and statistics. A plain id: drills live in their own domain's table.
    drill_id: Mapped[int | None] = mapped_column(Integer)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        # Partial indexes: most posts have no content hash (short texts) or link, and the bulk
        # import path pays for every index entry it writes.
        Index(
            "uq_posts_content_hash",
            "content_hash",
            unique=True,
            sqlite_where=sql_text("content_hash IS NOT NULL"),
            postgresql_where=sql_text("content_hash IS NOT NULL"),
        ),
        Index(
            "ix_posts_near_duplicate_of",
            "near_duplicate_of",
            sqlite_where=sql_text("near_duplicate_of IS NOT NULL"),
            postgresql_where=sql_text("near_duplicate_of IS NOT NULL"),
        ),
        # A post known by its link is found by its platform id too (a comment names its note by
        # id); posts without a link are keyed `platform:id` already and need no entry here.
        Index(
            "ix_posts_linked_external_id",
            "external_id",
            sqlite_where=sql_text("canonical_url IS NOT NULL AND external_id IS NOT NULL"),
            postgresql_where=sql_text("canonical_url IS NOT NULL AND external_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    # The identity used for exact duplicates: the canonical URL, else platform:external id.
    url_key: Mapped[str | None] = mapped_column(String(2048), unique=True)
    # Hash of the normalised content, set only for texts long enough to identify a post.
    content_hash: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20), default="original")
    parent_external_id: Mapped[str | None] = mapped_column(String(300))
    root_external_id: Mapped[str | None] = mapped_column(String(300), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    text_original: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(300))
    author_id: Mapped[str | None] = mapped_column(String(300))
    author_verified: Mapped[bool | None] = mapped_column(Boolean)
    # AuthorKind of a verified account, where the platform says it
    author_kind: Mapped[str | None] = mapped_column(String(20))
    author_followers: Mapped[int | None] = mapped_column(BigInteger)
    author_following: Mapped[int | None] = mapped_column(BigInteger)
    author_posts: Mapped[int | None] = mapped_column(BigInteger)
    location: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    views: Mapped[int | None] = mapped_column(BigInteger)
    reposts: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    media_tier: Mapped[str] = mapped_column(String(20), default=MediaTier.OTHER.value)
    # Evidence: the document as fetched (an evidence blob) and where in it this post sits.
    raw_sha256: Mapped[str | None] = mapped_column(ForeignKey("evidence_blobs.sha256"))
    raw_ref: Mapped[str | None] = mapped_column(String(300))
    # SHA-256 of this item's own raw bytes (its line, its JSON object, or the whole page).
    item_sha256: Mapped[str | None] = mapped_column(String(64))
    near_duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("posts.id"))
    similarity: Mapped[float | None] = mapped_column(Float)
    fetch_run_id: Mapped[int | None] = mapped_column(ForeignKey("fetch_runs.id"))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # A drill's post (its source has `drill_id`): set by the drill runner right after the import,
    # so that real lists and reports can leave drill posts out with one condition.
    is_drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PostSighting(Base):
    """A duplicate delivery of a stored post from another URL or source: where else it appeared."""

    __tablename__ = "post_sightings"
    __table_args__ = (UniqueConstraint("post_id", "source_id", "url_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    url_key: Mapped[str] = mapped_column(String(2048))
    url: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HotListRank(Base):
    """A post's place on a hot list (微博热搜, 知乎热榜…) each time the list was read: the rank
    history that makes a hot-list entry a spread signal (`hot_list_rank`) and the event page's
    「热榜排名」."""

    __tablename__ = "hot_list_ranks"
    __table_args__ = (Index("ix_hot_list_ranks_post_seen", "post_id", "seen_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    list_name: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer)
    heat: Mapped[float | None] = mapped_column(Float)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FetchRun(Base):
    __tablename__ = "fetch_runs"
    __table_args__ = (Index("ix_fetch_runs_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))
    items_read: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    items_near_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    items_rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    # The process doing the run ("host:pid:start"), while it is unfinished: a run whose process is
    # gone is closed as interrupted by the next import, fetch or serve.
    owner: Mapped[str | None] = mapped_column(String(200))


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    fetch_run_id: Mapped[int | None] = mapped_column(ForeignKey("fetch_runs.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    stage: Mapped[str] = mapped_column(String(50))
    error: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_size: Mapped[int | None] = mapped_column(BigInteger)
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    # The same input refused again for the same reason (a retried delivery, a feed cut the same
    # way at every fetch): counted here instead of listed again.
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EvidenceBlob(Base):
    """Raw bytes exactly as fetched or received, addressed by their SHA-256."""

    __tablename__ = "evidence_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(200))
    origin: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[bytes] = mapped_column(LargeBinary)
