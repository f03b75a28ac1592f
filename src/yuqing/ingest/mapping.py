"""Field mapping: how a record from a file, an API or a webhook becomes the fields of a post.

A mapping names, for each post field, the path of the value in the record (`author.followers`,
`data.0.text`). The default mapping covers Weibo-style data (the CED corpus imports with it),
common names used by news and forum exports, and the Chinese column names of 舆情 systems' and
offices' own sheets (标题, 正文, 发布时间, 转发数, 平台); a source's own mapping overrides field by
field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

# Post field -> candidate paths, first present wins.
DEFAULT_MAPPING: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "mid", "guid", "post_id", "idstr", "信息ID", "微博ID"),
    "url": ("url", "link", "permalink", "href", "链接", "原文链接", "原文地址", "网址", "URL", "地址"),
    "title": ("title", "headline", "标题", "文章标题"),
    "text": (
        "text",
        "content",
        "body",
        "summary",
        "description",
        "内容",
        "正文",
        "微博内容",
        "信息内容",
        "帖子内容",
        "摘要",
    ),
    "html": ("html", "content_html", "body_html"),
    "author": (
        "author.name",
        "author.screen_name",
        "user.screen_name",
        "user.name",
        "author_name",
        "screen_name",
        "nickname",
        "author",
        "作者",
        "发布者",
        "发布人",
        "博主",
        "昵称",
        "用户名",
        "账号名称",
    ),
    "author_id": ("author.id", "uid", "user.id", "user_id", "author_id"),
    "author_verified": ("author.verified", "user.verified", "verified", "是否认证", "认证"),
    "author_kind": ("author.verified_type", "user.verified_type", "verified_type", "认证类型"),
    "author_followers": (
        "author.followers",
        "author.followers_count",
        "user.followers_count",
        "followers",
        "followers_count",
        "粉丝数",
    ),
    "author_following": (
        "author.friends",
        "author.friends_count",
        "user.friends_count",
        "friends",
        "following",
    ),
    "author_posts": ("author.messages", "author.statuses_count", "user.statuses_count", "messages"),
    "location": (
        "location",
        "author.location",
        "user.location",
        "region",
        "ip_location",
        "地域",
        "地区",
        "属地",
        "IP属地",
    ),
    "published_at": (
        "published_at",
        "created_at",
        "publish_time",
        "pubdate",
        "pubDate",
        "published",
        "date",
        "time",
        "timestamp",
        "发布时间",
        "发表时间",
        "发布日期",
        "时间",
        "日期",
    ),
    "views": (
        "views",
        "reads",
        "read_count",
        "view_count",
        "reads_count",
        "阅读数",
        "阅读量",
        "浏览量",
        "播放量",
    ),
    "reposts": (
        "reposts",
        "reposts_count",
        "shares",
        "share_count",
        "forwards",
        "转发数",
        "转发量",
        "分享数",
    ),
    "comments": ("comments", "comments_count", "comment_count", "replies", "评论数", "评论量"),
    "likes": ("likes", "attitudes_count", "like_count", "likes_count", "点赞数", "点赞量"),
    "kind": ("kind", "type", "post_type"),
    "parent_external_id": ("parent", "parent_id", "reply_to", "in_reply_to"),
    "root_external_id": ("cascade", "root", "root_id", "thread_id"),
    "platform": ("platform", "平台", "来源平台", "媒体类型"),
    "media_tier": ("media_tier",),
}

POST_FIELDS = tuple(DEFAULT_MAPPING)
_MISSING = object()


class MappingError(ValueError):
    """A source's mapping names a field that posts do not have."""


@dataclass(frozen=True)
class FieldMapping:
    """Resolved paths for each post field, split once into keys for fast lookups."""

    paths: Mapping[str, tuple[tuple[str, ...], ...]]
    _plans: dict[tuple[str, ...], tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]] = dataclass_field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, overrides: Mapping[str, str | Sequence[str]] | None = None) -> FieldMapping:
        chosen: dict[str, tuple[str, ...]] = dict(DEFAULT_MAPPING)
        for field, spec in (overrides or {}).items():
            if field not in DEFAULT_MAPPING:
                known = ", ".join(POST_FIELDS)
                raise MappingError(f"字段映射中的未知字段 {field!r}（可用字段：{known}）")
            chosen[field] = (spec,) if isinstance(spec, str) else tuple(spec)
        return cls({field: tuple(tuple(p.split(".")) for p in paths) for field, paths in chosen.items()})

    def apply(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(post fields found, the record's other top-level fields kept as extra)."""
        plan = self._plan(tuple(record))
        found: dict[str, Any] = {}
        used: set[str] = set()
        for field, paths in plan:
            for path in paths:
                value = record[path[0]] if len(path) == 1 else _lookup(record, path)
                if value is not _MISSING and value is not None and value != "":
                    found[field] = value
                    used.add(path[0])
                    break
                if value == "" and field == "text":
                    found.setdefault(field, "")
                    used.add(path[0])
        extra = {k: v for k, v in record.items() if k not in used and v is not None}
        return found, extra

    def _plan(self, keys: tuple[str, ...]) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
        """For records with these top-level keys, the candidate paths that can match. Rows of one
        file share a handful of shapes, so this is worked out once per shape."""
        plan = self._plans.get(keys)
        if plan is None:
            present = set(keys)
            plan = tuple(
                (field, kept)
                for field, paths in self.paths.items()
                if (kept := tuple(p for p in paths if p[0] in present))
            )
            if len(self._plans) < 1024:
                self._plans[keys] = plan
        return plan


def _lookup(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if isinstance(value, Mapping):
            value = value.get(key, _MISSING)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value
