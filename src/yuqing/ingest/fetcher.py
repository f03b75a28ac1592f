"""The only way yuqing reaches the network.

This module owns outbound HTTP(S): which addresses may be contacted (no private, loopback,
link-local or otherwise non-public address unless the policy allows it, checked when every
connection is opened, so redirects and DNS rebinding cannot sneak past), how much may be
downloaded, how long a fetch may take in total, redirects, conditional requests and
robots.txt. The office's own bridges (``FetchPolicy.bridges``: the RSSHub and WeWe RSS instances
the administrator lists) are the one exception to the address and robots.txt checks, for their
host and port only: a redirect from a bridge to anywhere else is checked as usual. Callers get
the raw body; turning it into text is ``decoding``'s job.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

__all__ = [
    "BlockedAddressError",
    "ConnectionFailedError",
    "FetchError",
    "FetchPolicy",
    "FetchResult",
    "FetchTimeoutError",
    "Fetcher",
    "HTTPStatusError",
    "InvalidURLError",
    "RobotsDisallowedError",
    "TooLargeError",
    "TooManyRedirectsError",
    "is_public_address",
    "scrub_secrets",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# robots.txt files are small; a huge one is a mistake or an attack, not a policy.
_ROBOTS_MAX_BYTES = 512 * 1024
# Prefixes whose IPv6 addresses embed an IPv4 address that is what actually gets reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Access parameters in a URL are secrets (an RSSHub `key` or `code`, an API's `token`), and so is
# the password of `https://user:password@host/`: the HTTP client logs each request's URL, so its
# log records are scrubbed of them. A value ends where the URL does: at a space, a quote, `&`, or
# the Chinese text of the message around it (「…?token=abc：连接超时」).
_URL_VALUE = r"(?:(?![&\"'<>])[\x21-\x7e])+"
# APIs name them in many ways (`key`, `access_key`, `app_key`, `secret`, `sign`, `password`…):
# any parameter whose name ends like one, or RSSHub's `code`.
_ACCESS_NAMES = r"[a-z0-9_.-]*(?:key|token|secret|password|passwd|pwd|auth|sign|signature|sig)|code"
_SECRET_PARAMS = re.compile(rf"([?&](?:{_ACCESS_NAMES})=){_URL_VALUE}", re.I)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@", re.I)


def scrub_secrets(text: str) -> str:
    """`text` (a URL, an error naming one) with the values of access parameters and the password of
    its user information replaced by ***."""
    return _URL_PASSWORD.sub(r"\1***@", _SECRET_PARAMS.sub(r"\1***", text))


class _ScrubSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub_secrets(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_ScrubSecrets())


@dataclass(frozen=True)
class FetchPolicy:
    allow_private_addresses: bool = False
    max_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_redirects: int = 5
    respect_robots_txt: bool = True
    user_agent: str = "yuqing/0.1 (+public-opinion monitor)"
    # The office's own bridges (RSSHub, WeWe RSS) as (host, port): reached on private addresses
    # and without robots.txt; see `bridge_hosts`.
    bridges: frozenset[tuple[str, int]] = frozenset()


def bridge_hosts(origins: Iterable[str]) -> frozenset[tuple[str, int]]:
    """(host, port) of each bridge origin (``http://127.0.0.1:1200``), the port defaulted from the
    scheme: what the fetcher compares a URL's host and port, and a connection's, against."""
    return frozenset(_host_port(httpx.URL(origin)) for origin in origins)


def _host_port(url: httpx.URL) -> tuple[str, int]:
    return url.host.lower(), url.port or (443 if url.scheme == "https" else 80)


def size_text(size: int) -> str:
    """A byte count as people read it: 「10 MB」, 「512 KB」, 「300 字节」."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    if size >= 1024:
        return f"{size / 1024:.3g} KB"
    return f"{size} 字节"


class FetchError(Exception):
    """A fetch failed; ``url`` is the URL that failed (a redirect target, if it got that far)."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{message}：{url}")
        self.url = url
        self.reason = message


class InvalidURLError(FetchError):
    pass


class BlockedAddressError(FetchError):
    pass


class TooLargeError(FetchError):
    pass


class FetchTimeoutError(FetchError):
    pass


class RobotsDisallowedError(FetchError):
    pass


class TooManyRedirectsError(FetchError):
    pass


class ConnectionFailedError(FetchError):
    pass


class HTTPStatusError(FetchError):
    """The server answered with a status other than 2xx or 304; ``result`` has its response."""

    def __init__(self, url: str, status: int, result: FetchResult) -> None:
        super().__init__(url, f"HTTP {status}")
        self.status = status
        self.result = result


@dataclass(frozen=True)
class FetchResult:
    """A response. On 304 ``body`` is empty and ``etag``/``last_modified`` fall back to the
    validators the caller sent, so they can be stored back unchanged."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime
    not_modified: bool
    etag: str | None
    last_modified: str | None
    content_type: str | None
    declared_charset: str | None


def is_public_address(address: IPAddress | str) -> bool:
    """True if ``address`` is a globally routable unicast address that is safe to contact."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that wraps an IPv4 one reaches that IPv4 address.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, lower case; None without one."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip("\"'"):
            return value.strip().strip("\"'").lower()
    return None


class _BlockedConnection(Exception):
    """Raised inside the transport; turned into BlockedAddressError with the URL by Fetcher."""

    def __init__(self, host: str, address: IPAddress) -> None:
        super().__init__(f"{host} 解析为内网或保留地址 {address}")


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves the host itself, refuses non-public addresses, and connects to an address it
    checked, so the name cannot resolve differently between the check and the connect."""

    def __init__(self, allow_private: bool, bridges: frozenset[tuple[str, int]] = frozenset()) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private
        self._bridges = bridges
        # Every socket it opened and that is still alive: the fetcher's watchdog shuts them at a
        # request's deadline, whichever the pool uses, before the answer's headers have come too.
        self.sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def shut_all(self) -> None:
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                # The base-class shutdown also works on SSL sockets without touching TLS state.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"无法解析域名 {host}（{exc}）") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        if not self._allow_private and (host.strip("[]").lower(), port) not in self._bridges:
            for address in addresses:
                if not is_public_address(address):
                    raise _BlockedConnection(host, address)
        started = time.monotonic()
        error: Exception = httpcore.ConnectError(f"域名 {host} 没有可用地址")
        for address in addresses:
            remaining = None if timeout is None else timeout - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"连接 {host} 超时")
            try:
                stream = self._inner.connect_tcp(str(address), port, remaining, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # try the next address, as socket.create_connection would
                continue
            sock = stream.get_extra_info("socket")
            if isinstance(sock, socket.socket):
                self.sockets.add(sock)
            return stream
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("不允许连接 unix 套接字")


def _guarded_transport(policy: FetchPolicy, backend: _GuardedBackend | None = None) -> httpx.HTTPTransport:
    # httpx offers no public way to plug in a network backend, so the pool it built is
    # swapped for one that uses ours; trust_env=False keeps proxies (which would connect on
    # our behalf, unchecked) and netrc out.
    transport = httpx.HTTPTransport(trust_env=False)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend or _GuardedBackend(policy.allow_private_addresses, policy.bridges),
    )
    return transport


