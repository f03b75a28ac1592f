"""RSSHub sources (platform sources issue, item 1): routes of a real-shaped RSSHub instance served
from 127.0.0.1 with its headers; the access key never shows; the platform, the original URL and
hot-list ranks are kept; the instance's cache time bounds the schedule; a broken route is a dead
letter that names it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.ingest.httpserver import LocalHTTPServer, Reply
from yuqing.analysis.incidents import is_reaction
from yuqing.ingest import queries, service
from yuqing.ingest.connectors import rsshub
from yuqing.ingest.errors import InvalidSource
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.models import (
    DeadLetter,
    EvidenceBlob,
    FetchRun,
    HotListRank,
    Post,
    PostSighting,
    Source,
)
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime
from yuqing.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "rsshub"
KEY = "s3cret-Access-Key"


def recorded(name: str) -> Reply:
    """A recorded RSSHub response with the headers it was served with."""
    headers = json.loads((FIXTURES / f"{name}.headers.json").read_text(encoding="utf-8"))
    body = next(p for p in FIXTURES.glob(f"{name}.*") if not p.name.endswith(".headers.json")).read_bytes()
    status = int(headers.pop("Status", 200))
    return Reply(status, headers, body)


@pytest.fixture
def hub() -> Iterator[LocalHTTPServer]:
    server = LocalHTTPServer().start()
    server.routes["/robots.txt"] = Reply(404)
    yield server
    server.stop()


@pytest.fixture
def fetcher(rt: Runtime) -> Iterator[Fetcher]:
    with Fetcher(service.fetch_policy(rt.settings)) as f:
        yield f


def add(rt: Runtime, hub: LocalHTTPServer, route: str, name: str, **config: str) -> Source:
    source, _ = service.add_source(
        rt, "rsshub", None, name=name, config={"instance": hub.url(""), "route": route, **config}
    )
    return source


def run(rt: Runtime, name: str, fetcher: Fetcher) -> service.RunSummary:
    return service.run_source(rt, PostWriter(rt.sessions, rt.settings, rt.clock), name, fetcher, rng_seed=1)


def posts(rt: Runtime, name: str) -> list[Post]:
    with rt.sessions() as session:
        source_id = session.scalar(select(Source.id).where(Source.name == name))
        return list(session.scalars(select(Post).where(Post.source_id == source_id).order_by(Post.id)))


def test_a_weibo_user_route_becomes_weibo_posts_under_their_original_urls(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    hub.routes["/weibo/user/1195230310"] = recorded("weibo-user")
    source = add(rt, hub, "/weibo/user/1195230310", "微博用户")
    assert source.platform == "weibo" and source.url == hub.url("/weibo/user/1195230310")
    assert source.schedule == service.RSSHUB_SCHEDULE
    summary = run(rt, "微博用户", fetcher)
    assert summary.outcome == "success" and summary.counts.new >= 3, summary
    stored = posts(rt, "微博用户")
    assert all(p.platform == "weibo" for p in stored)
    assert all(p.url and p.url.startswith("https://weibo.com/") for p in stored)  # the original post
    assert all(p.author for p in stored) and all("<" not in p.text for p in stored)


def test_the_access_key_is_sent_as_the_route_code_and_shown_nowhere(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hub.routes["/zhihu/hot"] = recorded("zhihu-hot")
    hub.routes["/weibo/user/404404"] = recorded("error-route")
    add(rt, hub, "/zhihu/hot", "知乎热榜", access_key=KEY)
    add(rt, hub, "/weibo/user/404404", "坏路由", access_key=KEY, auth="key")
    assert run(rt, "知乎热榜", fetcher).outcome == "success"
    failed = run(rt, "坏路由", fetcher)

    code = hashlib.md5(("/zhihu/hot" + KEY).encode()).hexdigest()  # RSSHub's access code
    assert f"/zhihu/hot?sorted=false&code={code}" in hub.paths()  # a hot list keeps its order
    assert f"/weibo/user/404404?key={KEY}" in hub.paths()
    listed = json.dumps(queries.list_sources(rt), ensure_ascii=False)
    assert KEY not in listed and code not in listed and "已设置" in listed
    with rt.sessions() as session:
        stored = [
            *(r.error or "" for r in session.scalars(select(FetchRun))),
            *(d.error + (d.location or "") for d in session.scalars(select(DeadLetter))),
            *(e.origin or "" for e in session.scalars(select(EvidenceBlob))),
            *(s.last_error or "" for s in session.scalars(select(Source))),
        ]
    assert stored and not any(KEY in text or code in text for text in stored)
    assert KEY not in caplog.text and code not in caplog.text
    assert failed.outcome == "failed" and failed.error is not None
    assert "/weibo/user/404404" in failed.error and "***" not in failed.error


def test_a_broken_route_is_a_dead_letter_naming_the_route_with_rsshubs_own_words(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    hub.routes["/bilibili/hot-search"] = recorded("error-route")
    add(rt, hub, "/bilibili/hot-search", "B站热搜")
    summary = run(rt, "B站热搜", fetcher)
    assert summary.outcome == "failed" and summary.error is not None
    assert summary.error.startswith("RSSHub 路由 /bilibili/hot-search 出错：HTTP ")
    with rt.sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert "/bilibili/hot-search" in letter.error and letter.raw  # the error page is kept


def test_hot_lists_keep_each_items_rank_and_the_list(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    hub.routes["/weibo/search/hot"] = recorded("weibo-search-hot")
    add(rt, hub, "/weibo/search/hot", "微博热搜")
    assert run(rt, "微博热搜", fetcher).outcome == "success"
    stored = posts(rt, "微博热搜")
    assert [p.extra["hot_rank"] for p in stored if p.extra] == list(range(1, len(stored) + 1))
    assert {p.extra["hot_list"] for p in stored if p.extra} == {"微博热搜"}


def test_each_reading_of_a_hot_list_adds_every_entrys_place_to_its_rank_history(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    first = recorded("weibo-search-hot")
    hub.routes["/weibo/search/hot"] = first
    add(rt, hub, "/weibo/search/hot", "微博热搜")
    assert run(rt, "微博热搜", fetcher).outcome == "success"
    # Half an hour later the list is read again and its order has turned round.
    body = first.body.decode("utf-8")
    head, _, rest = body.partition("<item>")
    items, _, tail = ("<item>" + rest).rpartition("</item>")
    entries = [e + "</item>" for e in (items + "</item>").split("</item>") if e.strip()]
    reversed_body = (head + "".join(reversed(entries)) + tail).encode("utf-8")
    hub.routes["/weibo/search/hot"] = Reply(first.status, dict(first.headers), reversed_body)
    assert run(rt, "微博热搜", fetcher).outcome == "success"
    stored = posts(rt, "微博热搜")
    assert len(stored) == len(entries)  # a refetch is no new post and no sighting
    with rt.sessions() as session:
        history: dict[int, list[int]] = {}
        for row in session.scalars(select(HotListRank).order_by(HotListRank.id)):
            assert row.list_name == "微博热搜" and row.heat is None
            history.setdefault(row.post_id, []).append(row.rank)
        assert session.scalars(select(PostSighting)).all() == []
    n = len(entries)
    assert [history[p.id] for p in stored] == [[r, n + 1 - r] for r in range(1, n + 1)]


def test_the_instances_cache_time_bounds_the_next_fetch_and_304_stores_nothing(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    reply = recorded("zhihu-hot")
    reply.headers = {**reply.headers, "Cache-Control": "public, max-age=3600", "ETag": '"abc"'}
    hub.routes["/zhihu/hot"] = reply
    source = add(rt, hub, "/zhihu/hot", "知乎", access_key=KEY)
    assert run(rt, "知乎", fetcher).outcome == "success"
    with rt.sessions() as session:
        fetched = session.get(Source, source.id)
        assert fetched is not None and fetched.next_run_at is not None and fetched.last_run_at is not None
        assert fetched.next_run_at - fetched.last_run_at >= dt.timedelta(seconds=3600)
    hub.routes["/zhihu/hot"] = Reply(304, {"ETag": '"abc"', "Cache-Control": "max-age=3600"})
    assert run(rt, "知乎", fetcher).outcome == "not_modified"
    assert hub.requests[-1].headers.get("if-none-match") == '"abc"'


def test_a_cache_time_of_a_year_or_beyond_any_date_waits_an_hour(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    """max-age of a year parked the source for a year, with its health 正常; one of 10²⁰ s
    failed every run on a date no datetime holds."""
    reply = recorded("zhihu-hot")
    for n, max_age in enumerate(("31536000", "99999999999999999999")):
        reply.headers = {**reply.headers, "Cache-Control": f"max-age={max_age}"}
        hub.routes["/zhihu/hot"] = reply
        source = add(rt, hub, "/zhihu/hot", f"知乎{n}", access_key=KEY)
        assert run(rt, f"知乎{n}", fetcher).outcome == "success"
        with rt.sessions() as session:
            fetched = session.get(Source, source.id)
            assert fetched is not None and fetched.next_run_at is not None and fetched.last_run_at is not None
            assert fetched.next_run_at - fetched.last_run_at <= dt.timedelta(hours=12)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"instance": "ftp://hub", "route": "/zhihu/hot"}, "实例地址"),
        ({"instance": "http://127.0.0.1:1200", "route": "zhihu/hot"}, "以 / 开头"),
        ({"instance": "http://127.0.0.1:1200", "route": "/zhihu/hot?key=abc"}, "--key"),
        (
            {"instance": "http://127.0.0.1:1200", "route": "/zhihu/hot", "access_key": "k", "auth": "x"},
            "访问方式",
        ),
    ],
)
def test_bad_instances_routes_and_auth_are_refused_clearly(
    rt: Runtime, config: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidSource, match=message):
        service.add_source(rt, "rsshub", None, name="坏", config=config)


def test_a_schedule_faster_than_the_cache_is_refused(rt: Runtime) -> None:
    config = {"instance": "http://127.0.0.1:1200", "route": "/weibo/search/hot"}
    with pytest.raises(InvalidSource, match="缓存 5 分钟"):
        service.add_source(rt, "rsshub", None, name="快", schedule="2m", config=config)
    with pytest.raises(InvalidSource, match="缓存 5 分钟"):
        service.add_source(rt, "rsshub", None, name="快2", schedule="*/2 * * * *", config=config)
    assert service.add_source(rt, "rsshub", None, name="慢", schedule="*/10 * * * *", config=config)[0].id


def test_presets_fill_their_routes() -> None:
    assert rsshub.preset_route("weibo-user", "1195230310") == "/weibo/user/1195230310"
    assert (
        rsshub.preset_route("weibo-keyword", "医院 事故")
        == "/weibo/keyword/%E5%8C%BB%E9%99%A2%20%E4%BA%8B%E6%95%85"
    )
    assert rsshub.preset_route("zhihu-hot", None) == "/zhihu/hot"
    with pytest.raises(ValueError, match="微博用户 ID"):
        rsshub.preset_route("weibo-user", None)
    assert rsshub.platform_of("/bilibili/hot-search") == "bilibili"
    assert (
        rsshub.hot_list_of("/weibo/search/hot") == "微博热搜" and rsshub.hot_list_of("/weibo/user/1") is None
    )


@pytest.mark.parametrize(
    ("fixture", "route", "platform", "host", "hot"),
    [
        ("zhihu-hot", "/zhihu/hot", "zhihu", "https://www.zhihu.com/", "知乎热榜"),
        (
            "bilibili-hot-search",
            "/bilibili/hot-search",
            "bilibili",
            "https://search.bilibili.com/",
            "B站热搜",
        ),
        (
            "wechat-mp-msgalbum",
            "/wechat/mp/msgalbum/MzkxNjYwMDAwMA==/2650812345",
            "wechat",
            "https://mp.weixin.qq.com/",
            None,
        ),
    ],
)
def test_each_platforms_route_lands_with_its_platform_and_original_links(
    rt: Runtime,
    hub: LocalHTTPServer,
    fetcher: Fetcher,
    fixture: str,
    route: str,
    platform: str,
    host: str,
    hot: str | None,
) -> None:
    hub.routes[route] = recorded(fixture)
    add(rt, hub, route, fixture)
    summary = run(rt, fixture, fetcher)
    assert summary.outcome == "success" and summary.counts.new >= 3, summary
    stored = posts(rt, fixture)
    assert {p.platform for p in stored} == {platform}
    assert all(p.url and p.url.startswith(host) for p in stored), [p.url for p in stored]
    assert all((p.title or p.text) and "<" not in p.text for p in stored)  # a question may be only a title
    assert {(p.extra or {}).get("hot_list") for p in stored} == {hot}


def test_a_wrong_key_says_so_in_chinese_with_rsshubs_words(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    hub.routes["/zhihu/hot"] = recorded("error-403-access-denied")
    add(rt, hub, "/zhihu/hot", "知乎", access_key="wrong")
    summary = run(rt, "知乎", fetcher)
    assert summary.outcome == "failed" and summary.error is not None
    assert "HTTP 403" in summary.error and "访问密钥不对" in summary.error
    assert "RejectError: Authentication failed" in summary.error


def test_the_access_code_of_a_chinese_keyword_route_is_over_its_encoded_path() -> None:
    route = rsshub.preset_route("weibo-keyword", "医院")
    assert route == "/weibo/keyword/%E5%8C%BB%E9%99%A2"
    url = rsshub.request_url("http://hub:1200", route, KEY)
    assert url == f"http://hub:1200{route}?code={hashlib.md5((route + KEY).encode()).hexdigest()}"
    hot = rsshub.request_url("http://hub:1200", "/zhihu/hot?limit=20", KEY, auth="key")
    assert hot == f"http://hub:1200/zhihu/hot?limit=20&sorted=false&key={KEY}"
    with_query = rsshub.request_url("http://hub:1200", "/weibo/user/1?limit=5", KEY)
    assert with_query.endswith("?limit=5&code=" + hashlib.md5(("/weibo/user/1" + KEY).encode()).hexdigest())


def test_a_wewe_rss_feed_is_an_rss_source_of_wechat_posts(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    """WeWe RSS serves 公众号 articles as plain feeds: an rss source on the wechat platform."""
    hub.routes["/feeds/MP_WXS_123.rss"] = recorded("wewe-feed-MP_WXS_123")
    service.add_source(rt, "rss", hub.url("/feeds/MP_WXS_123.rss"), name="公众号", platform="wechat")
    assert run(rt, "公众号", fetcher).outcome == "success"
    stored = posts(rt, "公众号")
    assert stored and all(
        p.platform == "wechat" and (p.url or "").startswith("https://mp.weixin.qq.com/") for p in stored
    )


def test_the_command_line_adds_routes_and_presets_and_never_prints_the_key(
    hub: LocalHTTPServer, database_url: str
) -> None:
    from tests.test_cli import ok_json, yuqing

    hub.routes["/weibo/search/hot"] = recorded("weibo-search-hot")
    added = ok_json(
        yuqing(
            "sources",
            "add",
            "rsshub",
            "weibo-hot",
            "--instance",
            hub.url(""),
            "--key",
            KEY,
            "--json",
            database_url=database_url,
        )
    )
    assert isinstance(added, dict) and added["name"] == "微博热搜" and added["kind"] == "rsshub"
    assert added["platform"] == "weibo" and added["url"] == hub.url("/weibo/search/hot")
    by_route = yuqing(
        "sources",
        "add",
        "rsshub",
        "/weibo/user/1195230310",
        "--instance",
        hub.url(""),
        database_url=database_url,
    )
    assert by_route.returncode == 0, by_route.stderr.decode()
    listed = yuqing("sources", "list", "--json", database_url=database_url)
    assert KEY.encode() not in listed.stdout and KEY not in json.dumps(added)
    fetched = yuqing("fetch", "--once", "--json", database_url=database_url)
    assert fetched.returncode == 0 and KEY.encode() not in fetched.stdout + fetched.stderr
    presets = yuqing("sources", "presets", database_url=database_url).stdout.decode()
    assert "weibo-user" in presets and "微博热搜（热榜）" in presets
    missing = yuqing(
        "sources", "add", "rsshub", "weibo-user", "--instance", hub.url(""), database_url=database_url
    )
    assert missing.returncode == 1 and "微博用户 ID" in missing.stderr.decode()


@pytest.mark.parametrize("auth", ["key", "code"])
def test_the_request_url_rsshub_writes_into_the_feed_is_kept_without_the_secret(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher, auth: str
) -> None:
    reply = recorded("zhihu-hot")
    sent = rsshub.request_url(hub.url(""), "/zhihu/hot", KEY, auth).replace("&", "&amp;")
    reply.body = reply.body.replace(b"http://localhost:1200/zhihu/hot", sent.encode())
    hub.routes["/zhihu/hot"] = reply
    add(rt, hub, "/zhihu/hot", "知乎", access_key=KEY, auth=auth)
    assert run(rt, "知乎", fetcher).outcome == "success"
    code = rsshub.access_code("/zhihu/hot", KEY)
    with rt.sessions() as session:
        (evidence,) = session.scalars(select(EvidenceBlob)).all()
    assert KEY.encode() not in evidence.data and code.encode() not in evidence.data
    assert b"***" in evidence.data


def test_a_route_typed_in_chinese_is_encoded_as_sent_and_hashed() -> None:
    route = rsshub.check_route("/weibo/keyword/青禾 医院".replace(" ", ""))
    assert route == "/weibo/keyword/%E9%9D%92%E7%A6%BE%E5%8C%BB%E9%99%A2"
    assert rsshub.check_route("/zhihu/hot?limit=5") == "/zhihu/hot?limit=5"
    with pytest.raises(ValueError, match="实例地址") as refused:
        rsshub.check_instance("https://hub.example.cn/?key=SECRET")
    assert "SECRET" not in str(refused.value)


def test_a_schedule_that_never_runs_is_refused_in_chinese(rt: Runtime) -> None:
    from yuqing.ingest.schedule import ScheduleError

    config = {"instance": "http://127.0.0.1:1200", "route": "/weibo/search/hot"}
    with pytest.raises(ScheduleError, match="没有可用的运行时间"):
        service.add_source(rt, "rsshub", None, name="二月", schedule="0 0 31 2 *", config=config)


def test_a_wewe_rss_source_filters_titles_at_wewe_and_an_unknown_feed_says_so(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`yuqing sources add wewe ID --instance URL --include 词|词 --exclude 词 --limit N`: the Atom
    feed of one 公众号 with WeWe's own title filters and page size, on the wechat platform; WeWe's
    400 for a feed it does not have is quoted in the failed run."""
    from tests.test_cli import ok_json, yuqing

    monkeypatch.setenv("YUQING_BRIDGE_INSTANCES", hub.url(""))

    hub.routes["/feeds/MP_WXS_123.atom"] = recorded("wewe-feed-MP_WXS_123")
    added = ok_json(
        yuqing(
            "sources",
            "add",
            "wewe",
            "MP_WXS_123",
            "--instance",
            hub.url(""),
            "--include",
            "医院｜学校",
            "--exclude",
            "广告",
            "--limit",
            "50",
            "--json",
            database_url=database_url,
        )
    )
    assert isinstance(added, dict) and added["kind"] == "rss" and added["platform"] == "wechat"
    assert added["name"] == "公众号 MP_WXS_123"
    assert added["url"] == hub.url("/feeds/MP_WXS_123.atom") + (
        "?limit=50&title_include=%E5%8C%BB%E9%99%A2%7C%E5%AD%A6%E6%A0%A1&title_exclude=%E5%B9%BF%E5%91%8A"
    )
    bad = yuqing("sources", "add", "wewe", "../etc", "--instance", hub.url(""), database_url=database_url)
    assert bad.returncode != 0 and "公众号订阅源应为" in bad.stderr.decode()
    wrong = yuqing("sources", "add", "rss", hub.url("/x.xml"), "--include", "医院", database_url=database_url)
    assert wrong.returncode != 0 and "只用于 wewe" in wrong.stderr.decode()

    hub.routes["/feeds/NO_SUCH.atom"] = recorded("wewe-error-400-unknown-feed")
    service.add_source(rt, "rss", hub.url("/feeds/NO_SUCH.atom"), name="没有的公众号", platform="wechat")
    summary = run(rt, "没有的公众号", fetcher)
    assert summary.outcome == "failed" and summary.error is not None
    assert "HTTP 400" in summary.error and "服务器说明：不存在该feed！" in summary.error
    # an error answer nested past the JSON parser's depth is a failed run with its status, no more
    hub.routes["/feeds/DEEP.atom"] = Reply(400, {"Content-Type": "application/json"}, b'{"a":' + b"[" * 4000)
    service.add_source(rt, "rss", hub.url("/feeds/DEEP.atom"), name="嵌套的公众号", platform="wechat")
    deep = run(rt, "嵌套的公众号", fetcher)
    assert deep.outcome == "failed" and deep.error is not None
    assert "HTTP 400" in deep.error and "RecursionError" not in deep.error


