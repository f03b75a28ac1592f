"""Pipeline stages `ingest.map` and `ingest.normalise`: a raw record becomes a post draft.

Pure functions over batches, with no database access, so they can run in any worker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from yuqing.ingest.mapping import FieldMapping
from yuqing.ingest.normalise import (
    canonical_url,
    clean_text,
    content_hash,
    content_key,
    html_to_text,
    parse_timestamp,
    to_simplified,
)
from yuqing.ingest.records import PostDraft, RawItem, Rejected

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


class ItemError(ValueError):
    """A record that cannot become a post; the message is shown to users."""


def prepare_batch(
    items: Iterable[RawItem], context: SourceContext, fetched_at: dt.datetime
) -> list[PostDraft | Rejected]:
    """Stages ingest.map and ingest.normalise for a batch, in input order."""
    out: list[PostDraft | Rejected] = []
    for item in items:
        try:
            out.append(prepare_item(item, context, fetched_at))
        except (ItemError, ValueError, TypeError) as exc:
            out.append(Rejected(item.locator, "ingest.normalise", str(exc), item.raw))
    return out


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
        original = clean_text(html_to_text(html_value))
    elif original and "<" in original:
        original = clean_text(html_to_text(original))
    title = _opt_str(fields.get("title"))
    if title and "<" in title:
        title = html_to_text(title)

    url = _opt_str(fields.get("url"))
    canonical = canonical_url(url) if url else None
    external_id = _opt_str(fields.get("external_id"))
    platform = _opt_str(fields.get("platform")) or context.platform
    if context.guess_platform and "platform" not in fields and _WEIBO_HINTS.intersection(record):
        platform = "weibo"

    simplified = to_simplified(original)
    key = content_key(simplified)
    title_key = content_key(to_simplified(title)) if title else ""
    if canonical:
        url_key = canonical
    elif external_id:
        url_key = f"{platform}:{external_id}"
    elif key or title_key:
        url_key = "content:" + content_hash(title_key + "\n" + key)
    else:
        raise ItemError("记录既没有链接或编号，也没有正文或标题")

    draft = PostDraft(
        locator=item.locator,
        url_key=url_key,
        platform=platform,
        media_tier=_opt_str(fields.get("media_tier")) or context.media_tier,
        text_original=original,
        text=simplified,
        fetched_at=fetched_at,
        content_hash=content_hash(key) if len(key) >= context.min_content_chars else None,
        external_id=external_id,
        url=url,
        canonical_url=canonical,
        title=title,
        published_at=parse_timestamp(fields.get("published_at"), context.timezone),
        item_sha256=hashlib.sha256(item.raw).hexdigest() if item.raw is not None else None,
    )
    for name in _INT_FIELDS:
        value = fields.get(name)
        if value is not None:
            setattr(draft, name, _to_int(value, name))
    for name in _STR_FIELDS:
        value = fields.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            setattr(draft, name, str(value)[:300])
    verified = fields.get("author_verified")
    if verified is not None:
        draft.author_verified = _to_bool(verified)
    if draft.kind not in ("original", "repost", "comment", "reply"):
        draft.kind = "original"
    if extra:
        draft.extra = _bounded_extra(extra)
    return draft


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _to_int(value: Any, name: str) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip().replace(",", "")
    if not text:
        return None
    multiplier = 1
    if text.endswith("万"):
        multiplier, text = 10_000, text[:-1]
    elif text.endswith("亿"):
        multiplier, text = 100_000_000, text[:-1]
    try:
        return int(float(text) * multiplier)
    except ValueError:
        raise ItemError(f"字段 {name} 应为数字，实际为 {str(value)[:40]!r}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "是", "t")
    return bool(value)


def _bounded_extra(extra: dict[str, Any]) -> dict[str, Any] | None:
    kept: dict[str, Any] = {}
    budget = _MAX_EXTRA_CHARS
    for key, value in extra.items():
        if isinstance(value, str | int | float | bool):
            size = len(str(value))
            if size <= budget:
                kept[key] = value
                budget -= size
    return kept or None
