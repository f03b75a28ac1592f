"""Normalisation of collected text, URLs and times.

Analysis works on simplified characters (OpenCC t2s) while the text as published is kept; HTML
becomes plain text; URLs lose tracking parameters so one article has one canonical URL; every
timestamp becomes an aware UTC datetime (a time published without a zone is read in the
configured zone, Asia/Shanghai by default).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import html
import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import lxml.html
import opencc
from lxml.etree import ParserError

_converter = opencc.OpenCC("t2s")

# Query parameters that identify a campaign, a share or a client rather than the content.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "spm",
        "scm",
        "from",
        "isappinstalled",
        "share_token",
        "share_source",
        "share_medium",
        "share_from",
        "sharer_sharetime",
        "sharer_shareid",
        "sharer_shareinfo",
        "sharer_shareinfo_first",
        "chksm",
        "scene",
        "clicktime",
        "enterid",
        "subscene",
        "sessionid",
        "ascene",
        "devicetype",
        "nettype",
        "pass_ticket",
        "wx_header",
        "srcid",
        "exportkey",
        "wfr",
        "vd_source",
        "share_plat",
        "ref_src",
        "_t",
        "tt_from",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "utm_id",
        # Xiaohongshu's page tokens: issued per search and viewer, not part of the note's address
        # (MediaCrawler's note_url keeps them; a later crawl gets another token for the same note)
        "xsec_token",
        "xsec_source",
    }
)
_TRACKING_PREFIXES = ("utm_", "share_", "sharer_")

_WS = re.compile(r"\s+")
_HTML_HINT = re.compile(r"<[a-zA-Z/!][^>]*>|&[a-zA-Z#0-9]+;")
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "head")
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "dd",
        "dt",
        "header",
        "footer",
    }
)


def to_simplified(text: str) -> str:
    """Traditional to simplified characters; simplified text passes through unchanged."""
    if not text or text.isascii():
        return text
    return str(_converter.convert(text))


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment or page, with block elements on their own lines."""
    if not markup or not _HTML_HINT.search(markup):
        return markup
    try:
        root: lxml.html.HtmlElement = lxml.html.fromstring(markup)
    except (ParserError, ValueError):
        return _WS.sub(" ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()
    for element in root.iter(*_DROP_TAGS):
        element.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
    text = root.text_content()
    lines = (_WS.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def clean_text(text: str) -> str:
    """Published text with whitespace tidied (kept as published otherwise)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return storable(text).strip()


def storable(text: str) -> str:
    """Text every database takes: no NUL characters (PostgreSQL refuses them) and no lone
    surrogates (which cannot be encoded as UTF-8), each replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def content_key(simplified: str) -> str:
    """The form compared for exact duplicates: NFKC, lower case, no whitespace."""
    return _WS.sub("", unicodedata.normalize("NFKC", simplified)).lower()


def content_hash(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


def canonical_url(url: str) -> str | None:
    """The URL with scheme and host lower-cased, default port, fragment and tracking parameters gone,
    and the remaining query parameters sorted. None for something that is not an http(s) URL."""
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        return None
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMETERS and not key.lower().startswith(_TRACKING_PREFIXES)
    )
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


_CN_DATETIME = re.compile(
    r"(?P<y>\d{4})\s*[年/.\-]\s*(?P<m>\d{1,2})\s*[月/.\-]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?P<H>\d{1,2})\s*[:时點点]\s*(?P<M>\d{1,2})(?:\s*[:分]\s*(?P<S>\d{1,2}))?)?"
)


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# Publication times outside this window are mistakes or poison (year 9999, an epoch in
# nanoseconds), not news: the earliest is before any source yuqing reads went online; the latest is
# a week after the post was fetched, room for a wrong time zone or an article dated ahead.
EARLIEST_PUBLISHED = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
LATEST_PUBLISHED_AHEAD = dt.timedelta(days=7)


def parse_timestamp(value: object, default_zone: str = "Asia/Shanghai") -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601, RFC 2822, a Unix epoch (s or ms), or a Chinese date
    such as 2024年3月5日 10:20. None for an empty value; ValueError for one that is not a time,
    or one that no datetime can hold (year 9999 west of UTC, an epoch of 1e20)."""
    if value is None or value == "":
        return None
    try:
        return _parse_timestamp(value, _zone(default_zone))
    except (OverflowError, OSError) as exc:
        raise ValueError(f"时间超出可表示的范围：{str(value)[:60]!r}") from exc


def _parse_timestamp(value: object, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000 if value > 10**11 else float(value)
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    elif isinstance(value, str):
        parsed = _parse_timestamp_text(value.strip())
    else:
        raise ValueError(f"无法识别的时间：{str(value)[:60]!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


def check_published(value: dt.datetime, fetched_at: dt.datetime) -> dt.datetime:
    """The publication time if it lies in the sane window, else ValueError saying why."""
    latest = fetched_at + LATEST_PUBLISHED_AHEAD
    if not EARLIEST_PUBLISHED <= value <= latest:
        raise ValueError(
            f"发布时间 {value.isoformat()} 不在合理范围内"
            f"（{EARLIEST_PUBLISHED:%Y-%m-%d} 至采集时间后 {LATEST_PUBLISHED_AHEAD.days} 天）"
        )
    return value


def _parse_timestamp_text(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    if text.isdigit() and len(text) <= 20:
        seconds = int(text)
        return dt.datetime.fromtimestamp(seconds / 1000 if seconds > 10**11 else seconds, dt.UTC)
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    match = _CN_DATETIME.search(text)
    if match:
        return dt.datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            int(match["H"] or 0),
            int(match["M"] or 0),
            int(match["S"] or 0),
        )
    raise ValueError(f"无法识别的时间格式: {text[:60]!r}")


def to_display_time(value: dt.datetime, zone: str = "Asia/Shanghai") -> str:
    """A stored UTC time as users read it, e.g. 2026-11-21 20:05:00 (Asia/Shanghai)."""
    return value.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M:%S")


def display_iso(value: dt.datetime | None, zone: str = "Asia/Shanghai") -> str | None:
    """A stored UTC time as ISO 8601 with the display zone's offset."""
    return None if value is None else value.astimezone(_zone(zone)).isoformat()
