"""Hand-offs between stages that do not depend on id order (scale-out issue, item 2): a hot-list
rank, a sighting or a grade signal committed after a higher id is still counted, exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.analysis.test_hot_lists import HOT, REPORT, load, only_event
from tests.analysis.test_pipeline import setup_topics
from yuqing.alerts.service import process_signals
from yuqing.analysis.models import Event, GradeSignal, LateArrival
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.ingest.models import HotListRank, Post
from yuqing.runtime import Runtime

NEWS = {
    "id": "n1",
    "url": "https://news.example.cn/2026/11/20/a1.html",
    "text": REPORT,
    "published_at": "2026-11-20T08:00:00+08:00",
}


def _hot_post(rt: Runtime) -> Post:
    with rt.sessions() as session:
        post = session.scalars(select(Post).where(Post.external_id == HOT["id"])).one()
        session.expunge(post)
        return post


def _rank(post: Post, rank: int, row_id: int | None = None) -> HotListRank:
    return HotListRank(
        id=row_id,
        post_id=post.id,
        source_id=post.source_id,
        list_name="微博热搜",
        rank=rank,
        seen_at=dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC),
    )


def test_a_rank_stored_with_a_lower_id_after_the_pipeline_passed_still_regrades(rt: Runtime) -> None:
    setup_topics(rt)
    pipeline = AnalysisPipeline(rt)
    load(rt, [NEWS, {**HOT, "hot_rank": 30, "published_at": "2026-11-20T08:20:00+08:00"}], "a.jsonl")
    pipeline.run()
    assert only_event(rt)["grade"] == "较大"
    hot = _hot_post(rt)
    with rt.sessions() as session, session.begin():
        session.add(_rank(hot, 40, row_id=1000))
    pipeline.run()
    # A reading that took its id before the one above but was committed only now (a slow writer).
    with rt.sessions() as session, session.begin():
        session.add(_rank(hot, 5, row_id=500))
    pipeline.run()
    event = only_event(rt)
    assert event["grade"] == "重大" and event["metrics"]["hot_list_rank"] == 5
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LateArrival)) == 0


@pytest.mark.postgres
def test_postgres_a_rank_committed_after_a_higher_one_is_counted(rt: Runtime) -> None:
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    setup_topics(rt)
    pipeline = AnalysisPipeline(rt)
    load(rt, [NEWS, {**HOT, "hot_rank": 30, "published_at": "2026-11-20T08:20:00+08:00"}], "a.jsonl")
    pipeline.run()
    hot = _hot_post(rt)
    slow = rt.sessions()
    slow.begin()
    slow.add(_rank(hot, 5))
    slow.flush()  # takes its id now
    with rt.sessions() as session, session.begin():
        session.add(_rank(hot, 45))  # a higher id, committed first
    pipeline.run()
    assert only_event(rt)["grade"] == "较大"
    slow.commit()
    slow.close()
    pipeline.run()
    event = only_event(rt)
    assert event["grade"] == "重大" and event["metrics"]["hot_list_rank"] == 5


def _graded_event(rt: Runtime) -> int:
    setup_topics(rt)
    load(rt, [NEWS], "news.jsonl")
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        return session.scalars(select(Event.id)).one()


def _signal(event_id: int, row_id: int) -> GradeSignal:
    return GradeSignal(
        id=row_id,
        event_id=event_id,
        created_at=dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC),
        kind="upgraded",
        from_code="IV",
        to_code="III",
        reasons=[],
    )


def test_every_grade_signal_is_handled_once_whatever_its_id(rt: Runtime) -> None:
    event_id = _graded_event(rt)
    assert process_signals(rt).signals == 1
    assert process_signals(rt).signals == 0
    with rt.sessions() as session, session.begin():
        session.add(_signal(event_id, 1000))
    assert process_signals(rt).signals == 1
    with rt.sessions() as session, session.begin():
        session.add(_signal(event_id, 500))  # committed after 1000 was handled
    assert process_signals(rt).signals == 1
    assert process_signals(rt).signals == 0
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).where(GradeSignal.handled_at.is_(None))) == 0


@pytest.mark.postgres
def test_postgres_two_alerting_loops_never_handle_one_signal_twice(rt: Runtime) -> None:
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("concurrent alerting needs PostgreSQL")
    _graded_event(rt)
    other = rt.sessions()
    other.begin()
    claimed = list(
        other.scalars(
            select(GradeSignal).where(GradeSignal.handled_at.is_(None)).with_for_update(skip_locked=True)
        )
    )
    assert len(claimed) == 1
    assert process_signals(rt).signals == 0  # the other loop holds it: skipped, not waited on
    other.rollback()  # that loop died before handling it
    other.close()
    assert process_signals(rt).signals == 1
    assert process_signals(rt).signals == 0