def test_a_captured_weibo_user_feed_lands_as_that_accounts_posts(
    rt: Runtime, hub: LocalHTTPServer, fetcher: Fetcher
) -> None:
    """A real RSSHub answer, saved from a public instance in 2025-11 (PROVENANCE.md): the older
    `<author>` element, `&ensp;` in repost titles, signed image links, topics as categories."""
    hub.routes["/weibo/user/1401527553"] = recorded("captured-weibo-user-1401527553")
    add(rt, hub, "/weibo/user/1401527553", "tombkeeper")
    summary = run(rt, "tombkeeper", fetcher)
    assert summary.outcome == "success" and summary.counts.new + summary.counts.near_duplicate == 10, summary
    stored = posts(rt, "tombkeeper")
    assert {p.platform for p in stored} == {"weibo"} and {p.author for p in stored} == {"tombkeeper"}
    assert all(p.url and re.fullmatch(r"https://weibo\.com/1401527553/\w{9}", p.url) for p in stored)
    assert all(p.canonical_url == p.url for p in stored)  # the original post's own address
    assert [p.published_at.isoformat() for p in stored][:2] == [
        "2025-11-17T11:39:47+00:00",
        "2025-11-17T09:50:48+00:00",
    ]
    assert all(
        "<" not in p.text and "&ensp;" not in p.text and "&ensp;" not in (p.title or "") for p in stored
    )
    by_url = {p.url.rsplit("/", 1)[1]: p for p in stored if p.url}
    # 「网页链接」 and a quoted original: a repost whose own words are a link, no second report
    link_only = by_url["QehWz4ku0"]
    assert link_only.kind == "repost" and link_only.title
    assert "转发 @tombkeeper:\u2002最近我在群里" in link_only.title
    assert is_reaction(link_only.kind, link_only.text)
    # a reposted chain (//@) with words of its own, and an original of the account's own
    assert by_url["QegTWjF5V"].kind == "repost"
    assert by_url["Qef4g2ZxH"].kind == "original" and "北大公共卫生学院" in by_url["Qef4g2ZxH"].text


