"""RSS and Atom feeds (feedparser), with conditional requests (ETag, Last-Modified).

The bytes are decoded by yuqing, not by feedparser, so a feed whose declared charset is wrong
(a GBK feed claiming UTF-8, or the reverse) still reads correctly.
"""

from __future__ import annotations

import re
import time
from typing import Any

import feedparser

from yuqing.ingest.connectors.base import Collected, ConnectorError, SourceSpec, register
from yuqing.ingest.connectors.http import as_document, fetch_source
from yuqing.ingest.decoding import decode_document, xml_bytes_for_parser
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.normalise import parse_timestamp
from yuqing.ingest.records import RawItem, Rejected

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


class RSSConnector:
    kind = "rss"

    def collect(self, source: SourceSpec, fetcher: Fetcher) -> Collected:
        result = fetch_source(fetcher, source, accept=ACCEPT)
        if result.not_modified:
            return Collected(
                document=None, not_modified=True, etag=source.etag, last_modified=source.last_modified
            )
        document = as_document(result)
        try:
            collected = parse_feed(result.body, result.declared_charset)
        except ConnectorError as exc:
            raise ConnectorError(str(exc), document) from exc
        collected.document = document
        collected.etag = result.etag
        collected.last_modified = result.last_modified
        return collected


def parse_feed(body: bytes, declared_charset: str | None) -> Collected:
    """Entries of a feed; ConnectorError when the document is not a feed at all."""
    decoded = decode_document(body, declared_charset, kind="xml")
    if _root_element(decoded.text) == "html":
        raise ConnectorError("返回的是 HTML 网页而不是 RSS/Atom 订阅源（请改用 web 类型或检查网址）")
    # Bytes, not str: feedparser would trust a stale encoding declaration inside a str.
    parsed = feedparser.parse(xml_bytes_for_parser(decoded.text))
    entries: list[Any] = list(parsed.entries)
    warnings: list[str] = []
    if parsed.bozo:
        reason = xml_error_text(parsed.get("bozo_exception"))
        if not entries:
            raise ConnectorError(f"订阅源无法解析：{reason}")
        warnings.append(f"订阅源格式有误，已尽量读取 {len(entries)} 条：{reason}")
    if not entries and not parsed.feed:
        raise ConnectorError("文档中没有找到 RSS/Atom 条目")
    items: list[RawItem | Rejected] = []
    for position, entry in enumerate(entries):
        items.append(RawItem(record=_entry_record(entry), locator=f"entry={position}"))
    cut_off = parsed.bozo and bool(items) and not _closed(decoded.text)
    if cut_off and _last_entry_open(decoded.text):
        # A feed cut off in transit inside its last entry: that entry may have lost its text, link
        # or date. Stored, it would stay so (the complete copy fetched next time is a duplicate of
        # it); it waits in the dead-letter list instead and the next complete fetch stores it
        # whole. A feed cut after a complete entry (or that never closes its channel) keeps it.
        last = items.pop()
        items.append(
            Rejected(
                locator=last.locator if isinstance(last, RawItem) else f"entry={len(entries) - 1}",
                stage="ingest.parse",
                error="订阅源在最后一个条目处被截断（文档不完整），该条目未入库，待下次完整获取时再入库",
                raw=decoded.text[-4000:].encode("utf-8"),
            )
        )
    return Collected(document=None, items=items, warnings=warnings, cut_off=cut_off)


# expat's messages (what feedparser reports for a malformed feed), as the office reads them
_XML_ERRORS = {
    "no element found": "文档为空或在结尾处不完整",
    "not well-formed (invalid token)": "含有无效字符或写法",
    "mismatched tag": "开始标签与结束标签不匹配",
    "unclosed token": "有未闭合的标记",
    "undefined entity": "使用了未定义的实体（如 &nbsp;）",
    "junk after document element": "根元素结束后还有多余内容",
    "syntax error": "语法错误",
    "unbound prefix": "使用了未声明的命名空间前缀",
    "duplicate attribute": "同一属性出现两次",
}
_XML_WHERE = re.compile(r"<unknown>:(\d+):(\d+):\s*(.*)$")


def xml_error_text(exc: object) -> str:
    """A feed parser's error in Chinese: 「第 2 行第 0 列：文档为空或在结尾处不完整」; an error it
    cannot name keeps its own words after 「格式错误」."""
    if exc is None:
        return "格式错误"
    text = " ".join(str(exc).split())
    found = _XML_WHERE.match(text)
    where, what = (f"第 {found.group(1)} 行第 {found.group(2)} 列：", found.group(3)) if found else ("", text)
    for english, chinese in _XML_ERRORS.items():
        if what.startswith(english):
            return where + chinese
    return where + f"格式错误（{what[:200]}）"


# What may come before a document's root element: an XML declaration, processing instructions,
# comments, a doctype (an XHTML login page starts with all of them), a byte-order mark.
_PROLOGUE = re.compile(r"\A(?:\ufeff|\s+|<\?.*?\?>|<!--.*?-->|<!doctype[^>]*>)*", re.IGNORECASE | re.DOTALL)
_ROOT = re.compile(r"<\s*(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def _root_element(text: str) -> str | None:
    """The local name of the document's root element, lower-cased (`html` for an XHTML page in
    any namespace), or None when the text does not start with one."""
    head = text[:65536]
    start = _PROLOGUE.match(head)
    found = _ROOT.match(head, start.end() if start else 0)
    return found.group(1).lower() if found else None


# The closing tag of an RSS, Atom or RDF document, with nothing after it but space and comments (a
# cache's 「<!-- generated in 3 ms -->」): a feed without one at its end was cut off.
_CLOSED_FEED = re.compile(r"</\s*(?:rss|feed|rdf:rdf)\s*>(?:\s|<!--.*?-->)*$", re.IGNORECASE | re.DOTALL)
_ENTRY_OPEN = re.compile(r"<\s*(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s>/])", re.IGNORECASE)
_ENTRY_CLOSE = re.compile(r"<\s*/\s*(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.IGNORECASE)


def _closed(text: str) -> bool:
    return bool(_CLOSED_FEED.search(text[-2000:]))


def _last_entry_open(text: str) -> bool:
    """Whether the document's last entry has no closing tag: it was cut off inside that entry."""
    last = max((m.end() for m in _ENTRY_OPEN.finditer(text)), default=None)
    return last is not None and not _ENTRY_CLOSE.search(text, last)


def _entry_record(entry: Any) -> dict[str, Any]:
    content = entry.get("content")
    body = content[0].get("value") if content else entry.get("summary")
    published = entry.get("published") or entry.get("updated")
    parsed_time = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed_time is not None and not _readable_time(published):
        # Only for forms yuqing's own parser cannot read: feedparser reads 「2025年6月1日 10:20」
        # and 「2025/06/01」 as 1 December of the year, and a time without a zone as UTC, where
        # yuqing applies the source's zone (Asia/Shanghai by default).
        published = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", parsed_time)
    record: dict[str, Any] = {
        "id": entry.get("id") or entry.get("link"),
        "url": entry.get("link"),
        "title": entry.get("title"),
        "html": body,
        "published_at": published,
        "author": entry.get("author"),
    }
    return {k: v for k, v in record.items() if v}


def _readable_time(value: object) -> bool:
    try:
        return parse_timestamp(value) is not None
    except ValueError:
        return False


register("rss", RSSConnector)
