"""RSSHub routes as sources: Weibo, Zhihu, Bilibili, WeChat 公众号 and hot lists through the
bridge an office already runs, never through scrapers of our own.

A source keeps the instance and the route apart (`config.instance`, `config.route`); its URL is
the public address `instance + route`, without the access key. The key is a secret: it is sent
as RSSHub's `code` (md5 of the route and the key, which is valid for that route only) or, when
the source says so, as `key`; it appears in no log, error, dead letter, evidence origin or
listing (`queries` hides `access_key`). RSSHub renders every route as RSS 2.0 with the original
platform URL as each item's link, so the same Weibo post seen here, through a webhook and in an
import is one post with several sightings. The platform comes from the route's namespace.

Hot lists (`/weibo/search/hot`, `/zhihu/hot`, `/bilibili/hot-search`, `/baidu/top`…) keep each
item's rank on the list (`hot_rank`, its place in the feed) and the list's name (`hot_list`).
The instance's cache time (`Cache-Control: max-age`) is the shortest interval between fetches:
fetching faster only returns the cached copy.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from yuqing.ingest.connectors.base import Collected, ConnectorError, SourceSpec, register
from yuqing.ingest.connectors.http import as_document, failure, retry_after, wait_text
from yuqing.ingest.connectors.rss import ACCEPT, parse_feed
from yuqing.ingest.fetcher import Fetcher, FetchError, FetchResult, HTTPStatusError
from yuqing.ingest.records import Document, RawItem, Rejected

# RSSHub caches a route's output for CACHE_EXPIRE seconds (300 by default): the floor when the
# instance does not say.
DEFAULT_CACHE_SECONDS = 300
MAX_CACHE_SECONDS = 3600
_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass(frozen=True)
class Preset:
    """A route an office needs, with its Chinese name and the parameter it takes."""

    label: str
    route: str  # with {param} where the user fills one in
    param: str | None = None  # the parameter's Chinese name
    hot_list: bool = False


PRESETS: dict[str, Preset] = {
    "weibo-user": Preset("微博用户", "/weibo/user/{uid}", "微博用户 ID（数字）"),
    "weibo-keyword": Preset("微博关键词", "/weibo/keyword/{keyword}", "关键词"),
    "weibo-hot": Preset("微博热搜", "/weibo/search/hot", hot_list=True),
    "zhihu-hot": Preset("知乎热榜", "/zhihu/hot", hot_list=True),
    "bilibili-hot": Preset("B站热搜", "/bilibili/hot-search", hot_list=True),
    "baidu-hot": Preset("百度热搜", "/baidu/top", hot_list=True),
    "wechat-album": Preset("微信公众号合集", "/wechat/mp/msgalbum/{biz}/{aid}", "公众号 biz/合集 ID"),
}
# Routes whose items are a ranked list, by prefix.
HOT_LIST_ROUTES = {
    "/weibo/search/hot": "微博热搜",
    "/zhihu/hot": "知乎热榜",
    "/bilibili/hot-search": "B站热搜",
    "/baidu/top": "百度热搜",
    "/douyin/hot": "抖音热榜",
    "/toutiao/hot": "头条热榜",
}
# The platform of a route's namespace (the first path segment).
PLATFORMS = {
    "weibo": "weibo",
    "wechat": "wechat",
    "zhihu": "zhihu",
    "bilibili": "bilibili",
    "douyin": "douyin",
    "xiaohongshu": "xiaohongshu",
    "kuaishou": "kuaishou",
    "tieba": "tieba",
    "baidu": "news",
    "toutiao": "news",
}


def preset_route(preset: str, value: str | None) -> str:
    """The route of a preset with its parameter filled in (escaped for the path)."""
    if preset not in PRESETS:
        raise ValueError(f"未知的 RSSHub 预设 {preset!r}（可选：{'、'.join(PRESETS)}）")
    spec = PRESETS[preset]
    if spec.param is None:
        return spec.route
    if not value:
        raise ValueError(f"{spec.label}需要填写{spec.param}")
    parts = value.split("/") if spec.route.count("{") > 1 else [value]
    names = re.findall(r"{(\w+)}", spec.route)
    if len(parts) != len(names) or not all(parts):
        raise ValueError(f"{spec.label}需要填写{spec.param}")
    route = spec.route
    for name, part in zip(names, parts, strict=True):
        route = route.replace("{" + name + "}", quote(part, safe=""))
    return route


def check_route(route: str) -> str:
    """A route as RSSHub takes it: a path starting with /, without the access parameters."""
    route = route.strip()
    if not route.startswith("/") or route.startswith("//") or any(c.isspace() for c in route):
        raise ValueError("RSSHub 路由应以 / 开头且不含空白，例如 /weibo/user/1195230310")
    parts = urlsplit(route)
    if re.search(r"(^|&)(key|code)=", parts.query):
        raise ValueError("访问密钥请用 --key 单独填写，不要写进路由")
    # As sent (and as RSSHub hashes it for the access code): a path typed in Chinese is encoded.
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~")
    return path + (f"?{parts.query}" if parts.query else "")


def check_instance(instance: str) -> str:
    """The base URL of an RSSHub instance (http or https, no query)."""
    parts = urlsplit(instance.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("RSSHub 实例地址应为 http(s)://主机[:端口][/路径]，不带查询参数")
    return instance.strip().rstrip("/")


def platform_of(route: str) -> str:
    namespace = route.lstrip("/").split("/", 1)[0].lower()
    return PLATFORMS.get(namespace, "other")


def hot_list_of(route: str) -> str | None:
    path = urlsplit(route).path.rstrip("/")
    for prefix, name in HOT_LIST_ROUTES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return None


def access_code(route: str, key: str) -> str:
    """RSSHub's per-route access code: md5 of the route's path as sent (percent-encoded, without
    the query) followed by the key (`lib/middleware/access-control.ts`)."""
    return hashlib.md5((urlsplit(route).path + key).encode("utf-8"), usedforsecurity=False).hexdigest()


def request_url(instance: str, route: str, key: str | None, auth: str = "code") -> str:
    """The URL fetched: the public address, for a hot list with `sorted=false` (RSSHub otherwise
    re-sorts items newest first and the rank is lost), and the access parameter (a secret)."""
    url = instance + route
    params = []
    if hot_list_of(route) is not None and "sorted=" not in urlsplit(route).query:
        params.append("sorted=false")
    if key:
        params.append(f"key={quote(key, safe='')}" if auth == "key" else f"code={access_code(route, key)}")
    if not params:
        return url
    return url + ("&" if "?" in route else "?") + "&".join(params)


def cache_seconds(headers: dict[str, str]) -> int:
    """How long the instance keeps serving the same copy (its max-age, or RSSHub's default)."""
    found = _MAX_AGE.search(headers.get("cache-control", ""))
    # At most an hour: a bridge answering max-age of a year (or of 10²⁰ s, past what a date
    # holds) would otherwise park the source for that long, or fail every run.
    return min(int(found.group(1)), MAX_CACHE_SECONDS) if found else DEFAULT_CACHE_SECONDS


class RSSHubConnector:
    kind = "rsshub"

    def collect(self, source: SourceSpec, fetcher: Fetcher) -> Collected:
        config = dict(source.config)
        route, instance = config.get("route"), config.get("instance")
        if not route or not instance:
            raise ConnectorError(f"RSSHub 信息源 {source.name} 缺少实例地址或路由")
        secret = config.get("access_key") or None
        url = request_url(instance, route, secret, config.get("auth", "code"))
        public = instance + route
        secrets = (secret, access_code(route, secret)) if secret else ()
        try:
            result = fetcher.get(url, etag=source.etag, last_modified=source.last_modified, accept=ACCEPT)
        except HTTPStatusError as exc:
            document = _public_document(exc.result, public, secrets)
            wait = retry_after(exc.result)
            asked = f"（服务器要求 {wait_text(wait)}后再试）" if wait else ""
            raise ConnectorError(
                _scrub(
                    f"RSSHub 路由 {route} 出错：HTTP {exc.result.status}{_reason(exc.result)}{asked}", secret
                ),
                document,
                retry_after=wait,
            ) from None
        except FetchError as exc:
            raise ConnectorError(_scrub(f"RSSHub 路由 {route} 无法访问：{failure(exc)}", secret)) from None
        wait = cache_seconds(result.headers)
        if result.not_modified:
            return Collected(
                document=None,
                not_modified=True,
                etag=source.etag,
                last_modified=source.last_modified,
                min_interval_seconds=wait,
            )
        document = _public_document(result, public, secrets)
        try:
            collected = parse_feed(result.body, result.declared_charset)
        except ConnectorError as exc:
            raise ConnectorError(f"RSSHub 路由 {route} 返回的不是订阅源：{exc}", document) from None
        if platform_of(route) == "weibo":
            collected.items = [_weibo_read(i) if isinstance(i, RawItem) else i for i in collected.items]
        hot = hot_list_of(route)
        if hot is not None:
            ranked: list[RawItem | Rejected] = []
            rank = 0
            for item in collected.items:
                if isinstance(item, RawItem):
                    rank += 1
                    item = RawItem({**item.record, "hot_list": hot, "hot_rank": rank}, item.locator, item.raw)
                ranked.append(item)
            collected.items = ranked
        collected.document = document
        collected.etag = result.etag
        collected.last_modified = result.last_modified
        collected.min_interval_seconds = wait
        return collected


# RSSHub's Weibo routes render a repost's quoted original as `<blockquote> - 转发 <a …>@name</a>: …`
# after the reposter's own words; a chain of earlier reposters stays in the text as `//@name:`.
_WEIBO_QUOTE = re.compile(r"<blockquote>\s*-\s*转发\s*<a\b")
_ENTITY = re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")


def _weibo_read(item: RawItem) -> RawItem:
    """A Weibo item as what it is: a repost (`kind`) when RSSHub shows a quoted original or the
    text carries a `//@` chain, so only its own words can count as a report (a repost of a
    report with 「网页链接」 of its own is a reaction, not a second report); and its title with
    the entities RSSHub escaped twice (`转发 @name:&ensp;…` in the feed) read once more."""
    record = dict(item.record)
    title = record.get("title")
    if isinstance(title, str) and _ENTITY.search(title):
        record["title"] = html.unescape(title)
    body = str(record.get("html") or "")
    if _WEIBO_QUOTE.search(body) or "//@" in body:
        record.setdefault("kind", "repost")
    return RawItem(record, item.locator, item.raw)


def _public_document(result: FetchResult, public: str, secrets: tuple[str, ...] = ()) -> Document:
    """The response kept as evidence under the route's public address. RSSHub writes the request
    URL into the feed (`<atom:link href>`): the access key and code in it are replaced by ***."""
    document = as_document(result)
    data = document.data
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), html.escape(quote(secret, safe=""))}:
            data = data.replace(form.encode("utf-8"), b"***")
    return Document(data, public, document.media_type, document.fetched_at)


