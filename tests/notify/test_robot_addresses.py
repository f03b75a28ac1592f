"""Robot webhooks go through the fetcher's address guard: a URL that reaches this machine or the
internal network is refused, the notification fails with a reason an administrator can act on,
and nothing is sent. The suite allows private addresses (its servers run on 127.0.0.1); these
tests turn that off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify import RobotServer
from tests.notify.test_outbox import log_of, queue, row, with_settings
from yuqing.notify.outbox import DeliveryCounts, deliver_due
from yuqing.runtime import Runtime


@pytest.fixture
def robot() -> Iterator[RobotServer]:
    server = RobotServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize("kind", ["dingtalk", "wecom", "feishu"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_robot_on_an_internal_address_is_refused(
    rt: Runtime, robot: RobotServer, monkeypatch: pytest.MonkeyPatch, kind: str, host: str
) -> None:
    monkeypatch.setenv("YUQING_ALLOW_PRIVATE_ADDRESSES", "false")
    guarded = with_settings(rt, allow_private_addresses=False)
    url = robot.url("/robot/send?access_token=t").replace("127.0.0.1", host)
    nid = queue(guarded, kind, url)

    assert deliver_due(guarded) == DeliveryCounts(claimed=1, failed=1)

    assert robot.posts == []  # nothing reached the internal server
    refused = row(guarded, nid)
    assert refused.status == "failed" and refused.attempts == 1
    reason = refused.last_error or ""
    assert f"已拒绝发送：webhook 地址 {host} 指向内网、本机或保留地址" in reason
    assert "allow_private_addresses" in reason and "已尝试" not in reason  # final, not retried
    assert [(n, ok) for n, ok, _, _ in log_of(guarded, nid)] == [(1, False)]


def test_with_private_addresses_allowed_the_same_robot_is_reached(rt: Runtime, robot: RobotServer) -> None:
    allowed = with_settings(rt, allow_private_addresses=True)
    nid = queue(allowed, "dingtalk", robot.url("/robot/send?access_token=t"))
    assert deliver_due(allowed) == DeliveryCounts(claimed=1, sent=1)
    assert len(robot.posts) == 1 and row(allowed, nid).status == "sent"
