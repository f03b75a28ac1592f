"""Fetching a source's URL: fetch errors become connector errors, bytes become an evidence document."""

from __future__ import annotations

from yuqing.ingest.connectors.base import ConnectorError, SourceSpec
from yuqing.ingest.fetcher import Fetcher, FetchError, FetchResult, HTTPStatusError
from yuqing.ingest.records import Document


def fetch_source(
    fetcher: Fetcher, source: SourceSpec, *, conditional: bool = True, accept: str | None = None
) -> FetchResult:
    if not source.url:
        raise ConnectorError(f"信息源 {source.name} 没有设置网址")
    try:
        return fetcher.get(
            source.url,
            etag=source.etag if conditional else None,
            last_modified=source.last_modified if conditional else None,
            accept=accept,
        )
    except HTTPStatusError as exc:
        # Keep what the server said (an error page is evidence of what was online too).
        raise ConnectorError(f"抓取失败：{exc}", as_document(exc.result)) from exc
    except FetchError as exc:
        raise ConnectorError(f"抓取失败：{exc}") from exc


def as_document(result: FetchResult) -> Document:
    return Document(
        data=result.body,
        origin=result.final_url,
        media_type=result.content_type,
        fetched_at=result.fetched_at,
    )
