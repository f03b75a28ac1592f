"""Sources fetched from real HTTP servers on 127.0.0.1 through `run_source`, into the real store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import FakeClock
from tests.ingest.httpserver import LocalHTTPServer, Reply
from yuqing.ingest import queries, service
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.models import DeadLetter, EvidenceBlob, FetchRun, Post, Source
from yuqing.ingest.normalise import to_display_time
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def feed(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    srv = LocalHTTPServer().start()
    srv.routes["/robots.txt"] = Reply(404)
    yield srv
    srv.stop()


@pytest.fixture
def fetcher(rt: Runtime) -> Iterator[Fetcher]:
    with Fetcher(service.fetch_policy(rt.settings)) as f:
        yield f


def run(rt: Runtime, source: str, fetcher: Fetcher) -> service.RunSummary:
    return service.run_source(rt, PostWriter(rt.sessions, rt.settings, rt.clock), source, fetcher, rng_seed=1)


def posts_of(rt: Runtime, source_name: str) -> list[Post]:
    with rt.sessions() as session:
        source_id = session.scalar(select(Source.id).where(Source.name == source_name))
        return list(session.scalars(select(Post).where(Post.source_id == source_id).order_by(Post.id)))


def test_utf8_and_gbk_feeds_store_each_item_once(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.routes["/utf8.xml"] = Reply(
        200, {"Content-Type": "application/rss+xml; charset=utf-8"}, feed("news_utf8.xml")
    )
    # Declared as UTF-8 by the server while the bytes (and the XML declaration) are GBK.
    server.routes["/gbk.xml"] = Reply(200, {"Content-Type": "text/xml; charset=utf-8"}, feed("news_gbk.xml"))
    service.add_source(rt, "rss", server.url("/utf8.xml"), name="新闻UTF8", media_tier="city")
    service.add_source(rt, "rss", server.url("/gbk.xml"), name="新闻GBK")

    first = run(rt, "新闻UTF8", fetcher)
    assert (first.outcome, first.counts.new, first.counts.rejected) == ("success", 3, 0)
    posts = posts_of(rt, "新闻UTF8")
    assert posts[0].title == "市卫健委通报某医院医疗纠纷处置情况"
    assert posts[0].canonical_url == "https://news.example.cn/2026/1120/yl.html"
    assert posts[0].media_tier == "city" and posts[0].platform == "news"
    assert "<p>" not in posts[0].text and "联合调查组" in posts[0].text
    assert posts[0].published_at is not None and posts[0].published_at.hour == 1  # 09:30 +08:00

    # The GBK feed carries the same articles: stored once, seen again from the second source.
    second = run(rt, "新闻GBK", fetcher)
    assert (second.counts.new, second.counts.duplicate) == (0, 3)
    again = run(rt, "新闻UTF8", fetcher)
    assert (again.counts.new, again.counts.duplicate) == (0, 3)
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 3


def test_gbk_feed_alone_decodes_correctly(rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.routes["/gbk.xml"] = Reply(200, {"Content-Type": "text/xml"}, feed("news_gbk.xml"))
    service.add_source(rt, "rss", server.url("/gbk.xml"), name="GBK")
    assert run(rt, "GBK", fetcher).counts.new == 3
    assert [p.title for p in posts_of(rt, "GBK")][1] == "教育局回应学校食堂食品安全问题"


def test_atom_feed_in_traditional_characters(rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.routes["/atom"] = Reply(200, {"Content-Type": "application/atom+xml"}, feed("forum_atom.xml"))
    service.add_source(rt, "rss", server.url("/atom"), name="论坛", platform="forum")
    assert run(rt, "论坛", fetcher).counts.new == 2
    post = posts_of(rt, "论坛")[0]
    assert post.title == "網友爆料：某小區連續停水三天無人回應"
    assert post.text.startswith("居民表示物业和自来水公司互相推诿")
    assert post.text_original.startswith("居民表示物業")
    assert post.author == "網友0" and post.platform == "forum"


def test_etag_and_last_modified_are_honoured(rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher) -> None:
    body = feed("news_utf8.xml")

    def conditional(handler: object) -> None:
        from http.server import BaseHTTPRequestHandler

        from tests.ingest.httpserver import send_reply

        assert isinstance(handler, BaseHTTPRequestHandler)
        if handler.headers.get("If-None-Match") == '"v1"':
            send_reply(handler, Reply(304, {"ETag": '"v1"'}))
        else:
            send_reply(
                handler,
                Reply(
                    200,
                    {
                        "ETag": '"v1"',
                        "Last-Modified": "Fri, 20 Nov 2026 08:00:00 GMT",
                        "Content-Type": "application/rss+xml",
                    },
                    body,
                ),
            )

    server.routes["/feed"] = conditional
    service.add_source(rt, "rss", server.url("/feed"), name="条件请求")
    assert run(rt, "条件请求", fetcher).counts.new == 3
    second = run(rt, "条件请求", fetcher)
    assert second.outcome == "not_modified" and second.counts.read == 0
    feed_requests = [r for r in server.requests if r.path == "/feed"]
    assert feed_requests[1].headers.get("if-none-match") == '"v1"'
    assert feed_requests[1].headers.get("if-modified-since") == "Fri, 20 Nov 2026 08:00:00 GMT"


def test_broken_feed_lands_what_it_can_and_dead_letters_the_rest(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.routes["/broken"] = Reply(200, {"Content-Type": "application/rss+xml"}, feed("broken.xml"))
    server.routes["/html"] = Reply(
        200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html><body>hi</body></html>"
    )
    server.routes["/garbage"] = Reply(200, {"Content-Type": "application/xml"}, b"\x00\x01<<<not xml at all")
    for path, name in (
        ("/broken", "坏源"),
        ("/html", "网页冒充"),
        ("/garbage", "乱码"),
        ("/missing", "不存在"),
    ):
        service.add_source(rt, "rss", server.url(path), name=name)
    server.routes["/missing"] = Reply(404, {}, b"not found")

    broken = run(rt, "坏源", fetcher)
    assert broken.outcome == "partial" and broken.counts.new >= 1
    html = run(rt, "网页冒充", fetcher)
    assert html.outcome == "failed" and "HTML" in (html.error or "")
    assert run(rt, "乱码", fetcher).outcome == "failed"
    missing = run(rt, "不存在", fetcher)
    assert missing.outcome == "failed" and "404" in (missing.error or "")
    with rt.sessions() as session:
        letters = session.scalars(select(DeadLetter)).all()
        by_source = {d.source_id for d in letters}
        assert len(by_source) == 4  # every failing source left a dead letter
        html_letter = next(d for d in letters if "HTML" in d.error)
        assert html_letter.raw is not None and b"<html>" in html_letter.raw
        failing = session.scalar(select(Source).where(Source.name == "不存在"))
        assert failing is not None and failing.consecutive_failures == 1 and failing.last_error


def test_gb18030_page_with_wrong_declaration(rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.routes["/notice.html"] = Reply(200, {"Content-Type": "text/html"}, feed("notice_gb18030.html"))
    service.add_source(rt, "web", server.url("/notice.html"), name="政府网站", media_tier="city")
    summary = run(rt, "政府网站", fetcher)
    assert (summary.outcome, summary.counts.new) == ("success", 1)
    post = posts_of(rt, "政府网站")[0]
    assert post.title and "情况说明" in post.title
    assert "羊水栓塞" in post.text and "𠮷" in post.text
    assert "版权所有" not in post.text  # boilerplate removed
    assert post.published_at is not None and post.published_at.date().isoformat() == "2026-11-19"
    with rt.sessions() as session:
        blob = session.get(EvidenceBlob, post.raw_sha256)
        assert blob is not None and blob.data == feed("notice_gb18030.html")


@pytest.mark.parametrize(
    ("line", "published"),
    [
        ("发布时间：2026-06-01 10:00　来源：区卫健委", "2026-06-01T02:00:00+00:00"),  # 10:00 in Beijing
        ("2026年6月2日，区卫健委接到群众反映", "2026-06-01T16:00:00+00:00"),  # the date, not 1 January
    ],
)
def test_a_chinese_pages_own_publication_time_is_read(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher, line: str, published: str
) -> None:
    """A GBK page without date metadata: htmldate's deep search stored 「2026年6月2日」 as
    2026-01-01 and dropped the 10:00 of 「发布时间：2026-06-01 10:00」."""
    body = (
        "<html><head><title>关于某医院患者投诉的情况说明</title></head><body><div class='article'>"
        f"<h1>关于某医院患者投诉的情况说明</h1><p>{line}</p>"
        + "<p>近日，有网民反映某医院急诊科候诊时间过长，区卫健委已责成医院调查核实并公开回应。</p>" * 6
        + "</div></body></html>"
    ).encode("gbk")
    server.routes["/p.html"] = Reply(200, {"Content-Type": "text/html; charset=gbk"}, body)
    service.add_source(rt, "web", server.url("/p.html"), name="区政府网站")
    assert run(rt, "区政府网站", fetcher).counts.new == 1
    post = posts_of(rt, "区政府网站")[0]
    assert post.published_at is not None and post.published_at.isoformat() == published


def test_listing_page_follows_matching_links(rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.routes["/list"] = Reply(
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        '<html><body><a href="/a/1.html">一</a><a href="/about">关于</a>'
        '<a href="/a/1.html">一</a></body></html>'.encode(),
    )
    server.routes["/a/1.html"] = Reply(200, {"Content-Type": "text/html"}, feed("notice_gb18030.html"))
    service.add_source(rt, "web", server.url("/list"), name="列表", config={"link_pattern": r"/a/\d+\.html$"})
    assert run(rt, "列表", fetcher).counts.new == 1
    assert server.paths().count("/a/1.html") == 1


def test_an_article_from_a_listing_keeps_its_own_page_as_evidence(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    """The article's bytes are what its post was read from: kept, and exported with the post
    (before, only the listing page was kept, so the post's item hash could never be checked)."""
    from yuqing.ingest.evidence import export_evidence, verify_package

    article = feed("notice_gb18030.html")
    html = {"Content-Type": "text/html"}
    server.routes["/list"] = Reply(200, html, b'<html><a href="/a/7.html">x</a></html>')
    server.routes["/a/7.html"] = Reply(200, html, article)
    pattern = {"link_pattern": r"/a/\d+\.html$"}
    service.add_source(rt, "web", server.url("/list"), name="列表2", config=pattern)
    assert run(rt, "列表2", fetcher).counts.new == 1
    [post] = posts_of(rt, "列表2")
    with rt.sessions() as session:
        kept = session.get(EvidenceBlob, post.item_sha256)
        assert kept is not None and kept.data == article and kept.origin == server.url("/a/7.html")
    package = tmp_path / "evidence.zip"
    manifest = export_evidence(rt, [post.id], package)
    assert f"posts/{post.id}/item.raw" in manifest["posts"][0]["files"]
    assert verify_package(package) == []
    import zipfile

    with zipfile.ZipFile(package) as archive:
        assert archive.read(f"posts/{post.id}/item.raw") == article


def test_json_api_with_mapping(rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher) -> None:
    payload = {
        "code": 0,
        "data": {
            "list": [
                {
                    "mid": "m1",
                    "content": "某景区游客被困缆车两小时，景区至今未回应。",
                    "ctime": "2026-11-20 09:00",
                    "stat": {"reads": 5200},
                },
                {
                    "mid": "m2",
                    "content": "网友质疑某街道办招聘内定，街道办回应称正在核查。",
                    "ctime": "2026-11-20 10:00",
                    "stat": {"reads": 300},
                },
                "不是对象",
            ]
        },
    }
    server.routes["/api"] = Reply(
        200, {"Content-Type": "application/json"}, json.dumps(payload, ensure_ascii=False).encode()
    )
    service.add_source(
        rt,
        "api",
        server.url("/api"),
        name="接口",
        platform="weibo",
        config={
            "items_path": "data.list",
            "mapping": {
                "external_id": "mid",
                "text": "content",
                "published_at": "ctime",
                "views": "stat.reads",
            },
        },
    )
    summary = run(rt, "接口", fetcher)
    assert (summary.counts.new, summary.counts.rejected, summary.outcome) == (2, 1, "partial")
    posts = posts_of(rt, "接口")
    assert [p.views for p in posts] == [5200, 300]
    assert posts[0].url_key == "weibo:m1"


def test_slow_server_fails_the_run_not_the_batch(rt: Runtime, server: LocalHTTPServer) -> None:
    server.routes["/hang"] = server.hang()
    server.routes["/ok"] = Reply(200, {"Content-Type": "application/rss+xml"}, feed("news_utf8.xml"))
    service.add_source(rt, "rss", server.url("/hang"), name="挂起")
    service.add_source(rt, "rss", server.url("/ok"), name="正常")
    policy = service.fetch_policy(rt.settings)
    from dataclasses import replace

    with Fetcher(replace(policy, read_timeout=0.5, total_timeout=1.0)) as quick:
        results = [run(rt, name, quick) for name in ("挂起", "正常")]
    assert results[0].outcome == "failed"
    assert results[1].counts.new == 3


def test_private_addresses_are_refused_by_default(rt: Runtime, server: LocalHTTPServer) -> None:
    server.routes["/ok"] = Reply(200, {"Content-Type": "application/rss+xml"}, feed("news_utf8.xml"))
    service.add_source(rt, "rss", server.url("/ok"), name="本机")
    from dataclasses import replace

    with Fetcher(replace(service.fetch_policy(rt.settings), allow_private_addresses=False)) as strict:
        summary = run(rt, "本机", strict)
    assert summary.outcome == "failed"
    assert server.paths() == []


def test_health_and_schedule_after_runs(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher, clock: object
) -> None:
    server.routes["/ok"] = Reply(200, {"Content-Type": "application/rss+xml"}, feed("news_utf8.xml"))
    service.add_source(rt, "rss", server.url("/ok"), name="定时", schedule="0 8,20 * * *")
    run(rt, "定时", fetcher)
    view = next(v for v in queries.list_sources(rt) if v["name"] == "定时")
    assert view["health"]["state"] == "ok" and view["health"]["last_items"] == 3
    # 2026-11-20 01:00 UTC is 09:00 in Shanghai: the next run is 20:00 Shanghai.
    assert view["health"]["next_run_at"] == "2026-11-20T20:00:00+08:00"
    for _ in range(rt.settings.silent_after_runs):
        run(rt, "定时", fetcher)  # the same three items: nothing new
    view = next(v for v in queries.list_sources(rt) if v["name"] == "定时")
    assert view["health"]["state"] == "silent" and view["health"]["label"] == "疑似停更"
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FetchRun)) == 1 + rt.settings.silent_after_runs


