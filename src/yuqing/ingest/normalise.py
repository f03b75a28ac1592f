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


_CLOCK_MARK = r"上午|下午|中午|晚上|凌晨|早上|傍晚|AM|PM|am|pm"
_CN_DATETIME = re.compile(
    r"(?P<y>\d{4})\s*[年/.\-]\s*(?P<m>\d{1,2})\s*[月/.\-]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?:星期|周|礼拜)[一二三四五六日天])?"
    rf"(?:\s*T?\s*(?P<mark1>{_CLOCK_MARK})?\s*(?P<H>\d{{1,2}})\s*[:：时點点]\s*(?P<M>\d{{1,2}})\s*分?"
    r"(?:\s*[:：]?\s*(?P<S>\d{1,2})(?:\.\d+)?\s*秒?)?"
    rf"\s*(?P<mark2>{_CLOCK_MARK})?)?"
)
# What may stand before a time in a scraped field (「发布时间：2026-11-20 09:00」) and after it
# (「… 来源：人民网」: text, never a Latin word, which could be a zone such as PST that would be
# read wrong).
_TIME_LABEL = re.compile(r"^(?:发布时间|发表时间|发表于|发布于|更新时间|时间|日期)\s*[:：]?\s*")
_HARMLESS_TAIL = re.compile(r"\s*[^\x00-\x7f].*", re.DOTALL)
# A zone written after the time. 「CST」 in Chinese data is China Standard Time (+08:00), where
# RFC 2822 reads it as US Central (-06:00): a post from Beijing at 10:00 landed at midnight.
_ZONE_TAIL = re.compile(
    r"\s*(?:(?P<name>UTC|GMT|CST|BJT|HKT|北京时间)(?:\s*(?P<sign>[+-])\s*(?P<hh>\d{1,2})(?::?(?P<mm>\d{2}))?)?"
    r"|(?P<sign2>[+-])(?P<hh2>\d{2}):?(?P<mm2>\d{2}))$",
    re.IGNORECASE,
)
_ZONE_OFFSETS = {"utc": 0, "gmt": 0, "cst": 8, "bjt": 8, "hkt": 8, "北京时间": 8}
_BRACKET_ZONE = re.compile(r"(?P<time>.+?)\[(?P<zone>[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)+|UTC)\]$")
_CST_TOKEN = re.compile(r"(?<![A-Za-z])CST(?![A-Za-z])")


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# Publication times outside this window are mistakes or poison (year 9999, an epoch in
# nanoseconds), not news: the earliest is before any source yuqing reads went online; the latest is
# a week after the post was fetched, room for a wrong time zone or an article dated ahead.
EARLIEST_PUBLISHED = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
LATEST_PUBLISHED_AHEAD = dt.timedelta(days=7)


