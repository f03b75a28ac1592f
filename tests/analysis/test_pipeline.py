"""The analysis pipeline over stored posts: topics, sentiment, events, metrics, grades."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.conftest import CED_FILE, FakeClock
from yuqing.analysis import grading, queries, topics
from yuqing.analysis.models import AnalysisQueue, Event, GradeSignal, PostAnalysis
from yuqing.analysis.pipeline import LEASE_SECONDS, AnalysisPipeline, LeaseLost, PipelineCounts
from yuqing.cli.main import app
from yuqing.ingest import service
from yuqing.ingest.models import Post
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSPITAL = "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡，家属在医院门口拉横幅讨说法，医院至今未回应。"


def load(rt: Runtime, rows: list[dict[str, object]], name: str = "t.jsonl") -> None:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    service.import_data(
        rt, PostWriter(rt.sessions, rt.settings, rt.clock), data, origin=name, platform="weibo"
    )


def setup_topics(rt: Runtime) -> None:
    topics.set_word_group(rt, "地域", ["南京", "江苏"], "地域")
    topics.set_word_group(rt, "主体", ["医院", "学校"], "主体")
    topics.add_topic(rt, "医疗", "@地域 + @主体 + (投诉|事故|死亡) - 招聘", "市卫健委")


def test_posts_are_analysed_once_and_graded_with_reasons(rt: Runtime) -> None:
    setup_topics(rt)
    rows: list[dict[str, object]] = [
        {"id": "o1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00", "reposts": 620},
        {
            "id": "r1",
            "text": "太可怕了//@网友:" + HOSPITAL,
            "kind": "repost",
            "cascade": "o1",
            "published_at": "2026-11-20T08:10:00+08:00",
        },
        {
            "id": "j1",
            "text": "南京某医院招聘护士，待遇优厚，欢迎投递简历，详情见官网。",
            "published_at": "2026-11-20T09:00:00+08:00",
        },
        {
            "id": "x1",
            "text": "今天天气晴朗，适合和家人一起去公园散步，心情特别好。",
            "published_at": "2026-11-20T09:00:00+08:00",
        },
    ]
    load(rt, rows)
    pipeline = AnalysisPipeline(rt)
    counts = pipeline.run()
    assert counts.posts == 4
    with rt.sessions() as session:
        analysed = {a.post_id: a for a in session.scalars(select(PostAnalysis))}
        assert len(analysed) == 4
        topic_hits = [a for a in analysed.values() if a.topics]
        assert len(topic_hits) == 2  # the recruitment ad is excluded, the weather post does not match
        assert all(a.sentiment == "negative" for a in topic_hits)
        assert "casualties" in topic_hits[0].flags
        assert topic_hits[0].event_id == topic_hits[1].event_id  # the repost joins the original

    events = queries.list_events(rt, graded_only=True)
    assert len(events) == 1
    event = events[0]
    assert event["grade"] == "特别重大" and event["grade_code"] == "I"
    reason_texts = [r["text"] for r in event["reasons"]]
    assert any("转发" in text or "伤亡" in text for text in reason_texts)
    assert event["topic"] == "医疗"
    assert event["metrics"]["posts"] == 2

    # Running again changes nothing.
    assert AnalysisPipeline(rt).run().posts == 0
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(GradeSignal)) == 1
        assert session.scalar(select(func.count()).select_from(PostAnalysis)) == 4


def test_new_posts_join_open_events_after_a_restart(rt: Runtime) -> None:
    setup_topics(rt)
    load(rt, [{"id": "o1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00"}], "a.jsonl")
    AnalysisPipeline(rt).run()
    load(
        rt,
        [{"id": "c1", "text": "转发：" + HOSPITAL, "published_at": "2026-11-20T09:00:00+08:00"}],
        "b.jsonl",
    )
    AnalysisPipeline(rt).run()  # a new process: the clusterer is restored from its snapshot
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1
        event = session.scalars(select(Event)).one()
        assert event.post_count == 2


def test_a_running_pipeline_picks_up_edited_rules_and_word_groups(rt: Runtime, clock: FakeClock) -> None:
    setup_topics(rt)
    pipeline = AnalysisPipeline(rt)  # one instance, as inside `yuqing serve`
    load(
        rt,
        [
            {
                "id": "a1",
                "text": "苏州某学校发生食堂投诉，家长聚集。",
                "published_at": "2026-11-20T08:00:00+08:00",
            }
        ],
    )
    pipeline.run()
    # The rule is widened and a city added to the region group while the pipeline keeps running.
    [topic] = topics.list_topics(rt)
    topics.update_topic(rt, topic["id"], "@地域 + @主体 + (投诉|事故|死亡|聚集) - 招聘", "市卫健委")
    clock.advance(seconds=1)
    topics.set_word_group(rt, "地域", ["南京", "江苏", "苏州"], "地域")
    load(
        rt,
        [{"id": "a2", "text": "苏州某学校门口家长聚集讨说法。", "published_at": "2026-11-20T09:00:00+08:00"}],
        "b.jsonl",
    )
    pipeline.run()
    with rt.sessions() as session:
        by_text = {
            post_text: analysis.topics
            for post_text, analysis in session.execute(
                select(Post.text, PostAnalysis).join(PostAnalysis, PostAnalysis.post_id == Post.id)
            )
        }
    assert by_text["苏州某学校发生食堂投诉，家长聚集。"] == []  # analysed once, under the old rule
    assert [hit["topic_id"] for hit in by_text["苏州某学校门口家长聚集讨说法。"]] == [topic["id"]]


def test_a_running_pipeline_grades_with_the_profile_as_edited(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = Path(grading.__file__).parent / "profiles" / "default.toml"
    edited = tmp_path / "profile.toml"
    edited.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(rt.settings, "plan_profile", str(edited))
    setup_topics(rt)
    pipeline = AnalysisPipeline(rt)  # one instance, as inside `yuqing serve`
    load(rt, [{"id": "p1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00", "reposts": 620}])
    pipeline.run()
    # The office renames its top grade while the pipeline keeps running; the next event is graded
    # with the edited profile.
    text = edited.read_text(encoding="utf-8").replace('name = "特别重大"', 'name = "特别重大（I级）"', 1)
    edited.write_text(text, encoding="utf-8")
    os.utime(edited, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    other = "江苏苏州某学校发生校车事故，两名学生死亡，多名学生受伤，家长聚集在学校门口要求说法。"
    load(
        rt,
        [{"id": "p2", "text": other, "published_at": "2026-11-23T08:00:00+08:00", "reposts": 700}],
        "b.jsonl",
    )
    pipeline.run()
    grades = [e["grade"] for e in sorted(queries.list_events(rt, graded_only=True), key=lambda e: e["id"])]
    assert grades == ["特别重大", "特别重大（I级）"]


def _late_post(rt: Runtime, text: str, *, post_id: int | None = None) -> tuple[Session, int]:
    """A post written in a transaction left open (the caller commits it): a slow writer."""
    session = rt.sessions()
    source_id = session.scalars(select(Post.source_id)).first()
    post = Post(
        id=post_id,
        source_id=source_id,
        platform="weibo",
        external_id=f"late-{post_id}",
        url_key=f"weibo:late-{post_id}",
        text=text,
        text_original=text,
        published_at=rt.clock(),
        fetched_at=rt.clock(),
    )
    session.add(post)
    session.flush()
    return session, post.id


def test_a_post_committed_after_a_higher_id_is_analysed(rt: Runtime) -> None:
    """Ids are no order of commits: a post with a lower id that lands after the pipeline has gone
    past it (a slow writer's transaction) is still analysed, once."""
    setup_topics(rt)
    load(rt, [{"id": "a", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00"}])
    session, _high = _late_post(rt, "江苏一所学校食堂投诉不断。", post_id=100_000)
    session.commit()
    session.close()
    pipeline = AnalysisPipeline(rt)
    assert pipeline.run().posts == 2
    # A post with an id below the ones analysed, committed only now.
    session, late_id = _late_post(rt, "南京某医院又出事故，患者死亡。", post_id=50_000)
    session.commit()
    session.close()
    assert pipeline.run().posts == 1
    assert AnalysisPipeline(rt).run().posts == 0  # and only once
    with rt.sessions() as s:
        assert s.get(PostAnalysis, late_id) is not None


def test_a_queued_post_that_no_longer_exists_is_dropped_and_the_rest_analysed(rt: Runtime) -> None:
    """A queue entry whose post was removed by hand cannot be analysed; it must not hold up the
    posts queued behind it (the batch reads the queue's head, then its posts)."""
    setup_topics(rt)
    load(
        rt,
        [
            {"id": f"p{i}", "text": f"{HOSPITAL}第{i}次", "published_at": "2026-11-20T08:00:00+08:00"}
            for i in range(3)
        ],
    )
    with rt.sessions() as s:  # ids no post has, at the queue's head: a whole batch of them
        s.add_all(
            [AnalysisQueue(post_id=-2, queued_at=rt.clock()), AnalysisQueue(post_id=-1, queued_at=rt.clock())]
        )
        s.commit()
    assert AnalysisPipeline(rt, batch_size=2).run().posts == 3
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AnalysisQueue)) == 0
        assert s.scalar(select(func.count()).select_from(PostAnalysis)) == 3


@pytest.mark.postgres
def test_postgres_a_transaction_held_open_loses_no_post(rt: Runtime) -> None:
    """On PostgreSQL a writer takes id N, another commits N+1 and it is analysed; N, committed
    later, is analysed too (the id cursor skipped it for ever)."""
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    setup_topics(rt)
    load(rt, [{"id": "a", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00"}])
    pipeline = AnalysisPipeline(rt)
    assert pipeline.run().posts == 1
    slow, late_id = _late_post(rt, "南京某医院又出事故，患者死亡。")
    load(rt, [{"id": "c", "text": "江苏一所学校食堂投诉不断。", "published_at": "2026-11-20T08:05:00+08:00"}])
    with rt.sessions() as s:
        newer = max(s.scalars(select(Post.id)))
    assert newer > late_id
    assert pipeline.run().posts == 1  # N+1 only: N is not committed yet
    slow.commit()
    slow.close()
    assert pipeline.run().posts == 1
    with rt.sessions() as s:
        assert s.get(PostAnalysis, late_id) is not None
        assert s.get(PostAnalysis, newer) is not None


@pytest.mark.skipif(not CED_FILE.is_file(), reason="the CED data is not beside the repository")
def test_stored_metrics_of_every_event_count_exactly_its_posts(rt: Runtime) -> None:
    """The final state is exact: each event's stored metrics count the posts analysed into it,
    negative ones included, however the posts were batched (metrics were once refreshed at most
    every 10 s, leaving events that stopped growing with stale figures)."""
    topics.add_topic(rt, "微博", "我|的|了", "市卫健委")
    with gzip.open(CED_FILE, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in itertools.islice(fh, 3000)]
    load(rt, rows)
    AnalysisPipeline(rt, batch_size=97).run()
    with rt.sessions() as s:
        counted = dict(
            s.execute(
                select(PostAnalysis.event_id, func.count())
                .where(PostAnalysis.event_id.is_not(None))
                .group_by(PostAnalysis.event_id)
            ).all()
        )
        negative = dict(
            s.execute(
                select(PostAnalysis.event_id, func.count())
                .where(PostAnalysis.event_id.is_not(None), PostAnalysis.sentiment == "negative")
                .group_by(PostAnalysis.event_id)
            ).all()
        )
        events = {e.id: e.metrics for e in s.scalars(select(Event))}
    assert max(counted.values()) >= 50  # cascades of a few hundred reposts grew over many batches
    for event_id, posts in counted.items():
        assert events[event_id]["posts"] == posts
        share = negative.get(event_id, 0) / posts
        assert events[event_id]["negative_share"] == pytest.approx(share, abs=1e-4)


# ---- one pipeline at a time ------------------------------------------------------------------------


def _hospital_rows(prefix: str, start_minute: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"{prefix}{i}",
            "text": f"网友{prefix}{i}说：{HOSPITAL}",
            "published_at": f"2026-11-20T08:{start_minute + i:02d}:00+08:00",
        }
        for i in range(3)
    ]


def test_a_second_pipeline_waits_while_one_holds_the_lease(rt: Runtime) -> None:
    setup_topics(rt)
    load(rt, _hospital_rows("a", 0))
    first, second = AnalysisPipeline(rt), AnalysisPipeline(rt)
    assert first._acquire()  # working (a batch in progress, or a run of `yuqing serve`)
    busy = second.run()
    assert busy.busy and busy.posts == 0
    first._release()
    assert second.run().posts == 3


def test_pipelines_taking_turns_continue_each_others_events(rt: Runtime) -> None:
    """`yuqing analyze` beside `yuqing serve`: whoever holds the lease analyses, from the state the
    other saved; the same incident never becomes two events."""
    setup_topics(rt)
    serve, cli = AnalysisPipeline(rt), AnalysisPipeline(rt)  # both loaded the empty state
    load(rt, _hospital_rows("a", 0))
    assert serve.run().posts == 3
    load(rt, _hospital_rows("b", 10))
    assert cli.run().posts == 3  # took the lease over from serve: reloads what serve analysed
    load(rt, _hospital_rows("c", 20))
    assert serve.run().posts == 3
    with rt.sessions() as s:
        events = set(s.scalars(select(PostAnalysis.event_id)))
        assert len(events) == 1 and None not in events
        assert s.scalar(select(func.count()).select_from(Event)) == 1


def test_a_dead_pipelines_lease_expires_and_a_stalled_one_commits_nothing(
    rt: Runtime, clock: FakeClock
) -> None:
    setup_topics(rt)
    load(rt, _hospital_rows("a", 0))
    stalled, other = AnalysisPipeline(rt), AnalysisPipeline(rt)
    assert stalled._acquire()  # then stalls (or was killed) without releasing
    assert other.run().busy
    clock.advance(seconds=LEASE_SECONDS + 1)
    assert other.run().posts == 3  # the lease expired: taken over
    load(rt, _hospital_rows("b", 10))
    assert other._acquire()
    with pytest.raises(LeaseLost):  # the stalled one wakes up: its batch must not commit
        stalled._run(PipelineCounts(), None)
    other._release()
    assert other.run().posts == 3
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(PostAnalysis)) == 6


def test_pipeline_status_counts_the_backlog_and_names_the_worker(rt: Runtime) -> None:
    from yuqing.analysis.pipeline import pipeline_status

    setup_topics(rt)
    load(rt, _hospital_rows("a", 0))
    before = pipeline_status(rt)
    assert (before["stored"], before["analysed"], before["backlog"], before["workers"]) == (3, 0, 3, [])
    AnalysisPipeline(rt).run()
    after = pipeline_status(rt)
    assert (after["stored"], after["analysed"], after["backlog"]) == (3, 3, 0)
    [worker] = after["workers"]
    assert worker["state"] == "idle" and worker["pid"] == os.getpid()
    result = CliRunner().invoke(
        app, ["pipeline", "status", "--json"], env={"YUQING_DATABASE_URL": rt.settings.database_url}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["analysed"] == 3


def _gulou_rows(prefix: str, day: str, texts: list[str]) -> list[dict[str, object]]:
    return [
        {"id": f"{prefix}{i}", "text": text, "published_at": f"{day}T{8 + i:02d}:00:00+08:00"}
        for i, text in enumerate(texts)
    ]


GULOU = [
    HOSPITAL,
    "南京鼓楼医院一名产妇在剖腹产手术中死亡，家属质疑麻醉用药，在医院门口拉横幅讨说法。",
    "【南京一产妇手术中死亡】南京鼓楼医院产科一名产妇手术中死亡，家属拉横幅讨说法，卫健委已介入调查。",
]
GULOU_AGAIN = (
    "两个月过去了，南京鼓楼医院那位手术中死亡的产妇，家属还在等一个说法，横幅拉了又拉，医院依旧沉默。"
)


@pytest.mark.parametrize("one_batch", [False, True])
def test_an_incident_reported_again_months_later_reopens_its_event(rt: Runtime, one_batch: bool) -> None:
    """The same incident resurfacing after its event closed is that event flaring up (its grade,
    case and alert continue), not a new incident graded from nothing."""
    setup_topics(rt)
    first = _gulou_rows("g", "2026-09-01", GULOU)
    again = _gulou_rows("a", "2026-11-20", [GULOU_AGAIN])
    other = _gulou_rows("o", "2026-11-20", ["南京一所学校食堂被投诉饭菜变质，学生腹泻，学校称已整改。"])
    if one_batch:
        load(rt, first + other + again)
    else:
        load(rt, first, "a.jsonl")
        AnalysisPipeline(rt).run()
        load(rt, other + again, "b.jsonl")
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        events = {e.title: e for e in session.scalars(select(Event))}
        assert len(events) == 2, list(events)
        [reopened] = [e for e in events.values() if "产妇" in e.title]  # titled 【南京一产妇手术中死亡】
        assert reopened.post_count == 4 and reopened.status == "open"
        assert reopened.last_seen.date().isoformat() == "2026-11-20"
        assert reopened.metrics["posts"] == 4
        by_post = dict(session.execute(select(PostAnalysis.post_id, PostAnalysis.event_id)).all())
        ids = dict(session.execute(select(Post.external_id, Post.id)).all())
        assert by_post[ids["a0"]] == by_post[ids["g0"]] == reopened.id
