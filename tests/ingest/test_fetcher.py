"""The fetcher against real HTTP servers on 127.0.0.1. No traffic leaves the loopback range."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from tests.ingest.httpserver import LocalHTTPServer, Reply, send_reply
from yuqing.ingest import fetcher as fetcher_module
from yuqing.ingest.fetcher import (
    BlockedAddressError,
    ConnectionFailedError,
    Fetcher,
    FetchError,
    FetchPolicy,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    RobotsDisallowedError,
    TooLargeError,
    TooManyRedirectsError,
    bridge_hosts,
    is_public_address,
)

# Tests talk to 127.0.0.1, so they must allow private addresses; the ones about blocking don't.
LOCAL = FetchPolicy(allow_private_addresses=True, connect_timeout=5, read_timeout=5, total_timeout=10)
MB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    srv = LocalHTTPServer().start()
    yield srv
    srv.stop()


def make_fetcher(**overrides: Any) -> Fetcher:
    return Fetcher(replace(LOCAL, **overrides))


# -- ordinary responses -------------------------------------------------------------------


def test_200_with_headers(server: LocalHTTPServer) -> None:
    body = "<html><body>舆情</body></html>".encode("gbk")
    server.routes["/news"] = Reply(
        200,
        {
            "Content-Type": 'text/html; charset="GBK"',
            "ETag": '"v1"',
            "Last-Modified": "Wed, 01 May 2024 08:00:00 GMT",
            "X-Extra": "yes",
        },
        body,
    )
    moment = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    with Fetcher(LOCAL, clock=lambda: moment) as fetcher:
        result = fetcher.get(server.url("/news"), accept="text/html")

    assert result.status == 200
    assert result.body == body
    assert result.url == result.final_url == server.url("/news")
    assert result.headers["x-extra"] == "yes"
    assert all(key == key.lower() for key in result.headers)
    assert result.content_type == 'text/html; charset="GBK"'
    assert result.declared_charset == "gbk"
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 01 May 2024 08:00:00 GMT"
    assert result.fetched_at == moment
    assert not result.not_modified

    page_request = next(r for r in server.requests if r.path == "/news")
    assert page_request.headers["user-agent"] == LOCAL.user_agent
    assert page_request.headers["accept"] == "text/html"
    assert "if-none-match" not in page_request.headers


def test_default_clock_is_aware_utc(server: LocalHTTPServer) -> None:
    server.routes["/"] = Reply(200, {}, b"ok")
    with make_fetcher() as fetcher:
        result = fetcher.get(server.url("/"))
    assert result.fetched_at.tzinfo is not None
    assert result.fetched_at.utcoffset() == UTC.utcoffset(None)
    assert result.declared_charset is None


def test_gzip_body_is_decompressed(server: LocalHTTPServer) -> None:
    server.routes["/gz"] = Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(b"hello " * 100))
    with make_fetcher() as fetcher:
        assert fetcher.get(server.url("/gz")).body == b"hello " * 100


def test_etag_round_trip(server: LocalHTTPServer) -> None:
    def conditional(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("If-None-Match") == '"abc"':
            send_reply(handler, Reply(304, {"ETag": '"abc"'}))
        else:
            send_reply(handler, Reply(200, {"ETag": '"abc"'}, b"feed body"))

    server.routes["/feed"] = conditional
    with make_fetcher() as fetcher:
        first = fetcher.get(server.url("/feed"))
        second = fetcher.get(server.url("/feed"), etag=first.etag)

    assert first.status == 200
    assert first.body == b"feed body"
    assert second.status == 304
    assert second.not_modified
    assert second.body == b""
    assert second.etag == '"abc"'


def test_last_modified_round_trip(server: LocalHTTPServer) -> None:
    stamp = "Tue, 30 Apr 2024 10:00:00 GMT"

    def conditional(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("If-Modified-Since") == stamp:
            send_reply(handler, Reply(304))  # no validators echoed back
        else:
            send_reply(handler, Reply(200, {"Last-Modified": stamp}, b"page"))

    server.routes["/page"] = conditional
    with make_fetcher() as fetcher:
        first = fetcher.get(server.url("/page"))
        second = fetcher.get(server.url("/page"), last_modified=first.last_modified)

    assert first.last_modified == stamp
    assert second.not_modified
    assert second.last_modified == stamp  # kept from the request
    assert second.etag is None


def test_500_raises_with_status_and_body(server: LocalHTTPServer) -> None:
    server.routes["/boom"] = Reply(500, {"Retry-After": "120"}, b"internal error")
    with make_fetcher() as fetcher, pytest.raises(HTTPStatusError) as caught:
        fetcher.get(server.url("/boom"))
    assert caught.value.status == 500
    assert caught.value.result.body == b"internal error"
    assert caught.value.result.headers["retry-after"] == "120"
    assert server.url("/boom") in str(caught.value)


def test_404_raises(server: LocalHTTPServer) -> None:
    with make_fetcher() as fetcher, pytest.raises(HTTPStatusError, match="HTTP 404"):
        fetcher.get(server.url("/missing"))


# -- size limits --------------------------------------------------------------------------


def test_huge_streamed_body_is_aborted_early(server: LocalHTTPServer) -> None:
    server.routes["/huge"] = server.generated(50 * MB)  # no Content-Length: must count
    started = time.monotonic()
    with make_fetcher(max_bytes=1 * MB) as fetcher, pytest.raises(TooLargeError) as caught:
        fetcher.get(server.url("/huge"))
    assert time.monotonic() - started < 5
    assert server.url("/huge") in str(caught.value)


def test_declared_content_length_too_large(server: LocalHTTPServer) -> None:
    server.routes["/big"] = server.generated(50 * MB, content_length=True)
    started = time.monotonic()
    big = pytest.raises(TooLargeError, match="响应为 50 MB，超过上限 1 MB")
    with make_fetcher(max_bytes=1 * MB) as fetcher, big:
        fetcher.get(server.url("/big"))
    assert time.monotonic() - started < 2


def test_body_exactly_at_limit_is_fine(server: LocalHTTPServer) -> None:
    server.routes["/exact"] = server.generated(MB)
    with make_fetcher(max_bytes=MB) as fetcher:
        assert len(fetcher.get(server.url("/exact")).body) == MB


# -- time limits --------------------------------------------------------------------------


def test_server_that_never_answers(server: LocalHTTPServer) -> None:
    server.routes["/hang"] = server.hang()
    started = time.monotonic()
    with (
        make_fetcher(read_timeout=30, total_timeout=1.5) as fetcher,
        pytest.raises(FetchTimeoutError) as caught,
    ):
        fetcher.get(server.url("/hang"))
    assert 1.2 < time.monotonic() - started < 3
    assert server.url("/hang") in str(caught.value)


def test_trickling_server(server: LocalHTTPServer) -> None:
    server.routes["/slow"] = server.trickle(interval=0.1, total=10_000)
    started = time.monotonic()
    with make_fetcher(read_timeout=30, total_timeout=1.5) as fetcher, pytest.raises(FetchTimeoutError):
        fetcher.get(server.url("/slow"))
    assert time.monotonic() - started < 3


def test_deadline_interrupts_a_read_in_progress(server: LocalHTTPServer) -> None:
    # Each gap (1.4 s) is within the read timeout (1.5 s), and a read starts at ~1.4 s that
    # would block until ~2.8 s; the 2 s deadline must cut it short.
    server.routes["/gappy"] = server.trickle(interval=1.4, total=100)
    started = time.monotonic()
    with make_fetcher(read_timeout=1.5, total_timeout=2.0) as fetcher, pytest.raises(FetchTimeoutError):
        fetcher.get(server.url("/gappy"))
    assert time.monotonic() - started < 2.6


def test_deadline_holds_while_the_headers_trickle_in(server: LocalHTTPServer) -> None:
    """A header byte every 0.2 s keeps every read within its timeout; the whole fetch still ends
    at its deadline (the scheduler fetches sources one after another: one such server held all)."""
    server.routes["/slow-head"] = server.trickle_headers(interval=0.2)
    started = time.monotonic()
    with make_fetcher(read_timeout=1.0, total_timeout=1.5) as fetcher, pytest.raises(FetchTimeoutError):
        fetcher.get(server.url("/slow-head"))
    assert time.monotonic() - started < 3


# -- connection failures ------------------------------------------------------------------


def test_connection_reset(server: LocalHTTPServer) -> None:
    server.routes["/reset"] = server.reset()
    with make_fetcher() as fetcher, pytest.raises(ConnectionFailedError) as caught:
        fetcher.get(server.url("/reset"))
    assert server.url("/reset") in str(caught.value)


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with make_fetcher() as fetcher, pytest.raises(ConnectionFailedError):
        fetcher.get(f"http://127.0.0.1:{port}/")


# -- redirects ----------------------------------------------------------------------------


def test_redirect_is_followed(server: LocalHTTPServer) -> None:
    server.routes["/old"] = server.redirect("/new", 301)
    server.routes["/new"] = Reply(200, {}, b"moved here")
    with make_fetcher() as fetcher:
        result = fetcher.get(server.url("/old"))
    assert result.url == server.url("/old")
    assert result.final_url == server.url("/new")
    assert result.body == b"moved here"


def test_redirect_loop(server: LocalHTTPServer) -> None:
    server.routes["/a"] = server.redirect(server.url("/b"))
    server.routes["/b"] = server.redirect("/a", 307)
    with make_fetcher(max_redirects=5) as fetcher, pytest.raises(TooManyRedirectsError, match="循环重定向"):
        fetcher.get(server.url("/a"))
    assert server.paths().count("/a") + server.paths().count("/b") == 6


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)])
def test_redirect_limit(server: LocalHTTPServer, hops: int, ok: bool) -> None:
    for i in range(hops):
        server.routes[f"/r{i}"] = server.redirect(f"/r{i + 1}")
    server.routes[f"/r{hops}"] = Reply(200, {}, b"end")
    with make_fetcher(max_redirects=5) as fetcher:
        if ok:
            assert fetcher.get(server.url("/r0")).final_url == server.url(f"/r{hops}")
        else:
            with pytest.raises(TooManyRedirectsError, match="超过 5 次"):
                fetcher.get(server.url("/r0"))
            assert f"/r{hops}" not in server.paths()


# -- address policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "223.5.5.5", "2606:4700:4700::1111", "2400:3200::1", "::ffff:8.8.8.8"],
)
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.251",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "192.0.2.10",  # documentation
        "198.18.0.1",  # benchmarking
        "::",
        "::1",
        "fe80::1",
        "fe80::1%1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 wrapping 192.168.1.1
        "64:ff9b::7f00:1",  # NAT64 wrapping 127.0.0.1
        "2001:db8::1",  # documentation
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


def test_loopback_url_is_refused_by_default(server: LocalHTTPServer) -> None:
    server.routes["/"] = Reply(200, {}, b"secret")
    with Fetcher(FetchPolicy()) as fetcher, pytest.raises(BlockedAddressError) as caught:
        fetcher.get(server.url("/"))
    assert "127.0.0.1" in str(caught.value)
    assert server.requests == []  # not even robots.txt


def test_host_name_resolving_to_loopback_is_refused(server: LocalHTTPServer) -> None:
    with Fetcher(FetchPolicy()) as fetcher, pytest.raises(BlockedAddressError, match="localhost"):
        fetcher.get(f"http://localhost:{server.port}/")
    assert server.requests == []


@pytest.fixture
def pretend_only_127_0_0_1_is_public(monkeypatch: pytest.MonkeyPatch, server: LocalHTTPServer) -> None:
    """Fake DNS plus a narrowed address check, so a 'public' site can redirect to an
    'internal' one while every packet still stays on the loopback interface."""
    fake_dns = {"news.example": ["127.0.0.1"], "intranet.example": ["127.0.0.1", "127.0.0.2"]}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host in fake_dns:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in fake_dns[host]
            ]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(fetcher_module, "is_public_address", lambda address: str(address) == "127.0.0.1")


@pytest.mark.usefixtures("pretend_only_127_0_0_1_is_public")
@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/secret",  # literal address: refused before connecting
        "http://intranet.example:{port}/secret",  # one of its addresses is internal
    ],
)
def test_redirect_to_internal_address_is_refused(server: LocalHTTPServer, target: str) -> None:
    server.routes["/start"] = server.redirect(target.format(port=server.port))
    server.routes["/secret"] = Reply(200, {}, b"secret")
    with Fetcher(FetchPolicy()) as fetcher:
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.2") as caught:
            fetcher.get(f"http://news.example:{server.port}/start")
        assert caught.value.url == target.format(port=server.port)
        # The check connects to the address it checked: the fake name really reached us.
        assert fetcher.get(f"http://news.example:{server.port}/secret").body == b"secret"
    assert server.paths() == ["/robots.txt", "/start", "/secret"]


def test_the_offices_own_bridge_is_reached_without_robots_and_nothing_else_on_its_host() -> None:
    """A WeWe RSS on 127.0.0.1 answers every robot `Disallow: /`: listed as a bridge, its host and
    port are fetched anyway (with no robots.txt request); another port of the same loopback host,
    also reached by the bridge's redirect, is still refused."""
    bridge, other = LocalHTTPServer().start(), LocalHTTPServer().start()
    try:
        bridge.routes["/robots.txt"] = Reply(200, {}, b"User-agent: *\nDisallow: /\n")
        bridge.routes["/feeds/all.atom"] = Reply(200, {"Content-Type": "application/atom+xml"}, b"<feed/>")
        bridge.routes["/away"] = bridge.redirect(other.url("/"))
        other.routes["/"] = Reply(200, {}, b"internal")
        with Fetcher(FetchPolicy(bridges=bridge_hosts([bridge.url("")]))) as fetcher:
            assert fetcher.get(bridge.url("/feeds/all.atom")).body == b"<feed/>"
            with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1"):
                fetcher.get(other.url("/"))
            with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1"):
                fetcher.get(bridge.url("/away"))
        assert bridge.paths() == ["/feeds/all.atom", "/away"] and other.requests == []
        with Fetcher(FetchPolicy(allow_private_addresses=True)) as unlisted:
            with pytest.raises(RobotsDisallowedError):
                unlisted.get(bridge.url("/feeds/all.atom"))
        hosts = bridge_hosts(["https://Hub.Example", "http://[::1]:4000"])
        assert hosts == {("hub.example", 443), ("::1", 4000)}
    finally:
        bridge.stop()
        other.stop()


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http://", "not a url"])
def test_unsupported_urls(url: str) -> None:
    with make_fetcher() as fetcher, pytest.raises(InvalidURLError):
        fetcher.get(url)