def parse_timestamp(
    value: object, default_zone: str = "Asia/Shanghai", *, now: dt.datetime | None = None
) -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601, RFC 2822, a Unix epoch (s or ms), or a Chinese date
    such as 2024年3月5日 10:20. None for an empty value; ValueError for one that is not a time,
    or one that no datetime can hold (year 9999 west of UTC, an epoch of 1e20).

    With `now` (when the page or push was fetched), the forms Chinese sites show for recent posts
    are read against it (`relative_time`): 刚刚, 5分钟前, 今天 10:20, 昨天 10:20, 11-30 08:15,
    12月1日. Without it they are a ValueError that says so."""
    if value is None or value == "":
        return None
    try:
        return _parse_timestamp(value, _zone(default_zone), now)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"时间超出可表示的范围：{str(value)[:60]!r}") from exc


def _parse_timestamp(value: object, zone: ZoneInfo, now: dt.datetime | None = None) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000 if value > 10**11 else float(value)
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = _parse_timestamp_text(text)
        except ValueError:
            relative = relative_time(text, now, zone) if now is not None else None
            if relative is not None:
                return relative[0].astimezone(dt.UTC)
            if now is None and relative_time(text, dt.datetime.now(zone), zone) is not None:
                raise ValueError(
                    f"相对时间 {text[:60]!r} 无法换算：不知道它是何时采集的（文件导入时请先换成具体日期）"
                ) from None
            raise
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
    bracketed = _BRACKET_ZONE.fullmatch(text)  # Java's ZonedDateTime: 2026-12-05T10:00+08:00[Asia/Shanghai]
    named_zone: dt.tzinfo | None = None
    if bracketed is not None:
        try:
            named_zone = ZoneInfo(bracketed["zone"])
        except (KeyError, ValueError):
            raise ValueError(f"无法识别的时区：{bracketed['zone'][:40]!r}") from None
        text = bracketed["time"]
    try:
        parsed = dt.datetime.fromisoformat(text)
        return parsed.replace(tzinfo=named_zone) if parsed.tzinfo is None and named_zone else parsed
    except ValueError:
        pass
    if text.isdigit() and len(text) <= 20:
        seconds = int(text)
        return dt.datetime.fromtimestamp(seconds / 1000 if seconds > 10**11 else seconds, dt.UTC)
    try:
        # RFC 2822 and Java's Date.toString (「Sat Dec 05 10:00:00 CST 2026」), CST as China's
        return email.utils.parsedate_to_datetime(_CST_TOKEN.sub("+0800", text))
    except (TypeError, ValueError, IndexError):
        pass
    return _chinese_datetime(text)


def _chinese_datetime(text: str) -> dt.datetime:
    """A date written as people write it: 2024年3月5日 下午3:30, 2024/03/05 10:20 PM, 2024-03-05
    10:20 UTC, 发布时间：2024-03-05 10:20. The whole text must be read; a word left over that could
    change the time (a zone such as PST) makes it unreadable, not a guess."""
    body = _TIME_LABEL.sub("", text)
    zone: dt.tzinfo | None = None
    tail = _ZONE_TAIL.search(body)
    if tail is not None:
        if tail["name"]:
            minutes = _ZONE_OFFSETS[tail["name"].lower()] * 60
            if tail["sign"]:
                extra = int(tail["hh"]) * 60 + int(tail["mm"] or 0)
                minutes += extra if tail["sign"] == "+" else -extra
        else:
            minutes = int(tail["hh2"]) * 60 + int(tail["mm2"])
            minutes = minutes if tail["sign2"] == "+" else -minutes
        zone = dt.timezone(dt.timedelta(minutes=minutes))
        body = body[: tail.start()]
    match = _CN_DATETIME.match(body)
    if match is None or not (match.end() == len(body) or _HARMLESS_TAIL.fullmatch(body[match.end() :])):
        raise ValueError(f"无法识别的时间格式: {text[:60]!r}")
    if zone is not None and match.end() != len(body):
        raise ValueError(f"无法识别的时间格式: {text[:60]!r}")
    hour = int(match["H"] or 0)
    mark = (match["mark1"] or match["mark2"] or "").lower()
    if (mark in ("下午", "晚上", "傍晚", "pm") and hour < 12) or (mark == "中午" and hour < 11):
        hour += 12
    elif mark in ("上午", "凌晨", "早上", "am") and hour == 12:
        hour = 0
    try:
        return dt.datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            hour,
            int(match["M"] or 0),
            int(match["S"] or 0),
            tzinfo=zone,
        )
    except ValueError:  # 08:60, 2月30日: a time that does not exist
        raise ValueError(f"时间不存在（日期或时刻超出范围）：{text[:60]!r}") from None


_REL_AGO = re.compile(
    r"^(?P<n>\d{1,4}|半|一|两)\s*(?P<unit>秒钟?|分钟|分|小时|个小时|个钟头|钟头|天|日|周|星期|个星期|个月|月|年)"
    r"\s*(?:前|之前|以前)$"
)
_REL_AGO_EN = re.compile(
    r"^(?P<n>\d{1,4}|an?)\s*(?P<unit>sec|second|min|minute|hr|hour|day|week)s?\s+ago$", re.IGNORECASE
)
_CLOCK_TIME = r"(?P<H>\d{1,2})\s*[:：]\s*(?P<M>\d{2})(?:[:：](?P<S>\d{2}))?"
_REL_DAY = re.compile(rf"^(?P<day>今天|今日|昨天|昨日|前天)\s*(?:{_CLOCK_TIME})?$")
_REL_CLOCK = re.compile(rf"^{_CLOCK_TIME}$")
_REL_NO_YEAR = re.compile(
    r"^(?P<m>\d{1,2})\s*(?:月\s*(?P<d1>\d{1,2})\s*日?|-(?P<d2>\d{1,2}))"
    rf"(?:\s*{_CLOCK_TIME})?$"
)
_UNIT_SECONDS = {
    "秒": 1, "秒钟": 1, "sec": 1, "second": 1,
    "分": 60, "分钟": 60, "min": 60, "minute": 60,
    "小时": 3600, "个小时": 3600, "钟头": 3600, "个钟头": 3600, "hr": 3600, "hour": 3600,
    "天": 86400, "日": 86400, "day": 86400,
    "周": 7 * 86400, "星期": 7 * 86400, "个星期": 7 * 86400, "week": 7 * 86400,
    "月": 30 * 86400, "个月": 30 * 86400,
    "年": 365 * 86400,
}  # fmt: skip
_DAYS_BACK = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2}
# A clock time or a date without a year that lies this far ahead of the fetch is from the day
# (year) before: a site's clock may run a few minutes ahead of ours.
_AHEAD_SLACK = dt.timedelta(minutes=10)


def relative_time(text: str, now: dt.datetime, zone: ZoneInfo) -> tuple[dt.datetime, dt.timedelta] | None:
    """A time that a site shows relative to when it was read (刚刚, 3分钟前, 半小时前, 今天 10:20,
    昨天 10:20, 前天, 10:20, 11-30 08:15, 12月1日, 5 minutes ago), as an aware datetime in `zone`
    and the precision the form gives (a minute for 3分钟前, an hour for 2小时前, a day for 昨天).
    None for anything else. A date without a year is in the year of `now`, or the year before
    when it would lie ahead of `now`."""
    text = text.strip()
    if not text or len(text) > 40:
        return None
    local = now.astimezone(zone)
    if text in ("刚刚", "刚才", "just now"):
        return local, dt.timedelta(minutes=1)
    ago = _REL_AGO.match(text) or _REL_AGO_EN.match(text)
    if ago is not None:
        raw, seconds = ago["n"].lower(), _UNIT_SECONDS[ago["unit"].lower()]
        amount = {"半": 0.5, "一": 1.0, "两": 2.0, "a": 1.0, "an": 1.0}.get(raw) or float(raw)
        return local - dt.timedelta(seconds=amount * seconds), dt.timedelta(seconds=min(seconds, 86400))
    day = _REL_DAY.match(text)
    if day is not None:
        date = local.date() - dt.timedelta(days=_DAYS_BACK[day["day"]])
        if day["H"] is None:
            return _local(date, 0, 0, 0, zone), dt.timedelta(days=1)
        return _clock(date, day, zone)
    clock = _REL_CLOCK.match(text)
    if clock is not None:
        found = _clock(local.date(), clock, zone)
        if found is not None and found[0] > local + _AHEAD_SLACK:
            found = _clock(local.date() - dt.timedelta(days=1), clock, zone)
        return found
    no_year = _REL_NO_YEAR.match(text)
    if no_year is not None:
        month, dom = int(no_year["m"]), int(no_year["d1"] or no_year["d2"])
        for year in (local.year, local.year - 1):
            try:
                date = dt.date(year, month, dom)
            except ValueError:
                return None
            found = (
                (_local(date, 0, 0, 0, zone), dt.timedelta(days=1))
                if no_year["H"] is None
                else _clock(date, no_year, zone)
            )
            if found is None or found[0] <= local + _AHEAD_SLACK or year < local.year:
                return found
    return None


def _clock(date: dt.date, match: re.Match[str], zone: ZoneInfo) -> tuple[dt.datetime, dt.timedelta] | None:
    hour, minute, second = int(match["H"]), int(match["M"]), int(match["S"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return _local(date, hour, minute, second, zone), dt.timedelta(minutes=1)


def _local(date: dt.date, hour: int, minute: int, second: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime(date.year, date.month, date.day, hour, minute, second, tzinfo=zone)


def to_display_time(value: dt.datetime, zone: str = "Asia/Shanghai") -> str:
    """A stored UTC time as users read it, e.g. 2026-11-21 20:05:00 (Asia/Shanghai)."""
    return value.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M:%S")


def display_iso(value: dt.datetime | None, zone: str = "Asia/Shanghai") -> str | None:
    """A stored UTC time as ISO 8601 with the display zone's offset."""
    return None if value is None else value.astimezone(_zone(zone)).isoformat()
