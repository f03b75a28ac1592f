"""`GET /live`: the server-sent alerts and deadline changes, over the console's real world (a graded
event from imported posts, its alert, people who log in)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from tests.conftest import FakeClock
from tests.web.test_pages import World, build_world
from yuqing.accounts import service as accounts
from yuqing.cases import service as cases
from yuqing.cases.models import Deadline
from yuqing.db import transaction
from yuqing.org.models import Person
from yuqing.org.scope import scope_of
from yuqing.runtime import Runtime
from yuqing.web.live import LiveFeed, LiveTiming, format_event, parse_since


@pytest.fixture(autouse=True)
def _quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> Iterator[World]:
    built = build_world(rt, clock)
    yield built
    for client in built.clients:
        client.close()


def read_events(lines: Iterator[str], wanted: int) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The first `wanted` events of a stream (it ends by itself: the test timing has max_seconds)."""
    events: list[tuple[str, dict[str, Any]]] = []
    comments: list[str] = []
    name = ""
    for line in lines:
        if line.startswith(":"):
            comments.append(line)
        elif line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
            if len(events) >= wanted:
                break
    return events, comments


def test_live_needs_a_login(world: World) -> None:
    response = world.browser().get("/live")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_live_streams_the_open_alert_once_with_heartbeats(world: World) -> None:
    office = world.login("office")
    office.app.state.live_timing = LiveTiming(poll_seconds=0.05, heartbeat_seconds=0.05, max_seconds=1.5)  # type: ignore[attr-defined]
    since = (world.clock() - dt.timedelta(minutes=5)).isoformat()
    with office.stream("GET", "/live", params={"since": since}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events, comments = read_events(response.iter_lines(), wanted=2)
    # The stream ended at max_seconds with a single alert event: polled many times, sent once.
    assert [name for name, _ in events] == ["alert"]
    [(_, alert)] = events
    assert alert["id"] == world.alert_id
    assert alert["unit"] == "市卫生健康委员会"
    assert alert["grade"] and alert["title"]
    assert ": heartbeat" in comments


def test_live_sends_nothing_that_was_there_before_the_page(world: World) -> None:
    office = world.login("office")
    office.app.state.live_timing = LiveTiming(poll_seconds=0.05, heartbeat_seconds=10, max_seconds=0.5)  # type: ignore[attr-defined]
    world.clock.advance(minutes=1)
    with office.stream("GET", "/live") as response:
        events, _ = read_events(response.iter_lines(), wanted=1)
    assert events == []


def test_feed_reports_a_deadline_once_per_state_and_a_reopened_alert_again(world: World) -> None:
    case = cases.open_case(world.rt, "李办公室", event_id=world.event_id)
    feed = LiveFeed(world.rt, world.clock() - dt.timedelta(minutes=5))
    feed.prime()
    assert feed.poll() == []  # opening the case acknowledged the alert: nothing to pop up
    with transaction(world.rt.sessions) as session:
        deadline_id = session.scalars(
            select(Deadline.id).where(Deadline.case_id == case["id"]).order_by(Deadline.id)
        ).first()
        assert deadline_id is not None
        session.execute(update(Deadline).where(Deadline.id == deadline_id).values(state="overdue"))
    [(name, data)] = feed.poll()
    assert name == "deadline" and data["id"] == deadline_id and data["state"] == "overdue"
    assert data["case_id"] == case["id"] and data["state_label"] == "已超时"
    assert feed.poll() == []
    world.clock.advance(minutes=1)
    with transaction(world.rt.sessions) as session:
        session.execute(
            update(Deadline).where(Deadline.id == deadline_id).values(state="missed", done_at=world.clock())
        )
    [(name, data)] = feed.poll()
    assert (name, data["state"]) == ("deadline", "missed")
    # A flare-up merged into the alert (repeats + 1) is news again.
    from yuqing.alerts.models import Alert

    with transaction(world.rt.sessions) as session:
        session.execute(
            update(Alert)
            .where(Alert.id == world.alert_id)
            .values(repeats=Alert.repeats + 1, status="open", updated_at=world.clock())
        )
    [(name, data)] = feed.poll()
    assert (name, data["id"], data["repeats"]) == ("alert", world.alert_id, 1)
    assert feed.poll() == []


def test_each_person_hears_only_of_the_alerts_and_clocks_of_units_they_see(world: World) -> None:
    """The education bureau's office may not read the health commission's alert or case, so its
    console's stream does not pop them up either; the city's chief sees both bureaus."""
    from yuqing.alerts.models import Alert

    cases.open_case(world.rt, "李办公室", event_id=world.event_id)
    with transaction(world.rt.sessions) as session:  # an upgrade merged in: open again, news again
        session.execute(
            update(Alert).where(Alert.id == world.alert_id).values(status="open", updated_at=world.clock())
        )
    since = (world.clock() - dt.timedelta(minutes=5)).isoformat()
    heard: dict[str, list[str]] = {}
    for login in ("edu", "chief"):
        client = world.login(login)
        client.app.state.live_timing = LiveTiming(poll_seconds=0.05, heartbeat_seconds=10, max_seconds=0.6)  # type: ignore[attr-defined]
        with client.stream("GET", "/live", params={"since": since}) as response:
            events, _ = read_events(response.iter_lines(), wanted=10)
        heard[login] = sorted({name for name, _ in events})
    assert heard == {"edu": [], "chief": ["alert"]}
    with transaction(world.rt.sessions) as session:
        session.execute(update(Deadline).values(state="overdue"))
    with world.rt.sessions() as session:
        edu = session.scalars(select(Person.id).where(Person.name == "钱教育")).one()
        health = session.scalars(select(Person.id).where(Person.name == "李办公室")).one()
        feeds = {who: LiveFeed(world.rt, world.clock(), scope_of(session, who)) for who in (edu, health)}
    for feed in feeds.values():
        feed.prime()
    assert feeds[edu].poll() == []
    assert {name for name, _ in feeds[health].poll()} == {"deadline"}


def test_event_frames_and_since_parsing() -> None:
    frame = format_event("alert", {"title": "两行\n标题"}, "c1")
    assert frame == 'event: alert\nid: c1\ndata: {"title":"两行\\n标题"}\n\n'
    assert parse_since("2026-11-20T09:00:00+08:00") == dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
    assert parse_since("nonsense") is None and parse_since(None) is None


# ---- the demo's replay ------------------------------------------------------------------------


def test_replay_feeds_posts_in_order_at_the_accelerated_clock(rt: Runtime, clock: FakeClock) -> None:
    from yuqing.ingest.models import Post
    from yuqing.replay import ReplayWorker

    text = "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡。"

    def row(post_id: str, kind: str, body: str, published_at: str | None) -> dict[str, Any]:
        found: dict[str, Any] = {"id": post_id, "cascade": post_id.split("/")[0], "kind": kind, "text": body}
        if published_at:
            found["published_at"] = published_at
        return found

    rows = [
        # Listed out of order: the replay goes by time, cascade by cascade.
        row("a/2", "repost", "转发 " + text, "2012-04-10T10:00:00+08:00"),
        row("a", "original", text, "2012-04-10T08:00:00+08:00"),
        row("a/1", "repost", "太可怕了", "2012-04-10T09:00:00+08:00"),
        row("b", "original", "另一条微博：学校食堂", "2014-01-01T00:00:00+08:00"),
        row("c", "original", "没有时间的行", None),
    ]
    worker = ReplayWorker(rt, rows, speed=60, stagger=30, clock=clock, interval=0.01)
    start = clock()

    def stored() -> list[tuple[str, dt.datetime]]:
        with rt.sessions() as session:
            found = session.execute(select(Post.external_id, Post.published_at).order_by(Post.id))
            return [(external_id or "", published) for external_id, published in found if published]

    assert worker.work() is False  # the original of cascade a is due at once
    assert [e for e, _ in stored()] == [f"a{worker.tag}"]
    clock.advance(seconds=29)
    assert worker.work() is False and len(stored()) == 1  # cascade b starts 30 s later
    clock.advance(seconds=30)
    assert worker.work() is False and len(stored()) == 2  # an hour of cascade a is 60 s
    clock.advance(seconds=1)
    worker.work()
    assert [e for e, _ in stored()] == [f"a{worker.tag}", f"b{worker.tag}", f"a/1{worker.tag}"]
    clock.advance(minutes=5)
    assert worker.work() is False and worker.finished and worker.fed == 4
    posts = stored()
    assert [e for e, _ in posts] == [f"{e}{worker.tag}" for e in ("a", "b", "a/1", "a/2")]
    offsets = [(published - start).total_seconds() for _, published in posts]
    assert offsets == [0.0, 30.0, 60.0, 120.0]
    with rt.sessions() as session:
        root = session.scalar(select(Post.root_external_id).where(Post.external_id == f"a/2{worker.tag}"))
    assert root == f"a{worker.tag}"


def test_replay_worker_runs_and_stops_in_its_thread(rt: Runtime, clock: FakeClock) -> None:
    from yuqing.replay import ReplayWorker

    rows = [{"id": "z", "cascade": "z", "text": "一条", "published_at": "2012-04-10T08:00:00+08:00"}]
    worker = ReplayWorker(rt, lambda: rows, clock=clock, interval=0.01)
    worker.start()
    import time

    deadline = time.monotonic() + 10
    while not worker.finished and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stop(timeout=5)
    assert worker.finished and worker._thread is not None and not worker._thread.is_alive()


def test_a_reconnecting_feed_reports_clocks_that_turned_after_it_left_off(world: World) -> None:
    case = cases.open_case(world.rt, "李办公室", event_id=world.event_id)
    now = world.clock()
    with transaction(world.rt.sessions) as session:
        deadline_id = session.scalars(select(Deadline.id).where(Deadline.case_id == case["id"])).first()
        session.execute(
            update(Deadline)
            .where(Deadline.id == deadline_id)
            .values(state="overdue", due_at=now - dt.timedelta(minutes=10))
        )
    before = LiveFeed(world.rt, now - dt.timedelta(minutes=20))
    before.prime()
    assert [(n, d["id"]) for n, d in before.poll() if n == "deadline"] == [("deadline", deadline_id)]
    after = LiveFeed(world.rt, now - dt.timedelta(minutes=5))
    after.prime()
    assert [n for n, _ in after.poll() if n == "deadline"] == []
