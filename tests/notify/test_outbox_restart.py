"""A restart after a crash: what the dead process had claimed is taken over at once, not after its
lease (360 s), in-app notices included, and before anything queued since."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from tests.notify import RobotServer
from tests.notify.test_channels import alert_message
from tests.notify.test_outbox import log_of, queue, row
from yuqing.db import transaction
from yuqing.notify import outbox
from yuqing.notify.models import Notification, NotificationAttempt
from yuqing.notify.outbox import DeliveryCounts, NotificationWorker, reclaim_abandoned
from yuqing.process import is_alive, process_identity
from yuqing.runtime import Runtime


@pytest.fixture
def robot() -> Iterator[RobotServer]:
    server = RobotServer().start()
    yield server
    server.stop()


def dead_identity() -> str:
    """The identity of a process of this machine that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = process_identity().rsplit(":", 2)[0]
    return f"{host}:{child.pid}:1"


def claim_as(rt: Runtime, notification_id: int, identity: str) -> None:
    """A worker of the process `identity` claims the row (its lease runs for minutes)."""
    claims, _ = outbox._claim(rt, 1, DeliveryCounts())
    assert [c.id for c in claims] == [notification_id]
    with transaction(rt.sessions) as session:
        session.execute(
            update(Notification).where(Notification.id == notification_id).values(claimed_by=identity)
        )


def test_process_identities_tell_the_living_from_the_dead() -> None:
    assert is_alive(process_identity()) is True
    assert is_alive(dead_identity()) is False
    assert is_alive("another-machine.example:1:1") is None  # cannot be told from here
    assert is_alive(None) is False
    # Another container on the host network: the same host name, another PID namespace, where
    # pid 7 is not our pid 7. Judging it by our /proc would call a live process dead.
    host, pid, started = process_identity().rsplit(":", 2)
    assert host.startswith(socket.gethostname() + "~")
    assert is_alive(f"{socket.gethostname()}~1:{pid}:{started}") is None
    assert is_alive(f"{socket.gethostname()}:{pid}:1") is None  # written before namespaces were named


def test_a_restart_takes_over_a_dead_processes_claims_at_once_oldest_first(
    rt: Runtime, robot: RobotServer
) -> None:
    dead = dead_identity()
    # Before the crash: an alert's in-app notice and its robot message, each claimed by the dead
    # process; one claimed by a process on another machine; then a later alert, queued since.
    in_app = queue(rt, "in_app", "", key="alert:1:inbox", person_id=7, message=alert_message(title="先"))
    claim_as(rt, in_app, dead)
    first = queue(rt, "dingtalk", robot.url(), key="alert:1:robot", message=alert_message(title="先"))
    claim_as(rt, first, dead)
    elsewhere = queue(rt, "dingtalk", robot.url(), key="alert:0:robot", message=alert_message(title="远"))
    claim_as(rt, elsewhere, "another-machine.example:4242:99")
    later = queue(rt, "dingtalk", robot.url(), key="alert:2:robot", message=alert_message(title="后"))

    worker = NotificationWorker(rt, interval=3600)  # the restarted `yuqing serve`
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while row(rt, later).status != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()

    # The clock has not moved: without taking over, both would wait out their lease.
    assert row(rt, in_app).status == "sent" and row(rt, first).status == "sent"
    assert [p.json["markdown"]["title"] for p in robot.posts] == ["【红色】先", "【红色】后"]
    for nid in (in_app, first):
        log = log_of(rt, nid)
        assert [(n, ok) for n, ok, _, _ in log] == [(1, False), (2, True)]
        assert "结果未知" in log[0][3]  # the interrupted attempt is on record
    with rt.sessions() as session:
        delivered = session.scalars(
            select(NotificationAttempt.notification_id)
            .where(NotificationAttempt.ok.is_(True))
            .order_by(NotificationAttempt.id)
        ).all()
    assert list(delivered) == [in_app, first, later]  # older messages first
    # Another machine's process may still be sending: its lease stands.
    assert row(rt, elsewhere).status == "sending" and row(rt, elsewhere).claimed_by == (
        "another-machine.example:4242:99"
    )


def test_claims_of_this_live_process_are_left_alone(rt: Runtime, robot: RobotServer) -> None:
    nid = queue(rt, "dingtalk", robot.url())
    claim_as(rt, nid, process_identity())
    assert reclaim_abandoned(rt) == []
    assert row(rt, nid).status == "sending" and robot.posts == []
