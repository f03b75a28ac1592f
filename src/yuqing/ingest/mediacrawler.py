"""Output files of the MediaCrawler crawler (`yuqing import FILE --layout mediacrawler`).

MediaCrawler's licence forbids using its code commercially, so yuqing only reads the files it
writes: `data/<platform>/<json|jsonl|csv>/<search|detail|creator>_<contents|comments>_<date>`,
one record per note, video or comment, with each platform's own field names (the field tables are
in `tests/ingest/fixtures/mediacrawler/FIELDS.md`). Each record is rewritten into yuqing's
vocabulary before the usual mapping: its platform (from the record's fields, or the file's
folder), its id, text, time (seconds or milliseconds, numbers or text), author, counts and the
post's own URL; a comment becomes a post of kind `comment` whose root is its note (so it joins the
note's event) and whose parent is the comment it answers, or the note. Both schema generations are
read (the newer one has `creator_hash` and masked nicknames instead of user ids).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from yuqing.ingest.records import RawItem, Rejected

# MediaCrawler's folder names and yuqing's platforms.
FOLDERS = {
    "weibo": "weibo",
    "xhs": "xiaohongshu",
    "douyin": "douyin",
    "dy": "douyin",
    "bili": "bilibili",
    "bilibili": "bilibili",
    "kuaishou": "kuaishou",
    "ks": "kuaishou",
    "tieba": "tieba",
    "zhihu": "zhihu",
}
# Which field holds the id of the note a record is or belongs to, first present wins.
_NOTE_IDS = ("note_id", "aweme_id", "video_id", "content_id")
_FIELDS: Mapping[str, tuple[str, ...]] = {
    "title": ("title",),
    "text": ("content", "content_text", "desc", "title"),
    "published_at": ("create_time", "time", "created_time", "publish_time", "create_date_time"),
    "url": ("note_url", "aweme_url", "video_url", "content_url"),
    "author": ("nickname", "user_nickname"),
    "author_id": ("user_id", "creator_hash"),
    "location": ("ip_location",),
    "likes": ("liked_count", "voteup_count", "comment_like_count", "like_count"),
    "comments": ("comments_count", "comment_count", "video_comment", "total_replay_num", "sub_comment_count"),
    "reposts": ("shared_count", "share_count", "video_share_count"),
    "views": ("video_play_count", "viewd_count"),
}
_DIGITS = re.compile(r"^\d{9,14}$")


def platform_of(record: Mapping[str, Any], folder: str | None = None) -> str:
    """The platform of a record: its URL's site, else the file's folder, else `other`."""
    url = str(record.get("note_url") or record.get("aweme_url") or record.get("video_url") or "")
    url += str(record.get("content_url") or "")
    for site, platform in (
        ("weibo.", "weibo"),
        ("xiaohongshu.", "xiaohongshu"),
        ("douyin.", "douyin"),
        ("bilibili.", "bilibili"),
        ("kuaishou.", "kuaishou"),
        ("tieba.baidu.", "tieba"),
        ("zhihu.", "zhihu"),
    ):
        if site in url:
            return platform
    if "aweme_id" in record:
        return "douyin"
    if "xsec_token" in record:
        return "xiaohongshu"
    return FOLDERS.get((folder or "").lower(), "other")


def folder_of(origin: str) -> str | None:
    """The platform folder of a MediaCrawler path (`…/data/xhs/json/…` → `xhs`)."""
    parts = re.split(r"[\\/]", origin)
    for i, part in enumerate(parts[:-1]):
        if part in ("json", "jsonl", "csv") and i > 0 and parts[i - 1].lower() in FOLDERS:
            return parts[i - 1]
    return None


def convert(record: Mapping[str, Any], folder: str | None = None) -> dict[str, Any]:
    """One MediaCrawler record in yuqing's field names (other fields stay, as `extra`)."""
    out: dict[str, Any] = {}
    for name, candidates in _FIELDS.items():
        for key in candidates:
            value = record.get(key)
            if value not in (None, "", "None"):
                out[name] = value
                break
    when = out.get("published_at")
    if isinstance(when, str) and _DIGITS.match(when.strip()):
        out["published_at"] = int(when)  # a CSV cell: seconds or milliseconds, told apart later
    note = next((str(record[k]) for k in _NOTE_IDS if record.get(k) not in (None, "")), None)
    comment = record.get("comment_id")
    if comment not in (None, ""):
        out["id"] = f"comment:{comment}"
        out["kind"] = "comment"
        parent = str(record.get("parent_comment_id") or "").strip()
        answered = parent not in ("", "0", str(comment))
        out["parent"] = f"comment:{parent}" if answered else note
        out["cascade"] = note
    else:
        out["id"] = note
    platform = platform_of(record, folder)
    if platform != "other":  # otherwise the import's --platform applies
        out["platform"] = platform
    if comment not in (None, "") and "url" in out:
        # A comment carries its note's link (Tieba): as its own URL every comment would be one post.
        out["note_url"] = out.pop("url")
    if out.get("text") == out.get("title"):
        out.pop("title", None)  # douyin and kuaishou repeat the text as the title
    used = {key for candidates in _FIELDS.values() for key in candidates}
    used |= {*_NOTE_IDS, "comment_id", "parent_comment_id"}
    out.update({k: v for k, v in record.items() if k not in used and k not in out})
    return out


def converted(items: Iterable[RawItem | Rejected], origin: str) -> Iterator[RawItem | Rejected]:
    """The rows of a MediaCrawler file in yuqing's vocabulary; a row that is not a MediaCrawler
    record (no note, video or comment id) is a dead letter saying so."""
    folder = folder_of(origin)
    for item in items:
        if isinstance(item, Rejected):
            yield item
            continue
        record = item.record
        if not any(record.get(k) not in (None, "") for k in (*_NOTE_IDS, "comment_id")):
            yield Rejected(
                item.locator,
                "ingest.map",
                "不是 MediaCrawler 的记录：没有 note_id、aweme_id、video_id、content_id 或 comment_id",
                item.raw,
            )
            continue
        yield RawItem(convert(record, folder), item.locator, item.raw)
