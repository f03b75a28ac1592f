"""The shapes passed between connectors and the ingest pipeline."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class RawItem:
    """One record as a connector found it, before mapping and normalisation."""

    record: Mapping[str, Any]
    locator: str  # where in the document: "line=12", "entry=3", "item=0"
    raw: bytes | None = None  # this item's own bytes, when it has any of its own


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input that could not become a post; it goes to the dead-letter list."""

    locator: str
    stage: str
    error: str
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """Bytes exactly as fetched or received: kept as evidence."""

    data: bytes
    origin: str
    media_type: str | None
    fetched_at: dt.datetime


@dataclass(slots=True)
class PostDraft:
    """A post after mapping and normalisation, before duplicate detection and storage."""

    locator: str
    url_key: str
    platform: str
    media_tier: str
    text_original: str
    text: str
    fetched_at: dt.datetime
    content_hash: str | None = None
    external_id: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    kind: str = "original"
    parent_external_id: str | None = None
    root_external_id: str | None = None
    title: str | None = None
    author: str | None = None
    author_id: str | None = None
    author_verified: bool | None = None
    author_kind: str | None = None
    author_followers: int | None = None
    author_following: int | None = None
    author_posts: int | None = None
    location: str | None = None
    published_at: dt.datetime | None = None
    views: int | None = None
    reposts: int | None = None
    comments: int | None = None
    likes: int | None = None
    item_sha256: str | None = None
    extra: dict[str, Any] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Drafts cross from the prepare worker to the writer by pickle; a plain tuple of values
        # pickles about ten times faster than the default dataclass state.
        return (_draft_from_values, (_draft_values(self),))


_DRAFT_FIELDS = tuple(f.name for f in fields(PostDraft))
_draft_values = operator.attrgetter(*_DRAFT_FIELDS)


def _draft_from_values(values: tuple[Any, ...]) -> PostDraft:
    return PostDraft(*values)


@dataclass
class IngestCounts:
    """What happened to the rows of one run; the four counts add up to the rows read."""

    new: int = 0
    duplicate: int = 0
    near_duplicate: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.new + self.duplicate + self.near_duplicate + self.rejected

    def add(self, other: IngestCounts) -> None:
        self.new += other.new
        self.duplicate += other.duplicate
        self.near_duplicate += other.near_duplicate
        self.rejected += other.rejected
        self.errors.extend(other.errors)

    def as_dict(self) -> dict[str, int]:
        return {
            "new": self.new,
            "duplicate": self.duplicate,
            "near_duplicate": self.near_duplicate,
            "rejected": self.rejected,
        }
