"""Notification channels: one small plugin per way of reaching people.

A channel renders a `Message` into its payload (done once, at enqueue time, and stored) and later
sends a stored payload to an address. Built-in channels: `dingtalk`, `wecom`, `feishu` (group
robots reached by webhook), `email` (SMTP) and `in_app` (the console's inbox, no network). Other
channels come from the `yuqing.channels` entry-point group: the entry's name is the channel kind
and it loads a zero-argument factory (usually the class). A plugin that is missing or fails to
load disables its kind with a logged error that is also stored on every notification for it; it
never takes the outbox down.

Webhook URLs are configured by administrators, yet they go through the ingest fetcher's address
guard like every other outbound request: a robot URL that resolves to a private, loopback or
link-local address is refused (unless `allow_private_addresses` is on), so a webhook cannot be
used to reach the internal network.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses
from importlib.metadata import entry_points
from typing import Any, Protocol
from urllib.parse import quote_plus, urlsplit

import httpx

from yuqing.ingest.connectors.http import asked_wait

# The one address guard of outbound HTTP. Private names: the fetcher does not export a transport yet.
from yuqing.ingest.fetcher import FetchPolicy, _BlockedConnection, _guarded_transport, _GuardedBackend
from yuqing.notify.messages import (
    Message,
    dingtalk_payload,
    email_payload,
    feishu_payload,
    in_app_payload,
    wecom_payload,
)
from yuqing.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "yuqing.channels"
MAX_DETAIL_CHARS = 500


class NotifyError(Exception):
    """Base of the notify domain's errors; the message is for users."""


class ChannelUnavailable(NotifyError):
    """No channel of this kind can be used: no plugin provides it, or it failed to load."""


class DeliveryError(NotifyError):
    """One delivery attempt failed. `retryable` says whether trying again later may succeed
    (a timeout, a rate limit, a server error) or not (a bad address, a wrong signature)."""

    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        http_status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail[:MAX_DETAIL_CHARS]
        self.retryable = retryable
        self.http_status = http_status
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Receipt:
    """What the channel said when it accepted a message, for the delivery log."""

    detail: str = ""
    http_status: int | None = None
    code: str | None = None


class Channel(Protocol):
    kind: str

    def render(self, message: Message) -> dict[str, Any]:
        """The payload for `message`, a JSON document (stored until it is sent)."""
        ...

    def send(
        self, payload: Mapping[str, Any], address: str, *, secret: str | None, settings: Settings
    ) -> Receipt | None:
        """Deliver a rendered payload; raise DeliveryError when it was not accepted."""
        ...


# -- webhook robots -----------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


_webhook_clients: dict[bool, tuple[httpx.Client, _GuardedBackend]] = {}
_clients_lock = threading.Lock()
# A robot answers `{"errcode": 0, "errmsg": "ok"}`; anything near this size is not such an answer,
# and an endless one would otherwise be read into memory whole.
ROBOT_ANSWER_MAX_BYTES = 64 * 1024


def _webhook_client(allow_private: bool) -> tuple[httpx.Client, _GuardedBackend]:
    """One client per address policy for every webhook, kept for the process (a TLS context reads
    the CA bundle, ~0.1 s), with the network backend that opened its sockets. Its transport is
    the fetcher's: it resolves the host itself and refuses non-public addresses when each
    connection is opened, so DNS rebinding cannot get past it; no proxies from the environment
    (they would connect for us, unchecked), no redirects."""
    with _clients_lock:
        pair = _webhook_clients.get(allow_private)
        if pair is None:
            policy = FetchPolicy(allow_private_addresses=allow_private)
            backend = _GuardedBackend(policy.allow_private_addresses, policy.bridges)
            transport = _guarded_transport(policy, backend)
            client = httpx.Client(transport=transport, follow_redirects=False, trust_env=False)
            pair = _webhook_clients[allow_private] = (client, backend)
        return pair


