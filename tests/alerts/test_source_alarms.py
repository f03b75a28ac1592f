"""A bridge that goes silent or keeps failing raises its alarm to the administrators, once per
episode (platform sources issue, item 2). Real runs against a feed served from 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.conftest import FakeClock
from tests.ingest.httpserver import LocalHTTPServer, Reply
from yuqing.alerts.sources import sweep_source_health
from yuqing.db import transaction
from yuqing.ingest import service
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.models import Source
from yuqing.ingest.store import PostWriter
from yuqing.notify.models import Notification
from yuqing.org import service as org
from yuqing.runtime import Runtime

FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>公众号</title>
<item><title>市卫健委通报医疗纠纷处置情况</title><link>https://mp.weixin.qq.com/s?__biz=MzA=&amp;mid=1</link>
<description>市卫健委今日通报：某医院医疗纠纷已成立调查组。</description></item>
</channel></rss>""".encode()


@pytest.fixture
def bridge() -> Iterator[LocalHTTPServer]:
    server = LocalHTTPServer().start()
    server.routes["/robots.txt"] = Reply(404)
    server.routes["/feeds/MP_WXS_1.rss"] = Reply(200, {"Content-Type": "application/rss+xml"}, FEED)
    yield server
    server.stop()


def admin(rt: Runtime) -> int:
    with transaction(rt.sessions) as session:
        unit = org.create_unit(session, "市委网信办")
        person = org.add_person(session, "王管理", unit.id)
        org.grant_role(session, person.id, "admin", unit.id)
        bystander = org.add_person(session, "李值班", unit.id)
        org.grant_role(session, bystander.id, "duty_officer", unit.id)
        return person.id


def alarms(rt: Runtime) -> list[Notification]:
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(Notification).where(Notification.subject_kind == "source").order_by(Notification.id)
            )
        )


def fetch(rt: Runtime, fetcher: Fetcher) -> str:
    return service.run_source(rt, PostWriter(rt.sessions, rt.settings, rt.clock), "公众号", fetcher).outcome


def test_a_bridge_that_stops_bringing_news_raises_one_alarm_per_silence(
    rt: Runtime, clock: FakeClock, bridge: LocalHTTPServer
) -> None:
    person = admin(rt)
    service.add_source(rt, "rss", bridge.url("/feeds/MP_WXS_1.rss"), name="公众号", platform="wechat")
    with Fetcher(service.fetch_policy(rt.settings)) as fetcher:
        assert fetch(rt, fetcher) == "success"
        assert sweep_source_health(rt) == 0
        # The account expired: the same old article, fetch after fetch, for more than a day.
        for _ in range(26):
            clock.advance(hours=1)
            assert fetch(rt, fetcher) == "success"
        assert sweep_source_health(rt) == 1
        assert sweep_source_health(rt) == 1  # still in alarm, not told twice
        raised = alarms(rt)
        assert [(n.kind, n.person_id) for n in raised] == [("in_app", person)]  # administrators only
        assert "公众号" in raised[0].title and "没有新信息" in raised[0].title
        assert "过期" in raised[0].message["body"]
        # News again, then silence again: a new episode, a new alarm.
        news = (
            FEED.decode()
            .replace("mid=1", "mid=2")
            .replace("今日通报：某医院医疗纠纷已成立调查组", "公布调查结果：院方承担主要责任")
        )
        bridge.routes["/feeds/MP_WXS_1.rss"] = Reply(
            200, {"Content-Type": "application/rss+xml"}, news.encode()
        )
        clock.advance(hours=1)
        assert fetch(rt, fetcher) == "success"
        assert sweep_source_health(rt) == 0
        for _ in range(26):
            clock.advance(hours=1)
            fetch(rt, fetcher)
        assert sweep_source_health(rt) == 1
    assert len(alarms(rt)) == 2


def test_a_bridge_that_keeps_failing_raises_its_alarm_with_the_error(
    rt: Runtime, clock: FakeClock, bridge: LocalHTTPServer
) -> None:
    admin(rt)
    service.add_source(rt, "rss", bridge.url("/feeds/MP_WXS_1.rss"), name="公众号", platform="wechat")
    bridge.routes["/feeds/MP_WXS_1.rss"] = Reply(
        400, {"Content-Type": "application/json"}, '{"statusCode":400,"message":"不存在该feed！"}'.encode()
    )
    with Fetcher(service.fetch_policy(rt.settings)) as fetcher:
        for runs in range(1, 4):
            assert fetch(rt, fetcher) == "failed"
            assert sweep_source_health(rt) == (1 if runs >= rt.settings.source_failure_alarm_runs else 0)
            clock.advance(minutes=30)
    (raised,) = alarms(rt)
    assert "连续 3 次采集失败" in raised.title and "HTTP 400" in raised.message["body"]
    with rt.sessions() as session:
        source = session.scalars(select(Source)).one()
        assert source.consecutive_failures == 3 and source.last_new_at is None
