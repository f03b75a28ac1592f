"""Fetching a source's URL: fetch errors become connector errors, bytes become an evidence document."""

from __future__ import annotations

import datetime as dt
import json
from email.utils import parsedate_to_datetime

from yuqing.ingest.connectors.base import ConnectorError, SourceSpec
from yuqing.ingest.fetcher import (
    BlockedAddressError,
    Fetcher,
    FetchError,
    FetchResult,
    HTTPStatusError,
    RobotsDisallowedError,
)
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
        said = server_message(exc.result)
        detail = f"（服务器说明：{said}）" if said else ""
        wait = retry_after(exc.result)
        asked = f"（服务器要求 {wait_text(wait)}后再试）" if wait else ""
        raise ConnectorError(
            f"抓取失败：{exc}{detail}{asked}", as_document(exc.result), retry_after=wait
        ) from exc
    except FetchError as exc:
        raise ConnectorError(f"抓取失败：{failure(exc)}") from exc


# A server asking for more than a day is not waited for longer than that: the source's health
# shows it, and an administrator can run it by hand.
MAX_RETRY_AFTER_SECONDS = 86400.0


def retry_after(result: FetchResult) -> float | None:
    """The wait a 429 or 503 answer asks for (`Retry-After`: seconds or an HTTP date), at most a
    day; None when the answer asks for none or for none that can be read."""
    if result.status not in (429, 503):
        return None
    return asked_wait(result.headers.get("retry-after", ""), result.fetched_at)


def asked_wait(value: str, now: dt.datetime) -> float | None:
    """The seconds a `Retry-After` value asks for (seconds, or an HTTP date read against `now`),
    at most a day; None when it asks for none or for none that can be read."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    return min(seconds, MAX_RETRY_AFTER_SECONDS) if seconds > 0 else None


def wait_text(seconds: float) -> str:
    """「90 秒」, 「15 分钟」, 「2 小时」: a wait as the run's message says it."""
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分钟"
    return f"{seconds / 3600:.1f} 小时".replace(".0 ", " ")


def failure(exc: FetchError) -> str:
    """A fetch error as the run shows it; a refusal that a bridge listing lifts says how."""
    if isinstance(exc, BlockedAddressError | RobotsDisallowedError):
        return (
            f"{exc}（如这是本单位自建的 RSSHub 或 WeWe RSS，请管理员把它的地址加入 bridge_instances，"
            "即环境变量 YUQING_BRIDGE_INSTANCES）"
        )
    return str(exc)


def server_message(result: FetchResult) -> str | None:
    """The message of a JSON error answer (``{"statusCode": 400, "message": "不存在该feed！"}``,
    as Nest/Express services such as WeWe RSS send), shortened; None for anything else."""
    body = result.body.strip()
    if not body.startswith(b"{") or len(body) > 4096:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return None
    said = (parsed.get("message") or parsed.get("error")) if isinstance(parsed, dict) else None
    if isinstance(said, list):  # Nest's validation errors: a list of messages
        said = "；".join(str(x) for x in said)
    return said.strip()[:200] if isinstance(said, str) and said.strip() else None


def as_document(result: FetchResult) -> Document:
    return Document(
        data=result.body,
        origin=result.final_url,
        media_type=result.content_type,
        fetched_at=result.fetched_at,
    )