def _post_json(
    url: str, body: Mapping[str, Any], timeout: float, *, allow_private: bool = False
) -> tuple[int, dict[str, Any]]:
    """POST a JSON body; the HTTP status and the JSON object answered. Transport problems,
    throttling and server errors raise a retryable DeliveryError, other refusals (an internal
    address among them) a final one."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"webhook 地址不是 http(s) 地址：{url[:100]}", retryable=False)
    client, backend = _webhook_client(allow_private)
    # `timeout` bounds each read; the watchdog bounds the whole attempt: a robot sending its
    # answer a byte at a time, each within the read timeout, held the one delivery thread, and
    # every notification after it, for as long as it went on.
    deadline = time.monotonic() + timeout
    watchdog = threading.Timer(timeout, backend.shut_all)
    watchdog.daemon = True
    watchdog.start()
    try:
        with client.stream("POST", url, json=dict(body), timeout=timeout) as response:
            answer = bytearray()
            for chunk in response.iter_bytes():
                answer += chunk
                if len(answer) > ROBOT_ANSWER_MAX_BYTES:
                    raise DeliveryError(
                        f"HTTP {response.status_code}，应答超过 {ROBOT_ANSWER_MAX_BYTES // 1024} KB，"
                        "不是机器人接口的应答；请检查 webhook 地址",
                        retryable=False,
                        http_status=response.status_code,
                    )
    except _BlockedConnection as exc:
        host = urlsplit(url).hostname or url[:100]
        raise DeliveryError(
            f"已拒绝发送：webhook 地址 {host} 指向内网、本机或保留地址；机器人地址应为钉钉、企业微信或"
            "飞书的公网地址，如确需发往内网，请管理员开启 allow_private_addresses",
            retryable=False,
        ) from exc
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"请求超时（{timeout:g} 秒）：{exc.__class__.__name__}", retryable=True) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise DeliveryError(f"webhook 地址无效：{exc}", retryable=False) from exc
    except httpx.HTTPError as exc:
        if time.monotonic() >= deadline:  # the watchdog cut the connection
            raise DeliveryError(f"请求超时（共 {timeout:g} 秒）：应答未在时限内完成", retryable=True) from exc
        raise DeliveryError(f"连接失败：{exc.__class__.__name__} {exc}", retryable=True) from exc
    finally:
        watchdog.cancel()
    status = response.status_code
    text = bytes(answer).decode(response.encoding or "utf-8", errors="replace")
    if status == 429 or status == 408 or status >= 500:
        raise DeliveryError(
            f"HTTP {status}：{_short(text)}",
            retryable=True,
            http_status=status,
            # seconds or an HTTP date (a robot behind a proxy that sends dates waited no longer)
            retry_after=asked_wait(response.headers.get("Retry-After", ""), dt.datetime.now(dt.UTC)),
        )
    if status >= 300:
        raise DeliveryError(f"HTTP {status}：{_short(text)}", retryable=False, http_status=status)
    try:
        data = json.loads(answer)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        data = None
    if not isinstance(data, dict):
        # A proxy's error page or a half-broken gateway: worth another try.
        raise DeliveryError(
            f"HTTP {status}，应答不是 JSON：{_short(text)}", retryable=True, http_status=status
        )
    return status, data


class _RobotChannel:
    """A group robot reached by webhook that answers `{<code field>: 0}` on success."""

    kind = ""
    code_fields: tuple[str, ...] = ("errcode",)
    message_fields: tuple[str, ...] = ("errmsg",)
    retryable_codes: frozenset[int] = frozenset()

    def render(self, message: Message) -> dict[str, Any]:
        raise NotImplementedError

    def signed(self, payload: Mapping[str, Any], address: str, secret: str) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def send(
        self, payload: Mapping[str, Any], address: str, *, secret: str | None, settings: Settings
    ) -> Receipt:
        url, body = self.signed(payload, address, secret) if secret else (address, dict(payload))
        status, data = _post_json(
            url, body, settings.notify_timeout_seconds, allow_private=settings.allow_private_addresses
        )
        code = next((data[f] for f in self.code_fields if f in data), None)
        text = next((str(data[f]) for f in self.message_fields if f in data), "")
        if code is None:
            raise DeliveryError(
                f"HTTP {status}，应答中没有结果码：{_short(str(data))}", retryable=True, http_status=status
            )
        if code == 0:
            return Receipt(f"HTTP {status} {self.code_fields[0]}=0 {text}".strip(), status, "0")
        retryable = isinstance(code, int) and code in self.retryable_codes
        raise DeliveryError(
            f"HTTP {status} {self.code_fields[0]}={code} {_short(text)}".strip(),
            retryable=retryable,
            http_status=status,
            code=str(code),
        )


class DingTalkChannel(_RobotChannel):
    """DingTalk (钉钉) custom robot. With 加签, `timestamp` (ms) and `sign` go in the query."""

    kind = "dingtalk"
    # -1: system busy; 130101: more than 20 messages a minute.
    retryable_codes = frozenset({-1, 130101})

    def render(self, message: Message) -> dict[str, Any]:
        return dingtalk_payload(message)

    def signed(self, payload: Mapping[str, Any], address: str, secret: str) -> tuple[str, dict[str, Any]]:
        timestamp = int(time.time() * 1000)  # the vendor checks it against its own clock (±1 h)
        sign = quote_plus(dingtalk_sign(secret, timestamp))
        separator = "&" if "?" in address else "?"
        return f"{address}{separator}timestamp={timestamp}&sign={sign}", dict(payload)


class WeComChannel(_RobotChannel):
    """WeCom (企业微信) group robot; its webhook key is in the URL, there is no signature."""

    kind = "wecom"
    # -1: system busy; 45009: API frequency limit; 45033: too many concurrent calls.
    retryable_codes = frozenset({-1, 45009, 45033})

    def render(self, message: Message) -> dict[str, Any]:
        return wecom_payload(message)

    def signed(self, payload: Mapping[str, Any], address: str, secret: str) -> tuple[str, dict[str, Any]]:
        return address, dict(payload)


class FeishuChannel(_RobotChannel):
    """Feishu (飞书) custom bot. With 签名校验, `timestamp` (s) and `sign` go in the JSON body.
    Success is `{"code": 0}`; older deployments answer `{"StatusCode": 0}`."""

    kind = "feishu"
    code_fields = ("code", "StatusCode")
    message_fields = ("msg", "StatusMessage")
    # 11232: frequency limited (100 a minute, 5 a second per bot).
    retryable_codes = frozenset({11232})

    def render(self, message: Message) -> dict[str, Any]:
        return feishu_payload(message)

    def signed(self, payload: Mapping[str, Any], address: str, secret: str) -> tuple[str, dict[str, Any]]:
        timestamp = int(time.time())
        return address, {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **payload}


# -- e-mail -------------------------------------------------------------------------------------

SMTP_SECURITY = ("none", "starttls", "ssl")


class EmailChannel:
    """E-mail over SMTP (`smtp_*` settings): UTF-8, plain text with an HTML alternative."""

    kind = "email"

    def render(self, message: Message) -> dict[str, Any]:
        return email_payload(message)

    @staticmethod
    def build(payload: Mapping[str, Any], address: str, sender: str) -> EmailMessage:
        mail = EmailMessage(policy=default_policy)
        mail["From"] = sender
        mail["To"] = address
        mail["Subject"] = " ".join(str(payload["subject"]).split())
        mail["Date"] = str(payload["date"])
        mail["Message-ID"] = str(payload["message_id"])
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
        mail.set_content(str(payload["text"]), charset="utf-8")
        mail.add_alternative(str(payload["html"]), subtype="html", charset="utf-8")
        return mail

    def send(
        self, payload: Mapping[str, Any], address: str, *, secret: str | None, settings: Settings
    ) -> Receipt:
        if not settings.smtp_host:
            raise DeliveryError("邮件通知未开启：请设置 smtp_host", retryable=False)
        if settings.smtp_security not in SMTP_SECURITY:
            raise DeliveryError(
                f"smtp_security 应为 none、starttls 或 ssl，实为 {settings.smtp_security!r}", retryable=False
            )
        recipients = [addr for _, addr in getaddresses([address]) if "@" in addr]
        if not recipients:
            raise DeliveryError(f"不是有效的邮件地址：{address[:100]}", retryable=False)
        mail = self.build(payload, address, settings.smtp_from)
        try:
            refused = self._transmit(mail, settings)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"收件人被拒绝：{_smtp_detail(exc.recipients)}",
                retryable=all(400 <= code < 500 for code in codes),
                code=str(codes[0]) if codes else None,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            raise DeliveryError(
                f"SMTP {exc.smtp_code} {_short(text)}",
                retryable=400 <= exc.smtp_code < 500,
                code=str(exc.smtp_code),
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"SMTP 服务器不支持：{exc}", retryable=False) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"SMTP 服务器证书校验失败：{exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP 连接失败：{exc.__class__.__name__} {exc}", retryable=True) from exc
        if refused:
            # Some recipients took it; sending again would reach them twice, so this counts as sent.
            return Receipt(f"已发送，部分收件人被拒绝：{_smtp_detail(refused)}", code="250")
        return Receipt(f"SMTP 已接收 {', '.join(recipients)}", code="250")

    @staticmethod
    def _transmit(mail: EmailMessage, settings: Settings) -> dict[str, tuple[int, bytes]]:
        timeout = settings.notify_timeout_seconds
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if settings.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(timeout=timeout)
        # Connected below, not by the constructor, so that the watchdog can reach the socket while
        # the greeting is read: `timeout` bounds each read, and a server trickling its 220 a byte
        # at a time held the delivery thread, and every notification after it, indefinitely. The
        # whole conversation (greeting, STARTTLS, login, the message) gets three times `timeout`.
        smtp._host = settings.smtp_host  # type: ignore[attr-defined]  # the TLS name the constructor sets
        budget = 3 * timeout
        deadline = time.monotonic() + budget

        def shut() -> None:
            if smtp.sock is not None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(smtp.sock, socket.SHUT_RDWR)

        watchdog = threading.Timer(budget, shut)
        watchdog.daemon = True
        watchdog.start()
        try:
            with smtp:
                smtp.connect(settings.smtp_host, settings.smtp_port)
                if settings.smtp_security == "starttls":
                    smtp.starttls(context=context)
                if settings.smtp_user:
                    smtp.login(settings.smtp_user, settings.smtp_password)
                return smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            if time.monotonic() >= deadline and not isinstance(exc, smtplib.SMTPResponseException):
                raise TimeoutError(f"SMTP 会话超过 {budget:g} 秒未完成") from exc
            raise
        finally:
            watchdog.cancel()


def _smtp_detail(recipients: Mapping[str, tuple[int, bytes | str]]) -> str:
    parts = []
    for addr, (code, text) in recipients.items():
        message = text.decode(errors="replace") if isinstance(text, bytes) else text
        parts.append(f"{addr} {code} {_short(message)}")
    return "; ".join(parts)


# -- in-app -------------------------------------------------------------------------------------


class InAppChannel:
    """The console's inbox: nothing to send; a delivered notification shows in the person's inbox."""

    kind = "in_app"

    def render(self, message: Message) -> dict[str, Any]:
        return in_app_payload(message)

    def send(
        self, payload: Mapping[str, Any], address: str, *, secret: str | None, settings: Settings
    ) -> Receipt:
        return Receipt("已放入站内通知")


# -- the registry -------------------------------------------------------------------------------

ChannelFactory = Callable[[], Channel]
BUILTIN: dict[str, ChannelFactory] = {
    DingTalkChannel.kind: DingTalkChannel,
    WeComChannel.kind: WeComChannel,
    FeishuChannel.kind: FeishuChannel,
    EmailChannel.kind: EmailChannel,
    InAppChannel.kind: InAppChannel,
}
_registry: dict[str, ChannelFactory] = dict(BUILTIN)
_problems: dict[str, str] = {}
_plugins_loaded = False
_lock = threading.Lock()


def register(kind: str, factory: ChannelFactory) -> None:
    """Make a channel kind available (plugins found by entry point are registered this way)."""
    with _lock:
        _registry[kind] = factory
        _problems.pop(kind, None)


def load_plugins(*, force: bool = False) -> dict[str, str]:
    """Load the `yuqing.channels` entry points once (again when `force`); the kinds that could
    not be loaded, with the reason."""
    global _plugins_loaded
    with _lock:
        if _plugins_loaded and not force:
            return dict(_problems)
        _plugins_loaded = True
        if force:
            _registry.clear()
            _registry.update(BUILTIN)
            _problems.clear()
        try:
            entries = list(entry_points(group=ENTRY_POINT_GROUP))
        except Exception as exc:  # broken package metadata must not stop the built-ins
            log.exception("listing notification channel plugins failed")
            _problems["*"] = f"读取通知渠道插件列表失败：{exc}"
            return dict(_problems)
        for entry in entries:
            if entry.name in BUILTIN:
                log.warning("notification channel plugin %s ignored: a built-in has that name", entry.value)
                continue
            try:
                factory = entry.load()
                if not callable(factory):
                    raise TypeError(f"{entry.value} 不可调用")
            except Exception as exc:  # a broken plugin disables its kind only
                log.exception("notification channel plugin %s failed to load", entry.name)
                _problems[entry.name] = f"通知渠道插件 {entry.name} 加载失败：{exc.__class__.__name__} {exc}"
                continue
            _registry[entry.name] = factory
        return dict(_problems)


def get_channel(kind: str) -> Channel:
    """The channel of a kind; ChannelUnavailable (with the reason) when there is none."""
    load_plugins()
    with _lock:
        problem = _problems.get(kind)
        factory = _registry.get(kind)
    if problem:
        raise ChannelUnavailable(problem)
    if factory is None:
        raise ChannelUnavailable(f"没有 {kind!r} 类型的通知渠道插件")
    try:
        return factory()
    except Exception as exc:
        log.exception("notification channel %s failed to start", kind)
        raise ChannelUnavailable(f"通知渠道插件 {kind} 初始化失败：{exc.__class__.__name__} {exc}") from exc


def channel_status() -> dict[str, str | None]:
    """Every known channel kind and what is wrong with it (None: usable), for the console."""
    problems = load_plugins()
    with _lock:
        kinds = set(_registry) | set(problems)
    return {kind: problems.get(kind) for kind in sorted(kinds)}
