"""Channels against real servers on 127.0.0.1 standing in for DingTalk, WeCom, Feishu and SMTP."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import pytest

from tests.notify import Answer, RobotServer, free_port, smtp_server
from yuqing.notify import channels
from yuqing.notify.channels import (
    ChannelUnavailable,
    DeliveryError,
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    Receipt,
    WeComChannel,
    channel_status,
    get_channel,
)
from yuqing.notify.messages import WECOM_MAX_CONTENT_BYTES, Level, Message, neutralise_markdown
from yuqing.settings import Settings, load_settings

AT = dt.datetime(2026, 11, 20, 1, 30, tzinfo=dt.UTC)  # 09:30 in Shanghai
NASTY = (
    "[点我领奖](http://evil.example/phish) ![img](http://evil.example/x.png)\n"
    '@所有人 @all <at id=all></at> <@all> <font color="warning">假通知</font>\n'
    "# 大标题 **粗体** `code` &lt;script&gt; 见 https://evil.example/a 或 www.evil.example"
)


def alert_message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "title": "某市化工厂爆炸事件舆情升级",
        "body": "多个平台出现相关讨论。\n已有媒体跟进报道。",
        "at": AT,
        "level": Level.RED,
        "link": "http://console.example/events/12",
        "facts": (("等级", "I 级（特别重大）"), ("地区", "某市"), ("帖子数", "128")),
    }
    fields.update(changes)
    return Message(**fields)


@pytest.fixture
def robot() -> Iterator[RobotServer]:
    server = RobotServer().start()
    yield server
    server.stop()


@pytest.fixture
def plain_settings() -> Settings:
    return load_settings(notify_timeout_seconds=2.0)


def dingtalk_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# -- messages -----------------------------------------------------------------------------------


def test_grades_map_to_the_plan_colours() -> None:
    assert [Level.for_grade(code).label for code in ("I", "II", "III", "IV")] == [
        "红色",
        "橙色",
        "黄色",
        "蓝色",
    ]
    assert Level.for_grade(None) is Level.INFO
    assert Level.for_colour("orange") is Level.ORANGE
    assert Level.for_colour("purple") is Level.INFO


def test_a_message_refuses_naive_times_and_script_links() -> None:
    with pytest.raises(ValueError, match="aware"):
        alert_message(at=dt.datetime(2026, 11, 20, 9, 30))
    with pytest.raises(ValueError, match="http"):
        alert_message(link="javascript:alert(1)")
    message = alert_message()
    assert Message.from_dict(json.loads(json.dumps(message.to_dict()))) == message


def test_scraped_text_cannot_inject_markup_or_mentions() -> None:
    safe = neutralise_markdown(NASTY)
    for fragment in (
        "[点我领奖](",
        "![img](",
        "@所有人",
        "@all",
        "<at",
        "<@",
        "<font",
        "# 大标题",
        "**",
        "`",
    ):
        assert fragment not in safe
    assert "http://" not in safe and "https://" not in safe and "www." not in safe
    assert "点我领奖" in safe and "假通知" in safe and "evil.example" in safe  # still readable
    assert safe.count("\n") == NASTY.count("\n")


# -- DingTalk -----------------------------------------------------------------------------------


def test_dingtalk_robot_receives_signed_markdown(robot: RobotServer, plain_settings: Settings) -> None:
    channel = DingTalkChannel()
    message = alert_message(mention_mobiles=("13800000000",))
    payload = channel.render(message)
    before = int(time.time() * 1000)
    receipt = channel.send(
        payload, robot.url("/robot/send?access_token=tok"), secret="SECabc", settings=plain_settings
    )

    assert receipt.code == "0" and receipt.http_status == 200
    [posted] = robot.posts
    assert posted.path == "/robot/send"
    assert posted.headers["content-type"] == "application/json"
    assert posted.json == {
        "msgtype": "markdown",
        "markdown": {
            "title": "【红色】某市化工厂爆炸事件舆情升级",
            "text": "### 🔴 【红色】某市化工厂爆炸事件舆情升级\n\n"
            "多个平台出现相关讨论。\n\n已有媒体跟进报道。\n\n"
            "**等级**：I 级（特别重大）\n\n**地区**：某市\n\n**帖子数**：128\n\n"
            "[查看详情](http://console.example/events/12)\n\n"
            "###### 2026-11-20 09:30\n\n@13800000000",
        },
        "at": {"atMobiles": ["13800000000"], "isAtAll": False},
    }
    assert posted.query["access_token"] == "tok"
    timestamp = posted.query["timestamp"]
    assert before <= int(timestamp) <= int(time.time() * 1000)
    assert posted.query["sign"] == dingtalk_sign("SECabc", timestamp)


def test_dingtalk_errcodes_are_failures_retried_only_when_throttled(
    robot: RobotServer, plain_settings: Settings
) -> None:
    channel = DingTalkChannel()
    payload = channel.render(alert_message())
    robot.script = [
        Answer(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
        Answer(200, {"errcode": 310000, "errmsg": "sign not match"}),
    ]
    with pytest.raises(DeliveryError) as throttled:
        channel.send(payload, robot.url(), secret=None, settings=plain_settings)
    assert throttled.value.retryable and throttled.value.code == "130101"
    with pytest.raises(DeliveryError) as refused:
        channel.send(payload, robot.url(), secret=None, settings=plain_settings)
    assert not refused.value.retryable
    assert "errcode=310000" in refused.value.detail and "sign not match" in refused.value.detail
    # No secret: no signature parameters.
    assert all("sign" not in posted.query for posted in robot.posts)


# -- WeCom --------------------------------------------------------------------------------------


def test_wecom_robot_receives_markdown_content(robot: RobotServer, plain_settings: Settings) -> None:
    channel = WeComChannel()
    channel.send(
        channel.render(alert_message()),
        robot.url("/cgi-bin/webhook/send?key=k"),
        secret=None,
        settings=plain_settings,
    )
    [posted] = robot.posts
    assert posted.query == {"key": "k"}
    assert posted.json == {
        "msgtype": "markdown",
        "markdown": {
            "content": '## <font color="warning">【红色】</font>某市化工厂爆炸事件舆情升级\n'
            "多个平台出现相关讨论。\n已有媒体跟进报道。\n"
            '> 等级：<font color="comment">I 级（特别重大）</font>\n'
            '> 地区：<font color="comment">某市</font>\n'
            '> 帖子数：<font color="comment">128</font>\n'
            "[查看详情](http://console.example/events/12)\n"
            '<font color="comment">2026-11-20 09:30</font>'
        },
    }


def test_wecom_rate_limit_is_retryable_and_long_bodies_fit(
    robot: RobotServer, plain_settings: Settings
) -> None:
    channel = WeComChannel()
    payload = channel.render(alert_message(body="舆情" * 5000))
    assert len(payload["markdown"]["content"].encode()) <= WECOM_MAX_CONTENT_BYTES
    assert payload["markdown"]["content"].endswith(
        '[查看详情](http://console.example/events/12)\n<font color="comment">2026-11-20 09:30</font>'
    )
    robot.script = [
        Answer(200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
        Answer(200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
    ]
    with pytest.raises(DeliveryError) as limited:
        channel.send(payload, robot.url(), secret=None, settings=plain_settings)
    assert limited.value.retryable
    with pytest.raises(DeliveryError) as invalid:
        channel.send(payload, robot.url(), secret=None, settings=plain_settings)
    assert not invalid.value.retryable and invalid.value.code == "93000"


# -- Feishu -------------------------------------------------------------------------------------


def test_feishu_bot_receives_a_signed_card(robot: RobotServer, plain_settings: Settings) -> None:
    robot.default = Answer(200, {"code": 0, "msg": "success", "data": {}})
    channel = FeishuChannel()
    before = int(time.time())
    channel.send(
        channel.render(alert_message()),
        robot.url("/open-apis/bot/v2/hook/x"),
        secret="fs-secret",
        settings=plain_settings,
    )
    [posted] = robot.posts
    body = posted.json
    timestamp = body.pop("timestamp")
    assert isinstance(timestamp, str) and before <= int(timestamp) <= int(time.time())
    assert body.pop("sign") == feishu_sign("fs-secret", timestamp)
    assert body == {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "template": "red",
                "title": {"tag": "plain_text", "content": "【红色】某市化工厂爆炸事件舆情升级"},
            },
            "elements": [
                {
                    "tag": "div",
                    "text": {"tag": "plain_text", "content": "多个平台出现相关讨论。\n已有媒体跟进报道。"},
                },
                {
                    "tag": "div",
                    "fields": [
                        {
                            "is_short": True,
                            "text": {"tag": "lark_md", "content": "**等级**\nI 级（特别重大）"},
                        },
                        {"is_short": True, "text": {"tag": "lark_md", "content": "**地区**\n某市"}},
                        {"is_short": True, "text": {"tag": "lark_md", "content": "**帖子数**\n128"}},
                    ],
                },
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": "查看详情"},
                            "type": "primary",
                            "url": "http://console.example/events/12",
                        }
                    ],
                },
                {"tag": "note", "elements": [{"tag": "plain_text", "content": "2026-11-20 09:30"}]},
            ],
        },
    }


def test_feishu_answers_old_and_new_style(robot: RobotServer, plain_settings: Settings) -> None:
    channel = FeishuChannel()
    payload = channel.render(alert_message(level=Level.BLUE, link=None, facts=()))
    assert payload["card"]["header"]["template"] == "blue"
    robot.script = [
        Answer(200, {"StatusCode": 0, "StatusMessage": "success"}),
        Answer(200, {"code": 11232, "msg": "frequency limited"}),
        Answer(200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}),
    ]
    assert channel.send(payload, robot.url(), secret=None, settings=plain_settings).code == "0"
    with pytest.raises(DeliveryError) as limited:
        channel.send(payload, robot.url(), secret=None, settings=plain_settings)
    assert limited.value.retryable
    with pytest.raises(DeliveryError) as bad_sign:
        channel.send(payload, robot.url(), secret=None, settings=plain_settings)
    assert not bad_sign.value.retryable and "19021" in bad_sign.value.detail


# -- what every robot shares --------------------------------------------------------------------


@pytest.mark.parametrize(
    "channel", [DingTalkChannel(), WeComChannel(), FeishuChannel()], ids=lambda c: c.kind
)
def test_injected_markdown_reaches_the_group_as_plain_text(
    channel: channels.Channel, robot: RobotServer, plain_settings: Settings
) -> None:
    robot.default = Answer(200, {"errcode": 0, "code": 0})
    message = alert_message(
        title="转发：[官方通知](http://evil.example) @所有人",
        body=NASTY,
        facts=(("来源", "<at id=all></at>"),),
    )
    channel.send(channel.render(message), robot.url(), secret=None, settings=plain_settings)
    sent = json.dumps(robot.posts[0].json, ensure_ascii=False)
    for fragment in (
        "](http://evil",
        "![img]",
        "@所有人",
        "@all",
        "<at id",
        "<@all>",
        'color=\\"warning\\">假通知',
    ):
        assert fragment not in sent
    assert "http://evil" not in sent and "https://evil" not in sent
    assert 'isAtAll": true' not in sent
    assert "点我领奖" in sent and "官方通知" in sent
    assert "http://console.example/events/12" in sent  # our own link is still a link


def test_robot_http_failures(robot: RobotServer, plain_settings: Settings) -> None:
    from email.utils import format_datetime

    in_ten_minutes = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    channel = DingTalkChannel()
    payload = channel.render(alert_message())
    robot.script = [
        Answer(503, "upstream down"),
        Answer(429, "slow down", {"Retry-After": "120"}),
        Answer(503, "maintenance", {"Retry-After": format_datetime(in_ten_minutes, usegmt=True)}),
        Answer(404, "no such robot"),
        Answer(200, "<html>proxy error</html>"),
        Answer(200, '{"a":' + "[" * 4000),  # nested past the JSON parser's depth
    ]
    outcomes = []
    for _ in range(6):
        with pytest.raises(DeliveryError) as failure:
            channel.send(payload, robot.url(), secret=None, settings=plain_settings)
        outcomes.append((failure.value.retryable, failure.value.http_status, failure.value.retry_after))
    # a Retry-After date (a proxy's) is read as the wait until then, not ignored
    dated = outcomes.pop(2)
    assert dated[:2] == (True, 503) and dated[2] is not None and 500 < dated[2] <= 600
    assert outcomes == [
        (True, 503, None),
        (True, 429, 120.0),
        (False, 404, None),
        (True, 200, None),
        (True, 200, None),
    ]
    with pytest.raises(DeliveryError) as refused:
        channel.send(payload, f"http://127.0.0.1:{free_port()}/robot", secret=None, settings=plain_settings)
    assert refused.value.retryable and "连接失败" in refused.value.detail
    with pytest.raises(DeliveryError) as not_web:
        channel.send(payload, "ftp://example.com/robot", secret=None, settings=plain_settings)
    assert not not_web.value.retryable


# -- e-mail -------------------------------------------------------------------------------------


def smtp_settings(port: int, **changes: Any) -> Settings:
    return load_settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="舆情平台 <yuqing@example.org>",
        notify_timeout_seconds=5.0,
        **changes,
    )


def test_an_email_arrives_with_its_chinese_subject_and_facts() -> None:
    channel = EmailChannel()
    payload = channel.render(alert_message())
    with smtp_server() as (mailbox, port):
        channel.send(payload, "值班员 <duty@example.org>", secret=None, settings=smtp_settings(port))
    [(sender, recipients, raw)] = mailbox.received
    assert sender == "yuqing@example.org" and recipients == ["duty@example.org"]
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]  # the subject is RFC 2047 encoded
    [mail] = mailbox.mails()
    assert mail["Subject"] == "【红色】某市化工厂爆炸事件舆情升级"
    assert mail["Message-ID"] == payload["message_id"]
    assert mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    assert "等级：I 级（特别重大）" in plain and "帖子数：128" in plain
    assert "查看详情：http://console.example/events/12" in plain and "2026-11-20 09:30" in plain
    assert "<th" in html.get_content() and "特别重大" in html.get_content()


def test_email_escapes_scraped_html() -> None:
    payload = EmailChannel().render(
        alert_message(body="<script>alert(1)</script><a href='http://evil'>x</a>")
    )
    assert "<script>" not in payload["html"] and "&lt;script&gt;" in payload["html"]
    assert "href='http://evil'" not in payload["html"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_logs_in_when_a_user_is_set() -> None:
    channel = EmailChannel()
    payload = channel.render(alert_message())
    with smtp_server(login=("robot", "s3cret")) as (mailbox, port):
        channel.send(
            payload,
            "duty@example.org",
            secret=None,
            settings=smtp_settings(port, smtp_user="robot", smtp_password="s3cret"),
        )
        with pytest.raises(DeliveryError) as bad_login:
            channel.send(
                payload,
                "duty@example.org",
                secret=None,
                settings=smtp_settings(port, smtp_user="robot", smtp_password="wrong"),
            )
    assert len(mailbox.received) == 1
    assert not bad_login.value.retryable and bad_login.value.code == "535"


def test_refused_recipients_and_unreachable_servers() -> None:
    channel = EmailChannel()
    payload = channel.render(alert_message())
    with smtp_server() as (mailbox, port):
        with pytest.raises(DeliveryError) as unknown:
            channel.send(payload, "reject@example.org", secret=None, settings=smtp_settings(port))
        with pytest.raises(DeliveryError) as busy:
            channel.send(payload, "busy@example.org", secret=None, settings=smtp_settings(port))
        # One of two recipients refused: sent, since a retry would reach the other one twice.
        receipt = channel.send(
            payload, "duty@example.org, reject@example.org", secret=None, settings=smtp_settings(port)
        )
    assert not unknown.value.retryable and unknown.value.code == "550"
    assert busy.value.retryable
    assert "reject@example.org 550" in receipt.detail and len(mailbox.received) == 1
    with pytest.raises(DeliveryError) as down:
        channel.send(payload, "duty@example.org", secret=None, settings=smtp_settings(free_port()))
    assert down.value.retryable
    with pytest.raises(DeliveryError) as off:
        channel.send(payload, "duty@example.org", secret=None, settings=load_settings())
    assert not off.value.retryable and "smtp_host" in off.value.detail
    with pytest.raises(DeliveryError) as no_address:
        channel.send(payload, "not an address", secret=None, settings=smtp_settings(1))
    assert not no_address.value.retryable


# -- plugins ------------------------------------------------------------------------------------


class EchoChannel:
    """A channel plugin as a third party would write it."""

    kind = "echo"
    sent: ClassVar[list[tuple[Mapping[str, Any], str]]] = []

    def render(self, message: Message) -> dict[str, Any]:
        return {"text": message.title}

    def send(
        self, payload: Mapping[str, Any], address: str, *, secret: str | None, settings: Settings
    ) -> Receipt:
        EchoChannel.sent.append((payload, address))
        return Receipt("echoed")


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """Entry points of the `yuqing.channels` group as the test declares them."""
    declared: list[EntryPoint] = []
    monkeypatch.setattr(
        channels, "entry_points", lambda group: declared if group == "yuqing.channels" else []
    )
    channels.load_plugins(force=True)
    yield declared
    monkeypatch.undo()
    channels.load_plugins(force=True)


def test_plugins_load_and_a_broken_one_only_disables_its_kind(
    plugins: list[EntryPoint], caplog: pytest.LogCaptureFixture
) -> None:
    plugins += [
        EntryPoint("echo", "tests.notify.test_channels:EchoChannel", "yuqing.channels"),
        EntryPoint("sms", "yuqing_sms_plugin_not_installed:SmsChannel", "yuqing.channels"),
    ]
    problems = channels.load_plugins(force=True)

    assert set(problems) == {"sms"} and "yuqing_sms_plugin_not_installed" in problems["sms"]
    assert "notification channel plugin sms failed to load" in caplog.text
    with pytest.raises(ChannelUnavailable, match="通知渠道插件 sms 加载失败"):
        get_channel("sms")
    with pytest.raises(ChannelUnavailable, match="没有 'pager' 类型"):
        get_channel("pager")
    echo = get_channel("echo")
    echo.send(echo.render(alert_message()), "room-1", secret=None, settings=load_settings())
    assert EchoChannel.sent[-1] == ({"text": "某市化工厂爆炸事件舆情升级"}, "room-1")
    status = channel_status()
    assert status["dingtalk"] is None and status["echo"] is None and status["sms"] == problems["sms"]
    assert {"dingtalk", "wecom", "feishu", "email", "in_app"} <= set(status)


def test_the_public_api_is_pinned() -> None:
    import yuqing.notify

    assert yuqing.notify.__all__ == [
        "Channel",
        "ChannelUnavailable",
        "DeliveryCounts",
        "DeliveryError",
        "Level",
        "Message",
        "Notification",
        "NotificationAttempt",
        "NotificationStatus",
        "NotificationWorker",
        "NotifyError",
        "Receipt",
        "cancel",
        "cancel_subject",
        "channel_status",
        "deliver_due",
        "delivery_log",
        "enqueue",
        "facts_of",
        "get_channel",
        "inbox",
        "list_notifications",
        "mark_read",
        "neutralise_markdown",
        "reclaim_abandoned",
        "register",
        "requeue",
        "unread_count",
    ]
    assert all(hasattr(yuqing.notify, name) for name in yuqing.notify.__all__)


class _Trickler:
    """A server on 127.0.0.1 that answers every connection with `head` a byte at a time (each
    byte well within the read timeout), then with `tail` for as long as the client reads."""

    def __init__(self, head: bytes, tail: bytes = b"", *, gap: float = 0.2) -> None:
        self.head, self.tail, self.gap = head, tail, gap
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Any) -> None:
        with conn:
            try:
                conn.settimeout(0.1)
                with contextlib.suppress(TimeoutError):
                    conn.recv(65536)  # the request (an SMTP client sends nothing first)
                for byte in self.head:
                    if self.stopped.wait(self.gap):
                        return
                    conn.sendall(bytes([byte]))
                while self.tail and not self.stopped.is_set():
                    conn.sendall(self.tail)
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def test_a_robot_that_answers_a_byte_at_a_time_or_without_end_costs_one_timeout() -> None:
    """A robot sending its answer a byte every 0.2 s (each read within the timeout) held the one
    delivery thread, and every notification after it, for as long as it went on; an endless
    answer was read into memory whole (gigabytes in half a minute)."""
    settings = load_settings(notify_timeout_seconds=1.0)
    channel = DingTalkChannel()
    payload = channel.render(alert_message())
    slow = _Trickler(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + b" " * 1000)
    endless = _Trickler(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
        b'{"errcode": 0, "x": "' + b"y" * 65536,
        gap=0,
    )
    try:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as slow_failure:
            channel.send(payload, f"http://127.0.0.1:{slow.port}/robot", secret=None, settings=settings)
        assert time.monotonic() - started < 5
        assert slow_failure.value.retryable and "请求超时（共 1 秒）" in slow_failure.value.detail
        with pytest.raises(DeliveryError) as endless_failure:
            channel.send(payload, f"http://127.0.0.1:{endless.port}/robot", secret=None, settings=settings)
        assert not endless_failure.value.retryable and "应答超过 64 KB" in endless_failure.value.detail
    finally:
        slow.close()
        endless.close()


def test_an_smtp_server_that_greets_a_byte_at_a_time_costs_one_timeout() -> None:
    """smtplib's timeout bounds each read: a 220 greeting trickled a byte every 0.2 s held the
    delivery thread indefinitely. The whole conversation now has three times the timeout."""
    trickler = _Trickler(b"220 " + b"x" * 1000 + b"\r\n")
    try:
        settings = load_settings(
            smtp_host="127.0.0.1",
            smtp_port=trickler.port,
            smtp_from="yuqing@example.org",
            notify_timeout_seconds=0.5,
        )
        channel = EmailChannel()
        started = time.monotonic()
        with pytest.raises(DeliveryError) as failure:
            channel.send(channel.render(alert_message()), "duty@example.cn", secret=None, settings=settings)
        assert time.monotonic() - started < 5
        assert failure.value.retryable and "SMTP 会话超过 1.5 秒未完成" in failure.value.detail
    finally:
        trickler.close()
