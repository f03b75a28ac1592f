"""The connector interface: one small plugin per kind of source.

A connector turns a source's configuration into a document (the bytes as fetched, kept as
evidence) and the items found in it. Built-in connectors register here; others are found through
the `yuqing.connectors` entry-point group. A source whose connector is missing fails its runs with
a clear message instead of crashing the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.records import Document, RawItem, Rejected

log = logging.getLogger(__name__)


class ConnectorError(Exception):
    """A whole fetch failed (unreachable, not a feed, unreadable); the message is for users."""

    def __init__(
        self, message: str, document: Document | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.document = document
        # seconds the server asked us to wait (429/503 Retry-After): the next run waits that long
        self.retry_after = retry_after


@dataclass(frozen=True)
class SourceSpec:
    """What a connector may know of its source."""

    id: int
    name: str
    kind: str
    url: str | None
    config: Mapping[str, Any] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Collected:
    """The result of one collection from a source."""

    document: Document | None
    # Read once, in order; a connector may hand out a stream so a large document is never held
    # as objects all at once.
    items: Iterable[RawItem | Rejected] = field(default_factory=list)
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    # Problems with the document as a whole that still let some items through (a malformed feed).
    warnings: list[str] = field(default_factory=list)
    # The document was cut off in transit: its validators (ETag, Last-Modified) name the whole
    # document, so they are not kept, or the complete copy would be answered 304 next time.
    cut_off: bool = False
    # The next fetch is not due before this many seconds (a bridge's cache time).
    min_interval_seconds: int | None = None
    # Further documents fetched for the items (the articles a listing page links to), each kept
    # as evidence too; an item's own bytes are found again by its `item_sha256`.
    documents: list[Document] = field(default_factory=list)


class Connector(Protocol):
    kind: str

    def collect(self, source: SourceSpec, fetcher: Fetcher) -> Collected: ...


ConnectorFactory = Callable[[], Connector]
_REGISTRY: dict[str, ConnectorFactory] = {}


def register(kind: str, factory: ConnectorFactory) -> None:
    _REGISTRY[kind] = factory


def get_connector(kind: str) -> Connector:
    """The connector for a kind of source; ConnectorError when no plugin provides it."""
    if kind not in _REGISTRY:
        _load_builtin()
    if kind not in _REGISTRY:
        for entry in entry_points(group="yuqing.connectors"):
            if entry.name == kind:
                try:
                    register(kind, entry.load())
                except Exception as exc:  # a broken plugin must not take the scheduler down
                    log.exception("connector plugin %s failed to load", entry.name)
                    raise ConnectorError(f"采集插件 {kind} 加载失败：{exc}") from exc
    if kind not in _REGISTRY:
        raise ConnectorError(f"没有 {kind!r} 类型的采集插件")
    return _REGISTRY[kind]()


def available_kinds() -> list[str]:
    _load_builtin()
    return sorted(set(_REGISTRY) | {e.name for e in entry_points(group="yuqing.connectors")})


def _load_builtin() -> None:
    # Imported lazily: each module registers itself.
    from yuqing.ingest.connectors import api, rss, rsshub, web  # noqa: F401