def test_custom_transport_still_refuses_literal_private_redirect() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
        return httpx.Response(404)

    fetcher = Fetcher(FetchPolicy(respect_robots_txt=False), transport=httpx.MockTransport(handler))
    with fetcher, pytest.raises(BlockedAddressError, match=r"169\.254\.169\.254"):
        fetcher.get("http://news.example/start")


# -- robots.txt ---------------------------------------------------------------------------


def test_robots_disallow_and_allow(server: LocalHTTPServer) -> None:
    server.routes["/robots.txt"] = Reply(200, {}, b"User-agent: *\nDisallow: /private\n")
    server.routes["/public"] = Reply(200, {}, b"public")
    server.routes["/private/page"] = Reply(200, {}, b"private")
    with make_fetcher() as fetcher:
        assert fetcher.get(server.url("/public")).body == b"public"
        with pytest.raises(RobotsDisallowedError) as caught:
            fetcher.get(server.url("/private/page"))
        assert fetcher.get(server.url("/public")).body == b"public"
    assert server.url("/private/page") in str(caught.value)
    assert server.paths() == ["/robots.txt", "/public", "/public"]  # robots.txt read once


def test_robots_rules_for_our_user_agent(server: LocalHTTPServer) -> None:
    server.routes["/robots.txt"] = Reply(
        200, {}, b"User-agent: yuqing\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    )
    server.routes["/"] = Reply(200, {}, b"home")
    with make_fetcher() as fetcher, pytest.raises(RobotsDisallowedError):
        fetcher.get(server.url("/"))


def test_robots_ignored_when_policy_says_so(server: LocalHTTPServer) -> None:
    server.routes["/robots.txt"] = Reply(200, {}, b"User-agent: *\nDisallow: /\n")
    server.routes["/"] = Reply(200, {}, b"home")
    with make_fetcher(respect_robots_txt=False) as fetcher:
        assert fetcher.get(server.url("/")).body == b"home"
    assert server.paths() == ["/"]


@pytest.mark.parametrize("robots", [Reply(404), Reply(500, {}, b"oops"), LocalHTTPServer.reset()])
def test_missing_or_failing_robots_means_allowed(server: LocalHTTPServer, robots: Any) -> None:
    server.routes["/robots.txt"] = robots
    server.routes["/"] = Reply(200, {}, b"home")
    with make_fetcher() as fetcher:
        assert fetcher.get(server.url("/")).body == b"home"
        assert fetcher.get(server.url("/")).body == b"home"
    assert server.paths().count("/robots.txt") == 1


def test_errors_share_a_base_class() -> None:
    for error in (
        BlockedAddressError,
        ConnectionFailedError,
        FetchTimeoutError,
        HTTPStatusError,
        InvalidURLError,
        RobotsDisallowedError,
        TooLargeError,
        TooManyRedirectsError,
    ):
        assert issubclass(error, FetchError)
