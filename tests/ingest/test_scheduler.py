"""The scheduler: due sources run, failures back off, state survives a restart."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.conftest import FakeClock
from tests.ingest.httpserver import LocalHTTPServer, Reply
from yuqing.ingest import queries, service
from yuqing.ingest.models import Source
from yuqing.ingest.schedule import Schedule, ScheduleError, health_state, next_run
from yuqing.ingest.scheduler import SourceScheduler
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime, open_runtime

FEED = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>\xe6\xb5\x8b\xe8\xaf\x95</title><link>https://news.example.cn/1</link>
<description>\xe6\x9f\x90\xe5\x9c\xb0\xe5\x8f\x91\xe7\x94\x9f\xe4\xba\x8b\xe6\x95\x85</description></item>
</channel></rss>"""
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    srv = LocalHTTPServer().start()
    srv.routes["/robots.txt"] = Reply(404)
    srv.routes["/feed"] = Reply(200, {"Content-Type": "application/rss+xml"}, FEED)
    srv.routes["/down"] = Reply(500, {}, b"oops")
    yield srv
    srv.stop()


def test_default_schedule_is_eight_and_twenty_shanghai() -> None:
    schedule = Schedule.parse("0 8,20 * * *")
    morning = dt.datetime(2026, 11, 21, 7, 59, tzinfo=SHANGHAI)
    assert schedule.next_after(morning) == dt.datetime(2026, 11, 21, 8, 0, tzinfo=SHANGHAI)
    assert schedule.next_after(dt.datetime(2026, 11, 21, 8, 0, tzinfo=SHANGHAI)) == dt.datetime(
        2026, 11, 21, 20, 0, tzinfo=SHANGHAI
    )


def test_interval_and_bad_schedules() -> None:
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    assert Schedule.parse("90m").next_after(now) == now + dt.timedelta(minutes=90)
    for bad in ("每天", "5s", "61 * * * *"):
        with pytest.raises(ScheduleError):
            Schedule.parse(bad)
    # valid cron with no run (30 February), and an interval no date can add
    with pytest.raises(ScheduleError, match="没有可用的运行时间"):
        Schedule.parse("0 0 30 2 *")
    with pytest.raises(ScheduleError, match="间隔太长"):
        Schedule.parse("99999999999999d")


def test_a_stored_schedule_with_no_next_run_closes_its_run_and_parks_the_source_saying_why(
    rt: Runtime, server: LocalHTTPServer, clock: FakeClock
) -> None:
    """A schedule stored before such schedules were refused made every run fail after its posts
    were stored: the run stayed open, and the source was due again at every tick."""
    from sqlalchemy import update

    from yuqing.ingest.models import FetchRun

    source, _ = service.add_source(rt, "rss", server.url("/feed"), name="二月三十日", schedule="2h")
    with rt.sessions() as session, session.begin():
        session.execute(update(Source).where(Source.id == source.id).values(schedule="0 0 30 2 *"))
    scheduler = SourceScheduler(rt, PostWriter(rt.sessions, rt.settings, rt.clock))
    [summary] = scheduler.tick()
    assert (summary.outcome, summary.counts.new) == ("success", 1)
    assert scheduler.tick() == []
    with rt.sessions() as session:
        parked = session.get(Source, source.id)
        assert parked is not None and parked.last_error is not None
        assert parked.next_run_at == clock.now + dt.timedelta(seconds=rt.settings.backoff_max_seconds)
        assert parked.last_error.startswith("采集计划有误") and "请修改信息源的采集计划" in parked.last_error
        assert [r.finished_at for r in session.scalars(select(FetchRun))] == [clock.now]


def test_backoff_doubles_and_is_capped_by_the_next_scheduled_run() -> None:
    now = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)  # 10:00 Shanghai
    schedule = Schedule.parse("0 8,20 * * *")
    backoff = {"backoff_base_seconds": 300, "backoff_max_seconds": 10**6}
    waits = [next_run(schedule, now, consecutive_failures=n, **backoff) - now for n in (1, 2, 3)]
    assert waits == [dt.timedelta(minutes=5), dt.timedelta(minutes=10), dt.timedelta(minutes=20)]
    far = next_run(schedule, now, consecutive_failures=12, **backoff)
    assert far == dt.datetime(2026, 11, 21, 20, 0, tzinfo=SHANGHAI)  # never later than the schedule


def test_jitter_stays_within_bounds() -> None:
    now = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
    schedule = Schedule.parse("1h")
    runs = {next_run(schedule, now, jitter_seconds=120, rng=random.Random(seed)) for seed in range(20)}
    assert len(runs) > 1
    assert all(now + dt.timedelta(hours=1) <= r <= now + dt.timedelta(hours=1, seconds=120) for r in runs)


