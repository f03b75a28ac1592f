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
    published = find_date(html_text, url=url, outputformat="%Y-%m-%dT%H:%M:%S", original_date=True)
    record = {
        "url": url,
        "title": title,
        "text": text,
        "published_at": published,
        "author": data.get("author"),
        "site": data.get("sitename"),
    }
    return RawItem(record={k: v for k, v in record.items() if v}, locator=locator, raw=raw)


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
