"""Web pages: main text, title and publication date (trafilatura, htmldate).

A `web` source is one page, or, with `link_pattern` in its configuration, a listing page whose
matching links are each fetched as an article (at most `max_links`, default 30).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import lxml.html
import trafilatura
from htmldate import find_date
from lxml.etree import ParserError

from yuqing.ingest.connectors.base import Collected, ConnectorError, SourceSpec, register
from yuqing.ingest.connectors.http import as_document, fetch_source
from yuqing.ingest.decoding import decode_document
from yuqing.ingest.fetcher import Fetcher, FetchError
from yuqing.ingest.records import Document, RawItem, Rejected


class WebConnector:
    kind = "web"

    def collect(self, source: SourceSpec, fetcher: Fetcher) -> Collected:
        pattern = source.config.get("link_pattern")
        result = fetch_source(fetcher, source, conditional=not pattern)
        if result.not_modified:
            return Collected(
                document=None, not_modified=True, etag=source.etag, last_modified=source.last_modified
            )
        document = as_document(result)
        decoded = decode_document(result.body, result.declared_charset, kind="html")
        items: list[RawItem | Rejected] = []
        articles: list[Document] = []
        if pattern:
            try:
                links = listing_links(decoded.text, result.final_url, str(pattern))
            except ConnectorError as exc:
                raise ConnectorError(str(exc), document) from exc
            for position, link in enumerate(links[: int(source.config.get("max_links", 30))]):
                try:
                    page = fetcher.get(link)
                except FetchError as exc:
                    items.append(Rejected(f"link={link}", "ingest.fetch", f"抓取失败：{exc}"))
                    continue
                text = decode_document(page.body, page.declared_charset, kind="html").text
                items.append(page_item(text, page.final_url, f"link={position}", page.body))
                articles.append(as_document(page))  # the article's bytes, as evidence of its post
        else:
            items.append(page_item(decoded.text, result.final_url, "page", result.body))
        return Collected(
            document=document,
            items=items,
            etag=result.etag,
            last_modified=result.last_modified,
            documents=articles,
        )


def page_item(html_text: str, url: str, locator: str, raw: bytes) -> RawItem | Rejected:
    """The article on a page, or a rejection saying why none was found."""
    extracted = trafilatura.bare_extraction(
        html_text, url=url, with_metadata=True, include_comments=False, favor_precision=True
    )
    data: dict[str, Any] = {}
    if extracted is not None:
        data = extracted.as_dict() if hasattr(extracted, "as_dict") else dict(extracted)
    text = (data.get("text") or "").strip()
    title = data.get("title") or _html_title(html_text)
    if not text:
        return Rejected(locator, "ingest.extract", f"页面中没有找到正文：{url}", raw)
    published = published_time(html_text, url)
    record = {
        "url": url,
        "title": title,
        "text": text,
        "published_at": published,
        "author": data.get("author"),
        "site": data.get("sitename"),
    }
    return RawItem(record={k: v for k, v in record.items() if v}, locator=locator, raw=raw)


# 「发布时间：2026-06-01 10:00」, 「发布日期：2026年6月1日」, 「时间：2026/06/01」 on a Chinese page.
_LABELLED = re.compile(
    r"(?:发布|发表|更新|印发|成文)?(?:时间|日期)\s*[:：]\s*"
    r"(20\d\d|19\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*(\d{1,2})\s*[:：时]\s*(\d{2}))?"
)
_CHINESE_DATE = re.compile(r"(20\d\d|19\d\d)年(\d{1,2})月(\d{1,2})日(?:\s*(\d{1,2})[:：时](\d{2}))?")
_TAGS = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]+>", re.S | re.I)


def published_time(html_text: str, url: str) -> str | None:
    """When the page was published: a labelled time on the page (「发布时间：2026-06-01 10:00」),
    else the page's metadata (meta tags, <time>, the URL), else the first full Chinese date in its
    text (「2026年6月2日」). htmldate's deeper search, tried last before, took a bare 「2026」 for
    1 January and dropped the clock time a Chinese page states."""
    text = " ".join(_TAGS.sub(" ", html_text[:500_000]).split())
    for pattern in (_LABELLED, None, _CHINESE_DATE):
        if pattern is None:
            found = find_date(
                html_text,
                url=url,
                outputformat="%Y-%m-%dT%H:%M:%S",
                original_date=True,
                extensive_search=False,
            )
            if found:
                return found
            continue
        match = pattern.search(text)
        if match is None:
            continue
        year, month, day, hour, minute = (int(g) if g else 0 for g in match.groups())
        if 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60:
            return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00"
    return None


def listing_links(html_text: str, base_url: str, pattern: str) -> list[str]:
    """Absolute links on a listing page whose URL matches the pattern, in page order, once each."""
    try:
        root = lxml.html.fromstring(html_text)
    except (ParserError, ValueError) as exc:
        raise ConnectorError(f"列表页无法解析：{exc}") from exc
    regex = re.compile(pattern)
    seen: dict[str, None] = {}
    hrefs = root.xpath("//a/@href")
    for href in hrefs if isinstance(hrefs, list) else []:
        absolute = urljoin(base_url, str(href))
        if regex.search(absolute):
            seen.setdefault(absolute, None)
    return list(seen)


def _html_title(html_text: str) -> str | None:
    match = re.search(r"<title[^>]*>(.*?)</title>", html_text, re.S | re.I)
    return match.group(1).strip() if match else None


register("web", WebConnector)