def test_health_states() -> None:
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    base = {
        "enabled": True,
        "last_run_at": now,
        "consecutive_failures": 0,
        "empty_runs": 0,
        "next_run_at": now + dt.timedelta(hours=1),
        "now": now,
        "silent_after_runs": 3,
    }
    assert health_state(**base) == "ok"  # type: ignore[arg-type]
    assert health_state(**{**base, "enabled": False}) == "disabled"  # type: ignore[arg-type]
    assert health_state(**{**base, "last_run_at": None}) == "never_run"  # type: ignore[arg-type]
    assert health_state(**{**base, "consecutive_failures": 2}) == "failing"  # type: ignore[arg-type]
    assert health_state(**{**base, "empty_runs": 3}) == "silent"  # type: ignore[arg-type]
    late = {**base, "next_run_at": now - dt.timedelta(hours=3)}
    assert health_state(**late) == "overdue"  # type: ignore[arg-type]


def test_tick_runs_due_sources_and_backs_off_failures(
    rt: Runtime, server: LocalHTTPServer, clock: FakeClock
) -> None:
    service.add_source(rt, "rss", server.url("/feed"), name="好源", schedule="2h")
    service.add_source(rt, "rss", server.url("/down"), name="坏源", schedule="2h")
    scheduler = SourceScheduler(rt, PostWriter(rt.sessions, rt.settings, rt.clock))
    summaries = {s.source: s for s in scheduler.tick()}
    assert summaries["好源"].counts.new == 1
    assert summaries["坏源"].outcome == "failed"
    assert scheduler.tick() == []  # nothing due until time passes

    with rt.sessions() as session:
        good = session.scalar(select(Source).where(Source.name == "好源"))
        bad = session.scalar(select(Source).where(Source.name == "坏源"))
        assert good is not None and bad is not None
        assert good.next_run_at == clock.now + dt.timedelta(hours=2)
        assert bad.next_run_at == clock.now + dt.timedelta(seconds=rt.settings.backoff_base_seconds)

    clock.advance(seconds=rt.settings.backoff_base_seconds)
    assert [s.source for s in scheduler.tick()] == ["坏源"]

    # A restart (a new runtime over the same database) keeps the schedule.
    restarted = open_runtime(rt.settings, clock=clock)
    try:
        assert service.due_sources(restarted, clock.now) == []
        clock.advance(hours=2)
        assert len(service.due_sources(restarted, clock.now)) == 2
    finally:
        restarted.close()


def test_a_server_that_says_when_to_come_back_is_not_asked_sooner(
    rt: Runtime, server: LocalHTTPServer, clock: FakeClock
) -> None:
    """A 429 with Retry-After in seconds, and a 503 with an HTTP date, from a real server: the
    source waits what the server asked (beyond the first backoff step), at most a day, and the
    run says so; an answer without Retry-After backs off as before."""
    from email.utils import format_datetime

    server.routes["/busy"] = Reply(429, {"Retry-After": "1800"}, b"slow down")
    back = clock.now + dt.timedelta(hours=3)
    server.routes["/maint"] = Reply(503, {"Retry-After": format_datetime(back, usegmt=True)}, b"")
    server.routes["/forever"] = Reply(429, {"Retry-After": "31536000"}, b"")
    server.routes["/garbled"] = Reply(429, {"Retry-After": "soon"}, b"")
    for name, path in (("忙", "/busy"), ("维护", "/maint"), ("一年", "/forever"), ("乱写", "/garbled")):
        service.add_source(rt, "rss", server.url(path), name=name, schedule="2h")
    summaries = {
        s.source: s for s in SourceScheduler(rt, PostWriter(rt.sessions, rt.settings, rt.clock)).tick()
    }
    assert "服务器要求 30 分钟后再试" in (summaries["忙"].error or "")
    assert "服务器要求 3 小时后再试" in (summaries["维护"].error or "")
    with rt.sessions() as session:
        waits = {s.name: s.next_run_at - clock.now for s in session.scalars(select(Source)) if s.next_run_at}
    assert waits["忙"] == dt.timedelta(seconds=1800)
    assert waits["维护"] == dt.timedelta(hours=3)
    assert waits["一年"] == dt.timedelta(days=1)
    assert waits["乱写"] == dt.timedelta(seconds=rt.settings.backoff_base_seconds)


def test_disabled_source_is_not_run_and_resumes_when_enabled(rt: Runtime, server: LocalHTTPServer) -> None:
    service.add_source(rt, "rss", server.url("/feed"), name="暂停")
    service.set_source_enabled(rt, "暂停", False)
    assert service.due_sources(rt, rt.clock()) == []
    view = queries.list_sources(rt)[0]
    assert view["health"]["state"] == "disabled"
    service.set_source_enabled(rt, "暂停", True)
    assert len(service.due_sources(rt, rt.clock())) == 1


def test_a_fetched_source_needs_a_web_address(rt: Runtime) -> None:
    from yuqing.ingest.errors import InvalidSource

    for bad in ("not a url", "ftp://example.cn/feed", "https://"):
        with pytest.raises(InvalidSource, match="网址应以 http:// 或 https:// 开头"):
            service.add_source(rt, "rss", bad, name=f"坏{bad}")
    assert service.due_sources(rt, rt.clock()) == []