def test_a_wewe_rss_of_the_office_is_fetched_with_default_safety_once_listed_as_a_bridge(
    rt: Runtime, hub: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """WeWe RSS answers every robot `Disallow: /` and runs on the office's own network. With the
    default settings (private addresses refused, robots.txt honoured) a WeWe source is refused
    when added, saying what to set; once the administrator lists the instance in
    `bridge_instances`, its feed is fetched while other private addresses stay refused."""
    from tests.test_cli import ok_json, yuqing

    hub.routes["/robots.txt"] = Reply(200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /\n")
    hub.routes["/feeds/MP_WXS_123.atom"] = recorded("wewe-feed-MP_WXS_123")
    strict = dataclasses.replace(
        rt, settings=rt.settings.model_copy(update={"allow_private_addresses": False})
    )
    config = {"bridge": "wewe", "instance": hub.url("")}
    with pytest.raises(InvalidSource, match="YUQING_BRIDGE_INSTANCES") as refused:
        service.add_source(
            strict, "rss", hub.url("/feeds/MP_WXS_123.atom"), name="公众号", platform="wechat", config=config
        )
    assert "robots.txt 禁止" in str(refused.value) and hub.url("") in str(refused.value)
    with pytest.raises(InvalidSource, match="是内网地址"):
        add(strict, hub, "/zhihu/hot", "知乎")

    as_env = {**strict.settings.model_dump(), "bridge_instances": hub.url("") + "/"}  # a string, as in env
    listed = dataclasses.replace(strict, settings=Settings.model_validate(as_env))
    assert listed.settings.bridge_instances == [hub.url("")]
    service.add_source(
        listed, "rss", hub.url("/feeds/MP_WXS_123.atom"), name="公众号", platform="wechat", config=config
    )
    with Fetcher(service.fetch_policy(listed.settings)) as fetcher:
        assert run(listed, "公众号", fetcher).outcome == "success"
        assert posts(listed, "公众号") and "/robots.txt" not in hub.paths()
        # refused when added (it was accepted, then every run failed) ...
        with pytest.raises(InvalidSource, match="指向内网地址，默认不允许抓取") as inside:
            service.add_source(listed, "rss", "http://127.0.0.1:9/feed.xml", name="别处")
        assert "YUQING_ALLOW_PRIVATE_ADDRESSES" in str(inside.value)
        # ... and refused when fetched (a name resolving to it, or added while allowed)
        service.add_source(rt, "rss", "http://127.0.0.1:9/feed.xml", name="别处")
        failed = run(listed, "别处", fetcher)
    assert failed.outcome == "failed" and failed.error is not None
    assert "拒绝访问内网或保留地址" in failed.error and "bridge_instances" in failed.error

    monkeypatch.setenv("YUQING_ALLOW_PRIVATE_ADDRESSES", "false")
    cli = ["sources", "add", "wewe", "MP_WXS_123", "--instance", hub.url(""), "--json"]
    refused_cli = yuqing(*cli, database_url=database_url)
    assert refused_cli.returncode == 1 and "YUQING_BRIDGE_INSTANCES" in refused_cli.stderr.decode()
    monkeypatch.setenv("YUQING_BRIDGE_INSTANCES", f"{hub.url('')}, http://rsshub:1200")
    added = ok_json(yuqing(*cli, database_url=database_url))
    assert isinstance(added, dict) and added["platform"] == "wechat"
