"""Pipeline stages `ingest.map` and `ingest.normalise`: a raw record becomes a post draft.

Pure functions over batches, with no database access, so they can run in any worker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from yuqing.ingest.mapping import FieldMapping
from yuqing.ingest.models import AuthorKind, platform_code
from yuqing.ingest.normalise import (
    canonical_url,
    check_published,
    clean_text,
    content_hash,
    content_key,
    html_to_text,
    parse_timestamp,
    relative_time,
    storable,
    to_simplified,
)
from yuqing.ingest.records import PostDraft, RawItem, Rejected

log = logging.getLogger(__name__)

_WEIBO_HINTS = frozenset({"cascade", "mid", "reposts", "reposts_count", "attitudes_count", "uid"})
_INT_FIELDS = (
    "views",
    "reposts",
    "comments",
    "likes",
    "author_followers",
    "author_following",
    "author_posts",
)
_STR_FIELDS = ("author", "author_id", "location", "kind", "parent_external_id", "root_external_id")
_MAX_EXTRA_CHARS = 4000
# A post's text is kept to this many characters (a long article is some 30,000); what is beyond
# stays in the evidence. Memory and analysis time grow with one post's text.
MAX_TEXT_CHARS = 200_000
# Counts are stored as 64-bit integers; anything outside 0..2**63-1 is not a count but a mistake,
# and the record goes to the dead-letter list with the reason (rather than a clamped number that
# grading would read as a huge real reach).
MAX_COUNT = 2**63 - 1
# Column widths of `posts` that PostgreSQL enforces (SQLite does not).
_MAX_LABEL_CHARS = 20
_MAX_ID_CHARS = 300
_MAX_URL_KEY_CHARS = 2048
# Per-record errors that are the record's fault: the message is shown to users as it is.
_RECORD_ERRORS = (ValueError, TypeError, OverflowError, OSError, ArithmeticError, RecursionError)


@dataclass(frozen=True)
class SourceContext:
    """What the pipeline needs to know about the source an item came from."""

    source_id: int
    platform: str
    media_tier: str
    mapping: FieldMapping
    timezone: str = "Asia/Shanghai"
    min_content_chars: int = 20
    # A file of Weibo-style rows may say nothing of its platform; recognise it by its fields.
    guess_platform: bool = False
    # Fetched pages and pushes are read when they are received, so 「5分钟前」 has a meaning; a
    # file's rows were read at a time the file does not say.
    relative_times: bool = True


class ItemError(ValueError):
    """A record that cannot become a post; the message is shown to users."""


def prepare_batch(
    items: Iterable[RawItem], context: SourceContext, fetched_at: dt.datetime
) -> list[PostDraft | Rejected]:
    """Stages ingest.map and ingest.normalise for a batch, in input order. A record that fails
    becomes a rejection of its own; the rest of the batch goes on."""
    out: list[PostDraft | Rejected] = []
    for item in items:
        try:
            out.append(prepare_item(item, context, fetched_at))
        except _RECORD_ERRORS as exc:
            out.append(Rejected(item.locator, "ingest.normalise", _reason(exc), _kept(item)))
        except Exception as exc:  # a bug of ours: logged with its traceback, the record kept
            log.exception("preparing %s failed", item.locator)
            why = f"内部错误：{type(exc).__name__}: {exc}"
            out.append(Rejected(item.locator, "ingest.normalise", why, _kept(item)))
    return out


def _kept(item: RawItem) -> bytes | None:
    """What a dead letter keeps of a refused item: its own bytes, or for an item that has none (a
    feed entry, parsed out of its document) the record as it was read, as JSON."""
    if item.raw is not None:
        return item.raw
    try:
        return orjson.dumps(dict(item.record), default=str)
    except (TypeError, orjson.JSONEncodeError):
        return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ItemError):
        return str(exc)
    if isinstance(exc, OverflowError | OSError | ArithmeticError):
        return f"记录中有超出范围的数值：{exc}"
    if isinstance(exc, RecursionError):
        return "记录嵌套过深"
    return str(exc) or type(exc).__name__


def prepare_item(item: RawItem, context: SourceContext, fetched_at: dt.datetime) -> PostDraft:
    record = item.record
    if not isinstance(record, Mapping):
        raise ItemError(f"记录不是 JSON 对象，而是 {type(record).__name__}")
    fields, extra = context.mapping.apply(record)

    text_value = fields.get("text")
    html_value = fields.get("html")
    if text_value is not None and not isinstance(text_value, str):
        text_value = str(text_value)
    original = clean_text(text_value) if text_value else ""
    if html_value and isinstance(html_value, str) and not original:
        original = clean_text(html_to_text(storable(html_value)))
    elif original and "<" in original:
        original = clean_text(html_to_text(original))
    if len(original) > MAX_TEXT_CHARS:
        # a 7,000,000-character post took 2.2 GB to import and 44 s to analyse: its text is kept
        # to the cap (its bytes stay whole in the evidence), and says so
        original = (
            original[:MAX_TEXT_CHARS]
            + f"……（原文 {len(original)} 字，超出 {MAX_TEXT_CHARS} 字的部分未入库，见原始数据）"
        )
    title = _opt_str(fields.get("title"))
    if title and "<" in title:
        title = html_to_text(title)

    url = _opt_str(fields.get("url"))
    canonical = canonical_url(url) if url else None
    external_id = _opt_str(fields.get("external_id"))
    if external_id is not None and len(external_id) > _MAX_ID_CHARS:
        raise ItemError(f"编号长 {len(external_id)} 字符，超过 {_MAX_ID_CHARS} 字符上限")
    named = _label("platform", _opt_str(fields.get("platform")))
    platform = (platform_code(named) if named else "") or context.platform
    if context.guess_platform and "platform" not in fields and _WEIBO_HINTS.intersection(record):
        platform = "weibo"

    simplified = to_simplified(original)
    key = content_key(simplified)
    title_key = content_key(to_simplified(title)) if title else ""
    if canonical:
        # A link longer than the key column is still one article: it is known by its hash.
        url_key = canonical if len(canonical) <= _MAX_URL_KEY_CHARS else "url:" + content_hash(canonical)
    elif external_id:
        url_key = f"{platform}:{external_id}"
    elif key or title_key:
        basis = title_key + "\n" + key
        if len(key) < context.min_content_chars:
            # A short text without link or id (「转发微博」, 「医院太黑了！」 in a comment export) is
            # no copy of another's: it is known by who wrote it when, as well. A time the site
            # shows relative to the fetch (「3分钟前」) is known by the time it stands for, to its
            # precision, so that the next fetch's 「5分钟前」 is the same post.
            when = fields.get("published_at")
            relative = _relative(when, context, fetched_at)
            if relative is not None:
                when = _floored(*relative).isoformat()
            basis += "".join(f"\n{fields.get(f) or ''}" for f in ("author", "author_id")) + f"\n{when or ''}"
        url_key = "content:" + content_hash(basis)
    else:
        raise ItemError("记录既没有链接或编号，也没有正文或标题")

    draft = PostDraft(
        locator=item.locator,
        url_key=url_key,
        platform=platform,
        media_tier=_label("media_tier", _opt_str(fields.get("media_tier"))) or context.media_tier,
        text_original=original,
        text=simplified,
        fetched_at=fetched_at,
        content_hash=content_hash(key) if len(key) >= context.min_content_chars else None,
        external_id=external_id,
        url=url,
        canonical_url=canonical,
        title=title,
        published_at=_published(fields.get("published_at"), context, fetched_at),
        item_sha256=hashlib.sha256(item.raw).hexdigest() if item.raw is not None else None,
    )
    for name in _INT_FIELDS:
        value = fields.get(name)
        if value is not None:
            setattr(draft, name, _to_int(value, name))
    for name in _STR_FIELDS:
        value = fields.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            setattr(draft, name, storable(str(value)[:_MAX_ID_CHARS]))
    verified = fields.get("author_verified")
    if verified is not None:
        draft.author_verified = _to_bool(verified)
    draft.author_kind = author_kind(fields.get("author_kind"))
    if draft.kind not in ("original", "repost", "comment", "reply"):
        draft.kind = "original"
    if not original and not title and draft.kind == "original" and not draft.parent_external_id:
        # kept, it would hold its link and nothing else for good: a later copy of the item with
        # its text is a duplicate of it, and nothing would ever read what happened (a repost with
        # no words of its own is a repost, and counts)
        raise ItemError("条目没有标题和正文，未入库；来源给出内容后，下次采集时会作为新信息收录")
    if extra:
        draft.extra = _bounded_extra(extra)
    return draft


# Weibo's verified_type: 0 an individual, 10 and 200/220 individuals of its other programmes; -1 none
_WEIBO_KINDS = {
    0: AuthorKind.INDIVIDUAL,
    1: AuthorKind.GOVERNMENT,
    2: AuthorKind.ENTERPRISE,
    3: AuthorKind.MEDIA,
    4: AuthorKind.CAMPUS,
    5: AuthorKind.WEBSITE,
    7: AuthorKind.ORGANISATION,
    10: AuthorKind.INDIVIDUAL,
    200: AuthorKind.INDIVIDUAL,
    220: AuthorKind.INDIVIDUAL,
}
_KIND_WORDS = {
    AuthorKind.INDIVIDUAL: ("个人", "individual", "person", "personal"),
    AuthorKind.GOVERNMENT: ("政府", "政务", "党政", "government", "gov"),
    AuthorKind.MEDIA: ("媒体", "新闻", "media", "press", "news"),
    AuthorKind.ENTERPRISE: ("企业", "公司", "enterprise", "company", "business"),
    AuthorKind.CAMPUS: ("校园", "学校", "高校", "campus", "school"),
    AuthorKind.WEBSITE: ("网站", "website", "site"),
    AuthorKind.ORGANISATION: ("机构", "团体", "组织", "organisation", "organization"),
}
_KIND_BY_WORD = {word: kind for kind, words in _KIND_WORDS.items() for word in words}


def author_kind(value: Any) -> str | None:
    """The AuthorKind of an account from a platform's verification type: Weibo's verified_type
    number, or a word (「媒体」, 「政务认证」, "media"). None when the account has none (-1) or the
    value says nothing; "other" for a type we do not know."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    try:
        number = int(float(text))
    except (ValueError, OverflowError):
        word = text.removesuffix("认证").removesuffix("账号").strip()
        if word in {k.value for k in AuthorKind}:
            return word
        kind = _KIND_BY_WORD.get(word)
        return kind.value if kind else AuthorKind.OTHER.value
    if number < 0:
        return None
    return _WEIBO_KINDS.get(number, AuthorKind.OTHER).value


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = storable(str(value)).strip()
    return text or None


