"""WeWe RSS feeds of WeChat 公众号 (github.com/cooderl/wewe-rss): an office runs WeWe RSS beside
yuqing, signs in a WeChat Reading account there and subscribes the accounts it watches; yuqing
reads its feeds as RSS sources on the wechat platform.

WeWe serves ``/feeds/{id}.{rss|atom|json}`` for one account (``MP_WXS_…``) and
``/feeds/all.{…}`` for all of them, and filters titles itself: ``title_include`` and
``title_exclude`` take words separated by ``|`` (an article is kept when its title contains one
of the included words and none of the excluded ones).  An account whose WeChat Reading login
expired keeps its feed answering with the old articles: yuqing's silent-source alarm
(``alerts/sources.py``) is what notices it.  An unknown feed answers HTTP 400 「不存在该feed！」,
which the run's error quotes.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from yuqing.ingest.connectors import rsshub

_FEED_RE = re.compile(r"[A-Za-z0-9_\-]{1,100}")


def instance_of(instance: str) -> str:
    """The instance's base URL as sources keep it; ValueError with a Chinese message."""
    try:
        return rsshub.check_instance(instance)
    except ValueError:
        raise ValueError("WeWe RSS 地址应为 http(s)://主机[:端口][/路径]，不带查询参数") from None


def feed_url(
    instance: str,
    feed: str = "all",
    include: str | None = None,
    exclude: str | None = None,
    limit: int | None = None,
) -> str:
    """The Atom feed of one 公众号 (its WeWe id, ``MP_WXS_…``) or of all (``all``), with WeWe's
    own title filters; ValueError with a Chinese message for a bad instance or id."""
    base = instance_of(instance)
    feed = feed.strip()
    for suffix in (".rss", ".atom", ".json"):
        feed = feed.removesuffix(suffix)
    if not _FEED_RE.fullmatch(feed):
        raise ValueError("公众号订阅源应为 WeWe RSS 中的 id（如 MP_WXS_3941633310）或 all（全部）")
    query: dict[str, str] = {}
    if limit is not None:
        if limit < 1:
            raise ValueError("--limit 应为正整数")
        query["limit"] = str(limit)
    for name, words in (("title_include", include), ("title_exclude", exclude)):
        kept = [w.strip() for w in (words or "").replace("｜", "|").split("|") if w.strip()]
        if kept:
            query[name] = "|".join(kept)
    return f"{base}/feeds/{feed}.atom" + (f"?{urlencode(query)}" if query else "")


def default_name(feed: str) -> str:
    feed = feed.strip()
    return "公众号（WeWe RSS 全部）" if feed in ("", "all") else f"公众号 {feed}"