def _reason(result: FetchResult) -> str:
    """RSSHub's own words on a failed route (the error line of its error page), with what it
    means for the office where that is known."""
    text = result.body[:20_000].decode("utf-8", "replace")
    text = html.unescape(re.sub(r"<[^>]+>", "\n", re.sub(r"(?is)<(style|script)\b.*?</\1>", "", text)))
    found = re.search(r"\b\w*Error: [^\n]{1,200}", text)
    hint = {
        401: "访问密钥不对或未填写",
        403: "访问密钥不对或未填写",
        404: "该实例没有这个路由，或路由写错了",
        429: "请求过于频繁，请放慢采集",
    }.get(result.status, "")
    words = found.group(0).strip() if found else ""
    shown = "；".join(part for part in (hint, words) if part)
    return f"（{shown}）" if shown else ""


def _scrub(message: str, secret: str | None) -> str:
    if not secret:
        return message
    message = re.sub(r"([?&](?:key|code)=)[^&\s'\"]+", r"\1***", message)
    return message.replace(secret, "***")


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """A source's configuration as it may be shown: the access key replaced by whether there is one."""
    shown = {k: v for k, v in config.items() if k != "access_key"}
    if "access_key" in config:
        shown["access_key"] = "已设置" if config["access_key"] else "未设置"
    return shown


register("rsshub", RSSHubConnector)