def _label(name: str, value: str | None) -> str | None:
    if value is not None and len(value) > _MAX_LABEL_CHARS:
        raise ItemError(f"字段 {name} 的值 {value[:40]!r} 过长（最多 {_MAX_LABEL_CHARS} 字符）")
    return value


def _published(value: Any, context: SourceContext, fetched_at: dt.datetime) -> dt.datetime | None:
    now = fetched_at if context.relative_times else None
    published = parse_timestamp(value, context.timezone, now=now)
    return None if published is None else check_published(published, fetched_at)


def _relative(
    value: Any, context: SourceContext, fetched_at: dt.datetime
) -> tuple[dt.datetime, dt.timedelta] | None:
    if not context.relative_times or not isinstance(value, str):
        return None
    return relative_time(value, fetched_at, ZoneInfo(context.timezone))


def _floored(when: dt.datetime, precision: dt.timedelta) -> dt.datetime:
    """`when` in UTC, cut to its precision (a minute, an hour, a day)."""
    step = int(precision.total_seconds())
    seconds = int(when.timestamp())
    return dt.datetime.fromtimestamp(seconds - seconds % step, dt.UTC)


def _to_int(value: Any, name: str) -> int | None:
    number: int | float
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        number = value
    else:
        text = str(value).strip().replace(",", "")
        if not text:
            return None
        multiplier = 1
        if text.endswith("万"):
            multiplier, text = 10_000, text[:-1]
        elif text.endswith("亿"):
            multiplier, text = 100_000_000, text[:-1]
        try:
            number = float(text) * multiplier
        except ValueError:
            raise ItemError(f"字段 {name} 应为数字，实际为 {str(value)[:40]!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ItemError(f"字段 {name} 的值 {str(value)[:40]!r} 不是有限的数")
    if not 0 <= number <= MAX_COUNT:
        raise ItemError(f"字段 {name} 的值 {str(value)[:40]!r} 超出范围（应在 0 至 {MAX_COUNT} 之间）")
    return min(int(number), MAX_COUNT)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "是", "t")
    return bool(value)


def _bounded_extra(extra: dict[str, Any]) -> dict[str, Any] | None:
    """The record's other scalar fields, within a size budget, in a form every store's JSON takes."""
    kept: dict[str, Any] = {}
    budget = _MAX_EXTRA_CHARS
    for key, value in extra.items():
        if isinstance(value, str | int | float | bool):
            scalar = _json_scalar(value)
            size = len(str(scalar)) if not isinstance(scalar, str) else len(scalar)
            if size <= budget:
                kept[storable(str(key))] = scalar
                budget -= size
    return kept or None


def _json_scalar(value: str | int | float | bool) -> str | int | float | bool:
    """Text without NUL characters; numbers beyond 64 bits, infinities and NaN as text."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if -(2**63) <= value < 2**63:
        return value
    return f"{value:.6e}"  # str() of a number of many thousands of digits raises
