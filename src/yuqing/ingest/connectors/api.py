"""JSON HTTP APIs, polled: the items are found at `items_path` of the response and mapped with
the source's field mapping (`mapping` in its configuration)."""

from __future__ import annotations

from typing import Any

import orjson

from yuqing.ingest.connectors.base import Collected, ConnectorError, SourceSpec, register
from yuqing.ingest.connectors.http import as_document, fetch_source
from yuqing.ingest.decoding import decode_document
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.records import RawItem, Rejected


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
            payload = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ConnectorError(f"接口返回的不是合法 JSON：{exc}", document) from exc
        items = json_items(payload, source.config.get("items_path"))
        return Collected(document=document, items=items, etag=result.etag, last_modified=result.last_modified)


def json_items(payload: Any, items_path: str | None = None) -> list[RawItem | Rejected]:
    """The records of a JSON document: a list, an object holding a list, or one object."""
    found = payload
    if items_path:
        for key in items_path.split("."):
            if isinstance(found, dict) and key in found:
                found = found[key]
            elif isinstance(found, list) and key.isdigit() and int(key) < len(found):
                found = found[int(key)]
            else:
                raise ConnectorError(f"JSON 中找不到条目路径 {items_path!r}（缺少 {key!r}）")
    elif isinstance(found, dict):
        for key in ("posts", "items", "data", "results", "list", "statuses"):
            if isinstance(found.get(key), list):
                found = found[key]
                break
    records = found if isinstance(found, list) else [found]
    items: list[RawItem | Rejected] = []
    for position, record in enumerate(records):
        raw = orjson.dumps(record)
        if isinstance(record, dict):
            items.append(RawItem(record=record, locator=f"item={position}", raw=raw))
        else:
            items.append(Rejected(f"item={position}", "ingest.parse", "条目不是 JSON 对象", raw))
    return items


register("api", APIConnector)
