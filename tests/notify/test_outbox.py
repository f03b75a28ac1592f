"""The outbox on real SQLite and PostgreSQL, delivering to real servers on 127.0.0.1; retries and
leases run on the injected clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import FakeClock
from tests.notify import Answer, RobotServer, smtp_server
from tests.notify.test_channels import EchoChannel, alert_message, dingtalk_sign
from yuqing.db import transaction
from yuqing.notify import channels, outbox
from yuqing.notify.channels import DingTalkChannel
from yuqing.notify.models import Notification
from yuqing.notify.outbox import (
    DeliveryCounts,
    NotificationWorker,
    cancel,
    cancel_subject,
    deliver_due,
    delivery_log,
    enqueue,
    inbox,
    lease_length,
    list_notifications,
    mark_read,
    requeue,
    unread_count,
)
from yuqing.runtime import Runtime


@pytest.fixture
def robot() -> Iterator[RobotServer]:
    server = RobotServer().start()
    yield server
    server.stop()


def with_settings(rt: Runtime, **changes: Any) -> Runtime:
    return dataclasses.replace(rt, settings=rt.settings.model_copy(update=changes))


def queue(rt: Runtime, kind: str, address: str, key: str = "alert:12:duty", **options: Any) -> int:
    message = options.pop("message", None) or alert_message()
    with transaction(rt.sessions) as session:
        return enqueue(session, kind, address, message, dedup_key=key, now=rt.clock(), **options).id


def row(rt: Runtime, notification_id: int) -> Notification:
    with rt.sessions() as session:
        found = session.get(Notification, notification_id)
        assert found is not None
        return found


def log_of(rt: Runtime, notification_id: int) -> list[tuple[int, bool, str | None, str]]:
    with rt.sessions() as session:
        return [(a.attempt, a.ok, a.error_code, a.detail) for a in delivery_log(session, notification_id)]


def test_a_queued_alert_reaches_the_robot_signed(rt: Runtime, clock: FakeClock, robot: RobotServer) -> None:
    nid = queue(rt, "dingtalk", robot.url("/robot/send?access_token=t"), secret="SECx", subject=("alert", 12))
    assert row(rt, nid).status == "pending"

    counts = deliver_due(rt)

    assert counts == DeliveryCounts(claimed=1, sent=1)
    [posted] = robot.posts
    assert posted.json == row(rt, nid).payload == DingTalkChannel().render(alert_message())
    assert posted.query["sign"] == dingtalk_sign("SECx", posted.query["timestamp"])
    done = row(rt, nid)
    assert (done.status, done.attempts, done.sent_at, done.claim_token) == ("sent", 1, clock.now, None)
    with rt.sessions() as session:
        [attempt] = delivery_log(session, nid)
        assert (attempt.ok, attempt.http_status, attempt.error_code, attempt.attempt) == (True, 200, "0", 1)
        assert attempt.duration_ms >= 0
        assert [n.id for n in list_notifications(session, subject=("alert", 12))] == [nid]
        assert list_notifications(session, status="pending") == []
    assert deliver_due(rt) == DeliveryCounts()  # nothing is sent twice


def test_a_throttled_robot_is_retried_after_the_back_off(
    rt: Runtime, clock: FakeClock, robot: RobotServer
) -> None:
    robot.script = [Answer(200, {"errcode": 130101, "errmsg": "send too fast"})]
    nid = queue(rt, "dingtalk", robot.url())

    assert deliver_due(rt) == DeliveryCounts(claimed=1, retrying=1)
    waiting = row(rt, nid)
    assert waiting.status == "pending" and "errcode=130101" in (waiting.last_error or "")
    assert waiting.next_attempt_at == clock.now + dt.timedelta(seconds=30)
    clock.advance(seconds=29)
    assert deliver_due(rt).claimed == 0
    clock.advance(seconds=1)
    assert deliver_due(rt) == DeliveryCounts(claimed=1, sent=1)

    assert len(robot.posts) == 2
    assert [(n, ok, code) for n, ok, code, _ in log_of(rt, nid)] == [(1, False, "130101"), (2, True, "0")]
    assert row(rt, nid).last_error is None


def test_a_refusal_fails_after_one_attempt_with_the_reason(rt: Runtime, robot: RobotServer) -> None:
    robot.default = Answer(403, "robot disabled by the group owner")
    nid = queue(rt, "wecom", robot.url())

    assert deliver_due(rt) == DeliveryCounts(claimed=1, failed=1)

    failed = row(rt, nid)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error == "HTTP 403：robot disabled by the group owner"
    [(number, ok, _, detail)] = log_of(rt, nid)
    assert (number, ok) == (1, False) and "robot disabled" in detail
    with rt.sessions() as session:
        assert [n.id for n in list_notifications(session, status="failed")] == [nid]


def test_a_flaky_robot_gets_the_message_once_after_three_attempts(
    rt: Runtime, clock: FakeClock, robot: RobotServer
) -> None:
    robot.default = Answer(200, {"code": 0, "msg": "success"})
    robot.script = [Answer(503, "busy"), Answer(502, "bad gateway")]
    nid = queue(rt, "feishu", robot.url("/open-apis/bot/v2/hook/x"))

    deliver_due(rt)
    clock.advance(seconds=30)
    deliver_due(rt)
    assert deliver_due(rt).claimed == 0  # the second wait is 60 s
    clock.advance(seconds=60)
    assert deliver_due(rt).sent == 1

    assert len(robot.posts) == 3 and all(p.json == robot.posts[0].json for p in robot.posts)
    assert [(n, ok) for n, ok, _, _ in log_of(rt, nid)] == [(1, False), (2, False), (3, True)]
    assert [detail.split("：")[0] for _, _, _, detail in log_of(rt, nid)][:2] == ["HTTP 503", "HTTP 502"]
    assert row(rt, nid).status == "sent"
    clock.advance(seconds=3600)
    assert deliver_due(rt).claimed == 0 and len(robot.posts) == 3


def test_attempts_run_out_and_the_reason_stays(rt: Runtime, clock: FakeClock, robot: RobotServer) -> None:
    rt = with_settings(rt, notify_max_attempts=3)
    robot.default = Answer(500, "internal error")
    nid = queue(rt, "dingtalk", robot.url())
    for wait in (30, 60):
        deliver_due(rt)
        clock.advance(seconds=wait)
    assert deliver_due(rt) == DeliveryCounts(claimed=1, failed=1)
    failed = row(rt, nid)
    assert failed.status == "failed" and failed.last_error == "HTTP 500：internal error（已尝试 3 次）"
    assert len(log_of(rt, nid)) == 3 and len(robot.posts) == 3


def test_retry_after_from_the_server_is_honoured(rt: Runtime, clock: FakeClock, robot: RobotServer) -> None:
    robot.script = [Answer(429, "slow down", {"Retry-After": "600"})]
    nid = queue(rt, "dingtalk", robot.url())
    deliver_due(rt)
    assert row(rt, nid).next_attempt_at == clock.now + dt.timedelta(seconds=600)


def test_the_same_dedup_key_twice_is_sent_once(rt: Runtime, robot: RobotServer) -> None:
    first = queue(rt, "dingtalk", robot.url(), key="alert:12:level:I:dingtalk:3")
    again = queue(rt, "dingtalk", robot.url(), key="alert:12:level:I:dingtalk:3")
    with transaction(rt.sessions) as session:  # and twice in one transaction
        a = enqueue(session, "in_app", "", alert_message(), dedup_key="k", person_id=1)
        b = enqueue(session, "in_app", "", alert_message(), dedup_key="k", person_id=1)
        assert a.id == b.id
    assert first == again

    assert deliver_due(rt) == DeliveryCounts(claimed=2, sent=2)
    deliver_due(rt)
    assert len(robot.posts) == 1
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 2


def test_enqueue_commits_or_rolls_back_with_the_caller(rt: Runtime) -> None:
    def save_alert_and_fail() -> None:
        with transaction(rt.sessions) as session:
            enqueue(session, "in_app", "", alert_message(), dedup_key="k", person_id=1)
            raise RuntimeError("the alert could not be saved")

    with pytest.raises(RuntimeError):
        save_alert_and_fail()
    with rt.sessions() as session:
        assert list_notifications(session) == []


def test_a_worker_that_died_mid_send_is_replaced_after_its_lease(
    rt: Runtime, clock: FakeClock, robot: RobotServer
) -> None:
    nid = queue(rt, "dingtalk", robot.url())
    claims, _ = outbox._claim(rt, 1, DeliveryCounts())  # a worker claims the row, then the process dies
    assert [c.id for c in claims] == [nid] and row(rt, nid).status == "sending"

    assert deliver_due(rt).claimed == 0  # another worker leaves it alone while the lease holds
    clock.advance(seconds=lease_length(rt.settings.notify_timeout_seconds, 1).total_seconds())
    assert deliver_due(rt) == DeliveryCounts(claimed=1, sent=1)

    assert len(robot.posts) == 1
    log = log_of(rt, nid)
    assert [(n, ok) for n, ok, _, _ in log] == [(1, False), (2, True)]
    assert "结果未知" in log[0][3]
    # The dead worker's late result is not recorded over its successor's.
    outbox._finish(rt, claims[0], outbox._Result(False, "late", retryable=True))
    assert row(rt, nid).status == "sent"


def test_a_row_interrupted_too_often_is_given_up(rt: Runtime, clock: FakeClock, robot: RobotServer) -> None:
    rt = with_settings(rt, notify_max_attempts=2)
    nid = queue(rt, "dingtalk", robot.url())
    lease = lease_length(rt.settings.notify_timeout_seconds, 1).total_seconds()
    for _ in range(2):
        outbox._claim(rt, 1, DeliveryCounts())
        clock.advance(seconds=lease)
    assert deliver_due(rt) == DeliveryCounts(claimed=1, failed=1)
    assert row(rt, nid).status == "failed" and robot.posts == []
    assert "2 次均未完成" in (row(rt, nid).last_error or "")


def test_two_workers_never_send_the_same_notification(rt: Runtime, robot: RobotServer) -> None:
    robot.delay = 0.02
    ids = [
        queue(rt, "dingtalk", robot.url(), key=f"n{i}", message=alert_message(title=f"第{i}条"))
        for i in range(24)
    ]
    results: list[DeliveryCounts] = []

    def work() -> None:
        results.append(deliver_due(rt, limit=100))

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    titles = [p.json["markdown"]["title"] for p in robot.posts]
    assert sorted(titles) == sorted(f"【红色】第{i}条" for i in range(24))
    assert sum(r.sent for r in results) == 24 and all(r.claimed for r in results)  # both took part
    assert all(len(log_of(rt, nid)) == 1 for nid in ids)


def test_in_app_notifications_fill_each_persons_inbox(rt: Runtime, clock: FakeClock) -> None:
    mine = queue(rt, "in_app", "", key="a:7", person_id=7)
    queue(rt, "in_app", "", key="a:8", person_id=8)
    with rt.sessions() as session:
        assert inbox(session, 7) == []  # not delivered yet

    assert deliver_due(rt).sent == 2

    with transaction(rt.sessions) as session:
        [item] = inbox(session, 7, unread_only=True)
        assert item.id == mine and item.content().title == "某市化工厂爆炸事件舆情升级"
        assert unread_count(session, 7) == 1
        assert mark_read(session, 8, [mine], at=clock()) == 0  # not someone else's
        assert mark_read(session, 7, at=clock()) == 1
    with rt.sessions() as session:
        assert inbox(session, 7, unread_only=True) == []
        assert [n.id for n in inbox(session, 7)] == [mine]
        assert unread_count(session, 8) == 1
        assert row(rt, mine).read_at == clock.now


def test_an_unknown_channel_is_stored_as_failed_and_can_be_requeued(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    nid = queue(rt, "echo", "room-1")  # no such plugin yet: enqueue does not raise
    failed = row(rt, nid)
    assert failed.status == "failed" and failed.payload is None
    assert failed.last_error == "没有 'echo' 类型的通知渠道插件"
    assert log_of(rt, nid) == [(0, False, None, "没有 'echo' 类型的通知渠道插件")]
    assert deliver_due(rt).claimed == 0

    channels.register("echo", EchoChannel)
    try:
        with transaction(rt.sessions) as session:
            requeue(session, nid)
        assert deliver_due(rt).sent == 1
    finally:
        channels.load_plugins(force=True)
    assert EchoChannel.sent[-1] == ({"text": "某市化工厂爆炸事件舆情升级"}, "room-1")
    assert row(rt, nid).payload == {"text": "某市化工厂爆炸事件舆情升级"}


def test_a_reminder_waits_and_can_be_withdrawn(rt: Runtime, clock: FakeClock) -> None:
    later = clock.now + dt.timedelta(hours=1)
    reminder = queue(rt, "in_app", "", key="r1", person_id=1, not_before=later, subject=("case", 7))
    other = queue(rt, "in_app", "", key="r2", person_id=1, not_before=later, subject=("case", 7))
    assert deliver_due(rt).claimed == 0
    with transaction(rt.sessions) as session:
        assert cancel(session, reminder)
        assert not cancel(session, reminder)
        assert cancel_subject(session, ("case", 7)) == 1
    clock.advance(hours=2)
    assert deliver_due(rt).claimed == 0
    assert row(rt, reminder).status == row(rt, other).status == "cancelled"


def test_the_payload_is_fixed_at_enqueue_time(
    rt: Runtime, robot: RobotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    nid = queue(rt, "dingtalk", robot.url())
    monkeypatch.setattr(
        DingTalkChannel, "render", lambda self, m: {"msgtype": "text", "text": {"content": "新模板"}}
    )
    deliver_due(rt)
    assert robot.posts[0].json == row(rt, nid).payload
    assert robot.posts[0].json["msgtype"] == "markdown"


def test_an_email_goes_out_through_the_outbox(rt: Runtime) -> None:
    with smtp_server() as (mailbox, port):
        rt = with_settings(rt, smtp_host="127.0.0.1", smtp_port=port, smtp_from="yuqing@example.org")
        nid = queue(rt, "email", "duty@example.org")
        assert deliver_due(rt).sent == 1
    [mail] = mailbox.mails()
    assert mail["Subject"] == "【红色】某市化工厂爆炸事件舆情升级"
    assert mail["Message-ID"] == (row(rt, nid).payload or {})["message_id"]
    body = mail.get_body(("plain",))
    assert body is not None and "地区：某市" in body.get_content()


def test_email_off_fails_with_a_reason_an_administrator_can_act_on(rt: Runtime) -> None:
    nid = queue(rt, "email", "duty@example.org")
    assert deliver_due(rt).failed == 1
    assert row(rt, nid).last_error == "邮件通知未开启：请设置 smtp_host"


def test_the_worker_delivers_in_rounds(rt: Runtime, robot: RobotServer) -> None:
    for i in range(3):
        queue(rt, "dingtalk", robot.url(), key=f"w{i}")
    worker = NotificationWorker(rt, batch=2)
    assert worker.work() is True  # a full batch: more may be waiting
    assert worker.work() is False
    assert len(robot.posts) == 3


def test_a_stalled_mail_server_holds_up_only_the_mail(rt: Runtime, robot: RobotServer) -> None:
    """An SMTP host that takes the connection and never answers held every notice queued after
    its mail (the alert's in-app notice and duty robot among them) for as long as the timeout,
    three round trips of it. Each channel now has its own delivery loop."""
    import socket

    stalled = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody ever answers
    rt = with_settings(
        rt,
        smtp_host="127.0.0.1",
        smtp_port=stalled.getsockname()[1],
        smtp_from="yuqing@example.org",
        notify_timeout_seconds=60.0,
    )
    mail = queue(rt, "email", "duty@example.org", key="alert:1:mail")
    note = queue(rt, "in_app", "", key="alert:1:inbox", person_id=7)
    duty = queue(rt, "dingtalk", robot.url(), key="alert:1:robot")
    workers = outbox.notification_workers(rt, interval=3600)
    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and {row(rt, note).status, row(rt, duty).status} != {"sent"}:
            time.sleep(0.05)
        assert row(rt, note).status == "sent" and row(rt, duty).status == "sent"
        assert row(rt, mail).status == "sending"  # still waiting for the silent server
        assert len(robot.posts) == 1
    finally:
        stalled.close()
        for worker in workers:
            worker.stop(timeout=1)


def test_a_dead_robot_costs_one_timeout_a_round_not_one_per_notice(rt: Runtime, robot: RobotServer) -> None:
    """Twenty notices to a robot URL that takes connections and never answers were tried one after
    the other, each for a timeout and again after each back-off, ahead of a new 特别重大 notice to
    the duty robot: 5.5 minutes late. A round now tries a failing server once; its other rows wait
    for the next round, and the rest go."""
    import socket

    dead = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody ever answers
    dead_url = f"http://127.0.0.1:{dead.getsockname()[1]}/robot/send?access_token=t"
    rt = with_settings(rt, notify_timeout_seconds=1.0)
    try:
        stuck = [queue(rt, "dingtalk", dead_url, key=f"alert:1:dead:{i}") for i in range(60)]
        duty = queue(rt, "dingtalk", robot.url(), key="alert:2:duty")
        counts = deliver_due(rt)
    finally:
        dead.close()
    assert row(rt, duty).status == "sent" and len(robot.posts) == 1
    assert [row(rt, nid).attempts for nid in stuck] == [1] + [0] * 59  # more than the look-ahead
    assert (counts.sent, counts.retrying) == (1, 1)
    assert outbox.server_of("dingtalk", dead_url) != outbox.server_of("dingtalk", robot.url())
    assert outbox.server_of("email", "a@example.org") == outbox.server_of("email", "b@example.org")
    assert outbox.server_of("in_app", "") is None


def test_a_result_the_busy_store_refused_is_recorded_when_it_frees_not_sent_again(
    settings: Any, clock: FakeClock, database_url: str
) -> None:
    """The robot took the message while an import held SQLite's write lock: recording the result
    failed once, the round ended, and after the lease the next worker sent the message again.
    The result is now recorded once the lock is gone, and the robot has the message once."""
    import sqlite3

    from yuqing.runtime import open_runtime

    if not database_url.startswith("sqlite"):
        pytest.skip("the write lock held by another process is SQLite's")
    rt = open_runtime(settings.model_copy(update={"sqlite_busy_timeout_ms": 100}), clock=clock)
    robot = RobotServer(delay=1.0).start()
    try:
        nid = queue(rt, "dingtalk", robot.url())
        path = database_url.split("///", 1)[1]

        def hold_the_lock() -> None:
            threading.Event().wait(0.4)  # the claim is made; the robot is answering
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            threading.Event().wait(2.0)
            other.execute("COMMIT")
            other.close()

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        counts = deliver_due(rt)
        holder.join()
        assert counts == DeliveryCounts(claimed=1, sent=1)
        assert (row(rt, nid).status, len(robot.posts)) == ("sent", 1)
        assert [ok for _, ok, _, _ in log_of(rt, nid)] == [True]
        clock.advance(hours=1)  # long past any lease
        assert deliver_due(rt) == DeliveryCounts() and len(robot.posts) == 1
    finally:
        robot.stop()
        rt.close()
