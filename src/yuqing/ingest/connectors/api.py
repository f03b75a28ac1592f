"""JSON HTTP APIs, polled: the items are found at `items_path` of the response and mapped with
the source's field mapping (`mapping` in its configuration). The response is read as a stream
(`ingest.jsonstream`), so a large one costs no more memory than a batch of its records."""

from __future__ import annotations

from yuqing.ingest.connectors.base import Collected, ConnectorError, SourceSpec, register
from yuqing.ingest.connectors.http import as_document, fetch_source
from yuqing.ingest.decoding import decode_document
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.jsonstream import JSONStreamError, json_records


class APIConnector:
    kind = "api"

    def collect(self, source: SourceSpec, fetcher: Fetcher) -> Collected:
        result = fetch_source(fetcher, source, accept="application/json")
        if result.not_modified:
            return Collected(
                document=None, not_modified=True, etag=source.etag, last_modified=source.last_modified
            )
        document = as_document(result)
        text = decode_document(result.body, result.declared_charset, kind="text").text
        try:
            items = json_records(text.encode("utf-8"), source.config.get("items_path"))
        except JSONStreamError as exc:
            raise ConnectorError(f"接口返回的不是合法 JSON：{exc}", document) from exc
        except ConnectorError as exc:
            raise ConnectorError(str(exc), document) from exc
        return Collected(document=document, items=items, etag=result.etag, last_modified=result.last_modified)


register("api", APIConnector)