def _arm_watchdog(response: httpx.Response, deadline: float) -> threading.Timer | None:
    """Shut the response's socket at the deadline, so a read blocked on a trickling server
    ends on time (httpx's read timeout bounds one read, not the whole body)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if not isinstance(sock, socket.socket):
        return None

    def shut() -> None:
        with contextlib.suppress(OSError):
            # The base-class shutdown also works on SSL sockets without touching TLS state.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), shut)
    timer.daemon = True
    timer.start()
    return timer


class Fetcher:
    """Fetches URLs under a FetchPolicy. One Fetcher caches robots.txt per host; not thread-safe.

    ``transport`` replaces the network (tests); a replaced transport skips the connect-time
    address check, so only URLs with literal IP addresses are then checked.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock or (lambda: datetime.now(UTC))
        self._backend = (
            None if transport is not None else _GuardedBackend(policy.allow_private_addresses, policy.bridges)
        )
        self._client = httpx.Client(
            transport=transport or _guarded_transport(policy, self._backend),
            follow_redirects=False,  # every hop is checked by us
            trust_env=False,
            headers={"User-Agent": policy.user_agent},
        )
        self._robots: dict[str, RobotFileParser | None] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url``; raises a FetchError subclass for anything but 2xx and 304."""
        headers = {"Accept": accept or "*/*"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.policy.total_timeout
        result = self._fetch(url, headers, deadline, self.policy.max_bytes, self.policy.respect_robots_txt)
        if result.not_modified:
            result = _with_validators(result, etag, last_modified)
        if not (200 <= result.status < 300 or result.not_modified):
            raise HTTPStatusError(result.final_url, result.status, result)
        return result

    def _fetch(
        self, url: str, headers: dict[str, str], deadline: float, max_bytes: int, check_robots: bool
    ) -> FetchResult:
        current = url
        seen: set[str] = set()
        for _ in range(self.policy.max_redirects + 1):
            target = self._check_url(current)
            bridge = _host_port(target) in self.policy.bridges
            if check_robots and not bridge and not self._robots_allowed(target, deadline):
                raise RobotsDisallowedError(current, "该网站的 robots.txt 不允许抓取")
            seen.add(str(target))
            status, response_headers, body = self._request(target, headers, deadline, max_bytes)
            location = response_headers.get("location")
            if status in _REDIRECT_STATUSES and location:
                try:
                    current = str(target.join(location))
                except httpx.InvalidURL as exc:
                    raise InvalidURLError(location, f"重定向地址无效（来自 {target}）") from exc
                continue
            content_type = response_headers.get("content-type")
            return FetchResult(
                url=url,
                final_url=str(target),
                status=status,
                headers=response_headers,
                body=body,
                fetched_at=self._clock(),
                not_modified=status == 304,
                etag=response_headers.get("etag"),
                last_modified=response_headers.get("last-modified"),
                content_type=content_type,
                declared_charset=charset_of(content_type),
            )
        hint = "（循环重定向）" if current in seen else ""
        raise TooManyRedirectsError(current, f"重定向超过 {self.policy.max_redirects} 次{hint}")

    def _check_url(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise InvalidURLError(url, "网址无效") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidURLError(url, "只能抓取 http 和 https 网址")
        if not self.policy.allow_private_addresses and _host_port(parsed) not in self.policy.bridges:
            # Literal addresses are refused before any connection (or robots.txt request);
            # host names are checked when the connection is opened.
            with contextlib.suppress(ValueError):
                address = ipaddress.ip_address(parsed.host)
                if not is_public_address(address):
                    raise BlockedAddressError(url, f"拒绝访问内网或保留地址 {address}")
        return parsed

    def _request(
        self, target: httpx.URL, headers: dict[str, str], deadline: float, max_bytes: int
    ) -> tuple[int, dict[str, str], bytes]:
        """One GET without following redirects: (status, lower-cased headers, body)."""
        url = str(target)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeoutError(url, f"{self.policy.total_timeout:g} 秒内未下载完，已放弃")
        # Each phase gets its own limit, but none may outlive the overall deadline.
        connect = min(self.policy.connect_timeout, remaining)
        read = min(self.policy.read_timeout, remaining)
        timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
        watchdog: threading.Timer | None = None
        response: httpx.Response | None = None
        try:
            request = self._client.build_request("GET", target, headers=headers, timeout=timeout)
            if self._backend is not None:
                # From the start: a server sending its headers a byte at a time, each within the
                # read timeout, would otherwise hold the fetch (and every source after it) for hours.
                watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), self._backend.shut_all)
                watchdog.daemon = True
                watchdog.start()
            response = self._client.send(request, stream=True)
            if watchdog is None:
                watchdog = _arm_watchdog(response, deadline)
            declared_length = response.headers.get("content-length", "")
            if declared_length.isdigit() and int(declared_length) > max_bytes:
                raise TooLargeError(
                    url, f"响应为 {size_text(int(declared_length))}，超过上限 {size_text(max_bytes)}"
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise TooLargeError(url, f"响应超过上限 {size_text(max_bytes)}")
                if time.monotonic() >= deadline:
                    raise FetchTimeoutError(url, f"{self.policy.total_timeout:g} 秒内未下载完，已放弃")
                chunks.append(chunk)
            response_headers = {key.lower(): value for key, value in response.headers.items()}
            return response.status_code, response_headers, b"".join(chunks)
        except _BlockedConnection as exc:
            raise BlockedAddressError(url, f"拒绝连接：{exc}") from exc
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise FetchTimeoutError(url, f"连接超时（{self.policy.connect_timeout:g} 秒）") from exc
            raise FetchTimeoutError(url, f"服务器 {self.policy.read_timeout:g} 秒无响应") from exc
        except httpx.TransportError as exc:
            if time.monotonic() >= deadline:  # the watchdog cut the connection
                raise FetchTimeoutError(url, f"{self.policy.total_timeout:g} 秒内未下载完，已放弃") from exc
            raise ConnectionFailedError(url, f"连接失败（{exc or type(exc).__name__}）") from exc
        except httpx.DecodingError as exc:
            raise FetchError(url, "响应内容与其声明的压缩格式（Content-Encoding）不符") from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if response is not None:
                response.close()

    def _robots_allowed(self, target: httpx.URL, deadline: float) -> bool:
        origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
        if origin not in self._robots:
            try:
                self._robots[origin] = self._load_robots(origin, deadline)
            except BlockedAddressError as exc:
                # Same host as the page: report it against the URL the caller cares about.
                raise BlockedAddressError(str(target), exc.reason) from exc
        parser = self._robots[origin]
        return parser is None or parser.can_fetch(self.policy.user_agent, str(target))

    def _load_robots(self, origin: str, deadline: float) -> RobotFileParser | None:
        """The origin's robots.txt rules; None (everything allowed) if it has none we can read."""
        robots_url = f"{origin}/robots.txt"
        try:
            result = self._fetch(robots_url, {"Accept": "text/plain"}, deadline, _ROBOTS_MAX_BYTES, False)
        except BlockedAddressError:
            raise  # the page itself is on the same host; report the real reason
        except FetchError:
            # Unreachable, too slow or too big: treated as "no rules". If the deadline is
            # spent, the page request that follows fails with FetchTimeoutError.
            return None
        if not 200 <= result.status < 300:
            return None  # 4xx (no robots.txt) and 5xx are treated as "no rules"
        parser = RobotFileParser()
        parser.parse(result.body.decode("utf-8", errors="replace").splitlines())
        return parser


def _with_validators(result: FetchResult, etag: str | None, last_modified: str | None) -> FetchResult:
    return replace(result, etag=result.etag or etag, last_modified=result.last_modified or last_modified)