def test_huge_page_and_reset_connection_fail_cleanly(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    server.routes["/huge"] = server.generated(50 * 1024 * 1024)
    server.routes["/reset"] = server.reset()
    service.add_source(rt, "web", server.url("/huge"), name="超大页面")
    service.add_source(rt, "rss", server.url("/reset"), name="连接重置")
    huge = run(rt, "超大页面", fetcher)
    reset = run(rt, "连接重置", fetcher)
    assert huge.outcome == "failed" and "超过上限 10 MB" in (huge.error or "")
    assert reset.outcome == "failed"
    letters = queries.list_dead_letters(rt)
    assert len(letters) == 2
    assert all(letter["error"].startswith("抓取失败") for letter in letters)


def test_big5_page_declared_utf8(rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.routes["/tw.html"] = Reply(
        200, {"Content-Type": "text/html; charset=utf-8"}, feed("notice_big5.html")
    )
    service.add_source(rt, "web", server.url("/tw.html"), name="台北公告")
    assert run(rt, "台北公告", fetcher).counts.new == 1
    post = posts_of(rt, "台北公告")[0]
    assert "颱風" in post.text_original and "台风" in post.text
    assert "停止上班上课" in post.text


def test_feed_dates_in_chinese_and_without_a_zone_are_read_in_the_sources_zone(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    """Chinese sites write 「2026年11月1日 10:20」 or 「2026/11/01 10:20」 in <pubDate>, often without a
    zone. feedparser reads the first two as 1 December and a time without a zone as UTC; each is
    10:20 in Beijing, 02:20 UTC, like the RFC 822 date with its +0800."""
    dates = ("2026年11月1日 10:20", "2026/11/01 10:20", "2026-11-01 10:20:00")
    dates += ("Sun, 01 Nov 2026 10:20:00 +0800",)
    items = "".join(
        f"<item><title>通报{n}</title><link>http://news.example.cn/{n}.html</link>"
        f"<description>市卫健委通报第{n}号</description><pubDate>{date}</pubDate></item>"
        for n, date in enumerate(dates)
    )
    body = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{items}</channel></rss>'
    server.routes["/dates.xml"] = Reply(200, {"Content-Type": "application/rss+xml"}, body.encode())
    service.add_source(rt, "rss", server.url("/dates.xml"), name="日期")
    assert run(rt, "日期", fetcher).counts.new == 4
    stored = {p.title: p.published_at for p in posts_of(rt, "日期")}
    assert {t: (w.isoformat() if w else None) for t, w in stored.items()} == {
        f"通报{n}": "2026-11-01T02:20:00+00:00" for n in range(4)
    }


def test_a_feed_cut_off_inside_its_last_item_stores_that_item_only_when_it_comes_whole(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    """The connection drops inside the last <description>: stored, that item would keep an empty
    text for ever (the complete copy fetched next is its duplicate). It waits as a dead letter,
    and the cut copy's ETag, which names the whole document, is not kept: asked with it, the
    server answered 304 and the item never came."""
    whole = feed("news_utf8.xml")
    cut = whole[: whole.rindex(b"<description>") + len(b"<description>") + 20]
    served = {"body": cut}

    def conditional(handler: object) -> None:
        from http.server import BaseHTTPRequestHandler

        from tests.ingest.httpserver import send_reply

        assert isinstance(handler, BaseHTTPRequestHandler)
        if handler.headers.get("If-None-Match") == '"v1"':
            send_reply(handler, Reply(304, {"ETag": '"v1"'}))
        else:
            headers = {"ETag": '"v1"', "Content-Type": "application/rss+xml"}
            send_reply(handler, Reply(200, headers, served["body"]))

    server.routes["/cut.xml"] = conditional
    service.add_source(rt, "rss", server.url("/cut.xml"), name="截断")
    first = run(rt, "截断", fetcher)
    assert first.outcome == "partial"
    assert all(p.text.strip() for p in posts_of(rt, "截断"))
    with rt.sessions() as session:
        letters = [d.error for d in session.scalars(select(DeadLetter))]
    assert any("最后一个条目处被截断" in e for e in letters)
    served["body"] = whole  # the same document, this time whole
    second = run(rt, "截断", fetcher)
    assert second.outcome == "success" and second.counts.new == 1
    assert len(posts_of(rt, "截断")) == first.counts.new + 1
    assert all(p.text.strip() for p in posts_of(rt, "截断"))


def test_a_feed_that_never_closes_its_channel_keeps_its_complete_last_item(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher
) -> None:
    """A feed generator that never writes 「</channel></rss>」, or one cut right after an item, had
    its complete last item held back as cut off on every fetch, a new dead letter each time: that
    item never arrived. Only an item without its closing tag is held back; a comment after
    「</rss>」 is no cut."""
    whole = feed("news_utf8.xml")
    cut = whole[: whole.rindex(b"</item>") + len(b"</item>")]
    server.routes["/open.xml"] = Reply(200, {"Content-Type": "application/rss+xml"}, cut)
    server.routes["/comment.xml"] = Reply(
        200, {"Content-Type": "application/rss+xml"}, whole.rstrip() + b"\n<!-- cached 3 ms -->\n"
    )
    service.add_source(rt, "rss", server.url("/open.xml"), name="不闭合")
    service.add_source(rt, "rss", server.url("/comment.xml"), name="带注释")
    items = whole.count(b"<item>")
    for name in ("不闭合", "带注释"):
        done = run(rt, name, fetcher)
        # the second source serves the same items: known, as copies of the first's
        assert done.counts.new + done.counts.duplicate == items and done.counts.rejected == 0, done
    again = run(rt, "不闭合", fetcher)
    assert again.counts.rejected == 0 and again.counts.new == 0
    with rt.sessions() as session:
        # the unclosed document is noted once, the second fetch counted on it: no item held back
        [letter] = session.scalars(select(DeadLetter)).all()
    assert letter.error.startswith("订阅源格式有误，已尽量读取 3 条") and letter.repeats == 1
    assert letter.error.endswith("列：文档为空或在结尾处不完整")  # expat's 「no element found」, in Chinese


def test_an_api_post_in_big5_exports_as_evidence_that_verifies(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher, tmp_path: Path
) -> None:
    """The API connector decoded the body with the charset its Content-Type declared; the
    evidence export must read it the same way, or the post's bytes 「do not match」 its hash."""
    from yuqing.ingest.evidence import export_evidence, verify_package

    payload = {"posts": [{"id": "tw1", "text": "[饞嘴][鼓掌][做鬼臉]", "time": "2026-11-20 09:00"}]}
    body = json.dumps(payload, ensure_ascii=False).encode("big5")
    server.routes["/big5"] = Reply(200, {"Content-Type": "application/json; charset=big5"}, body)
    service.add_source(
        rt,
        "api",
        server.url("/big5"),
        name="繁体接口",
        config={"items_path": "posts", "mapping": {"external_id": "id", "published_at": "time"}},
    )
    assert run(rt, "繁体接口", fetcher).counts.new == 1
    [post] = posts_of(rt, "繁体接口")
    assert post.text == "[馋嘴][鼓掌][做鬼脸]"
    package = tmp_path / "evidence.zip"
    export_evidence(rt, [post.id], package)
    assert verify_package(package) == []


def test_a_comment_api_that_shows_times_relative_to_the_fetch(
    rt: Runtime, server: LocalHTTPServer, clock: FakeClock
) -> None:
    """Weibo's mobile pages and many forums show 「3分钟前」「昨天 18:20」 instead of a date: read
    against the time of the fetch, not refused; a comment without an id shown 「3分钟前」 and two
    minutes later 「5分钟前」 is one comment."""

    def page(*comments: tuple[str, str, str]) -> Reply:
        body = {"data": [{"user": u, "text": t, "created_at": c} for u, t, c in comments]}
        return Reply(200, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False).encode())

    service.add_source(
        rt,
        "api",
        server.url("/comments"),
        name="评论",
        platform="weibo",
        config={
            "items_path": "data",
            "mapping": {"author": "user", "text": "text", "published_at": "created_at"},
        },
    )
    assert clock.now == dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    fetcher = Fetcher(service.fetch_policy(rt.settings), clock=clock)  # the time each page was read
    server.routes["/comments"] = page(
        ("张三", "转发微博", "3分钟前"),
        ("李四", "医院门口拉横幅的事情有人知道后续吗，家属说医院一直没有回应。", "昨天 18:20"),
        ("王五", "真的假的", "11-18 07:05"),
    )
    first = run(rt, "评论", fetcher)
    assert (first.counts.new, first.counts.rejected) == (3, 0)
    clock.advance(minutes=2)
    server.routes["/comments"] = page(
        ("赵六", "转发微博", "刚刚"),
        ("张三", "转发微博", "5分钟前"),
        ("李四", "医院门口拉横幅的事情有人知道后续吗，家属说医院一直没有回应。", "昨天 18:20"),
        ("王五", "真的假的", "11-18 07:05"),
    )
    second = run(rt, "评论", fetcher)
    assert (second.counts.new, second.counts.duplicate, second.counts.rejected) == (1, 3, 0)
    shown = {p.author: to_display_time(p.published_at) for p in posts_of(rt, "评论") if p.published_at}
    assert shown == {
        "张三": "2026-11-20 08:57:00",
        "李四": "2026-11-19 18:20:00",
        "王五": "2026-11-18 07:05:00",
        "赵六": "2026-11-20 09:02:00",
    }
    fetcher.close()


@pytest.mark.parametrize(
    "page",
    [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
        b"<head><title>\xe7\x99\xbb\xe5\xbd\x95</title></head><body><form>...</form></body></html>",
        b"\xef\xbb\xbf<!-- login -->\n<html><head><title>Login</title></head><body></body></html>",
    ],
)
def test_an_html_page_served_as_a_feed_is_a_failed_run_that_says_so(
    rt: Runtime, server: LocalHTTPServer, fetcher: Fetcher, page: bytes
) -> None:
    """An XHTML login page (XML declaration, doctype, namespace) or one behind a comment counted
    as a feed with no items: three quiet runs, then 「疑似停更」 hid the real cause."""
    server.routes["/feed.xml"] = Reply(200, {"Content-Type": "application/xml"}, page)
    service.add_source(rt, "rss", server.url("/feed.xml"), name="登录页")
    summary = run(rt, "登录页", fetcher)
    assert summary.outcome == "failed"
    with rt.sessions() as session:
        [letter] = session.scalars(select(DeadLetter)).all()
    assert "返回的是 HTML 网页而不是 RSS/Atom 订阅源" in letter.error
