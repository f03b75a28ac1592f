"""Analysis in `yuqing worker` processes woken by NATS JetStream (scale-out issue, items 4, 6, 7):
stored posts are announced from the queue (the outbox), a worker analyses and acks them, a NATS
outage delays nothing stored and loses nothing, and a worker killed mid-batch hands over to
another with every post analysed once and the events of a single worker.

A private nats-server (the Debian binary beside the machine's own) runs per test, so a test can
stop it without touching the machine's server."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.analysis.test_pipeline import HOSPITAL, load, setup_topics
from tests.conftest import CED_FILE
from yuqing.analysis import stream, topics
from yuqing.analysis.models import AnalysisQueue, Event, PostAnalysis
from yuqing.analysis.pipeline import AnalysisPipeline, pipeline_status
from yuqing.cli.main import app
from yuqing.db import transaction
from yuqing.ingest.models import Post
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import get_settings, load_settings

NATS_SERVER = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
)
pytestmark = pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed")


class PrivateNats:
    """A nats-server with JetStream on a port of its own, stopped and started by the test."""

    def __init__(self, store: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"nats://127.0.0.1:{self.port}"
        self._store = store
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert NATS_SERVER is not None
        self._process = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self._store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[PrivateNats]:
    server = PrivateNats(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


def hospital_posts(n: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"h{i}",
            "text": f"{HOSPITAL}（第{i}条）",
            "published_at": f"2026-11-20T{8 + i // 60:02d}:{i % 60:02d}:00+08:00",
        }
        for i in range(n)
    ]


def test_stored_posts_are_announced_analysed_and_acked(rt: Runtime, nats: PrivateNats) -> None:
    setup_topics(rt)
    load(rt, hospital_posts(5))
    link = stream.NatsLink(nats.url)
    try:
        assert stream.announce(rt, link) == 5
        assert stream.announce(rt, link) == 0  # each once
        assert link.pending() == {"pending": 1, "unacked": 0}  # five ids in one announcement
        worker = stream.Worker(rt, link, tick=0.2)
        worker.round()  # analyses the queue, then waits for news and takes the five announcements
        assert worker.analysed == 5
        worker.round()  # acks them: their posts were committed
        assert link.pending() == {"pending": 0, "unacked": 0}
        worker.pipeline.release()
    finally:
        link.close()
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PostAnalysis)) == 5
        assert session.scalar(select(func.count()).select_from(AnalysisQueue)) == 0


def test_a_nats_outage_delays_nothing_and_loses_nothing(rt: Runtime, nats: PrivateNats) -> None:
    setup_topics(rt)
    link = stream.NatsLink(nats.url, timeout=1.0)
    try:
        nats.stop()
        load(rt, hospital_posts(3))
        with pytest.raises(stream.StreamError):
            stream.announce(rt, link)
        with rt.sessions() as session:  # still waiting to be announced
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(AnalysisQueue)
                    .where(AnalysisQueue.announced_at.is_(None))
                )
                == 3
            )
        # The worker does not wait for NATS: it looks at the queue.
        worker = stream.Worker(rt, link, tick=0.2)
        assert worker.round() == "waiting"
        assert worker.analysed == 3
        load(
            rt,
            [
                {
                    "id": "late",
                    "text": HOSPITAL + "又有患者投诉。",
                    "published_at": "2026-11-20T09:00:00+08:00",
                }
            ],
        )
        nats.start()
        # Back: the one still queued is announced (the analysed three left the queue), once; an
        # announcement repeated after a crash between publishing and marking is dropped by the stream.
        assert stream.announce(rt, link) == 1
        with rt.sessions() as session:
            late_id = session.scalars(select(Post.id).where(Post.external_id == "late")).one()
        link.publish([late_id])
        assert link.pending()["pending"] == 1
        worker.round()
        worker.round()
        assert worker.analysed == 4
        assert link.pending() == {"pending": 0, "unacked": 0}
        worker.pipeline.release()
    finally:
        link.close()
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PostAnalysis)) == 4


def test_pipeline_status_names_the_mode_the_stream_and_the_workers(
    rt: Runtime, nats: PrivateNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_topics(rt)
    load(rt, hospital_posts(2))
    rt.settings.nats_url = nats.url
    link = stream.NatsLink(nats.url)
    try:
        worker = stream.Worker(rt, link, tick=0.2)
        worker.round()
        status = pipeline_status(rt)
        assert (status["mode"] == "nats" and status["unannounced"] == 0) or status["backlog"] == 0
        assert status["stream"] == {"pending": 0, "unacked": 0}
        [mine] = status["workers"]
        assert mine["pid"] == os.getpid() and mine["state"] == "working" and mine["lease"]
        monkeypatch.setenv("YUQING_NATS_URL", nats.url)
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["pipeline", "status"])
        assert "NATS 模式：待发布 0 条；流上待取 0 条，已取未确认 0 条" in result.output, result.output
        worker.pipeline.release()
    finally:
        link.close()


def test_two_workers_of_one_host_and_pid_are_listed_apart(rt: Runtime) -> None:
    """Containers on the host network share the host name, and each may run yuqing as pid 7: a
    standby worker is its own row, not folded into the lease holder's because host and pid agree."""
    setup_topics(rt)
    load(rt, hospital_posts(2))
    working, standing_by = stream.Worker(rt, None, tick=0.05), stream.Worker(rt, None, tick=0.05)
    try:
        assert working.round() == "working" and standing_by.round() == "standby"
        rows = {row["id"]: row for row in pipeline_status(rt)["workers"]}
        assert set(rows) == {working.identity, standing_by.identity}
        assert rows[working.identity]["lease"] and rows[working.identity]["state"] == "working"
        assert not rows[standing_by.identity]["lease"] and rows[standing_by.identity]["state"] == "standby"
        assert rows[working.identity]["pid"] == rows[standing_by.identity]["pid"] == os.getpid()
    finally:
        working.pipeline.release()


def prepare(runtime: Runtime, rows: list[dict[str, object]]) -> None:
    """Topics broad enough to make events of the CED posts, and the posts stored."""
    topics.set_word_group(runtime, "主体", ["医院", "学校", "食品", "政府", "警察"], "主体")
    topics.add_topic(runtime, "综合", "@主体 + (投诉|事故|死亡|谣言|曝光|打人)", "市卫健委")
    load(runtime, rows, "ced.jsonl")


def _stored_and_analysed(database_url: str) -> tuple[int, int]:
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Post)).scalar_one()
        analysed = conn.execute(select(func.count()).select_from(PostAnalysis)).scalar_one()
    engine.dispose()
    return stored, analysed


def _events(rt: Runtime) -> set[tuple[str | None, frozenset[str]]]:
    """Each event as its grade and the set of its posts' external ids (event keys differ by run)."""
    with rt.sessions() as session:
        rows = session.execute(
            select(PostAnalysis.event_id, Post.external_id).join(Post, Post.id == PostAnalysis.post_id)
        ).all()
        grades = dict(session.execute(select(Event.id, Event.grade_code)).all())
    members: dict[int, set[str]] = {}
    for event_id, external in rows:
        if event_id is not None:
            members.setdefault(event_id, set()).add(str(external))
    return {(grades[e], frozenset(m)) for e, m in members.items()}


@pytest.mark.skipif(not CED_FILE.is_file(), reason="the CED data is not beside the repository")
def test_a_worker_killed_mid_batch_hands_over_and_every_post_is_analysed_once(
    rt: Runtime, nats: PrivateNats, database_url: str, tmp_path: Path
) -> None:
    """SIGKILL the analysing worker: the standby takes the lease over when it expires, from the
    last committed state; every post is analysed once and the events equal a one-worker run."""
    rows: list[dict[str, object]] = []
    with gzip.open(CED_FILE, "rt", encoding="utf-8") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if len(rows) == 40_000:
                break
    prepare(rt, rows)

    env = {
        **os.environ,
        "YUQING_DATABASE_URL": database_url,
        "YUQING_NATS_URL": nats.url,
        "YUQING_ANALYSIS_LEASE_SECONDS": "3",
        "YUQING_ANALYSIS_TICK_SECONDS": "0.2",
    }
    command = [sys.executable, "-m", "yuqing", "worker"]
    first = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    second: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 120
        while _stored_and_analysed(database_url)[1] == 0:  # the first batch committed
            assert time.monotonic() < deadline and first.poll() is None, (
                first.stderr.read() if first.stderr else ""
            )
            time.sleep(0.05)
        second = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        first.send_signal(signal.SIGKILL)  # mid-batch: whatever it had not committed is lost with it
        first.wait(10)
        stored, analysed = _stored_and_analysed(database_url)
        assert analysed < stored, "the first worker finished before it could be killed"
        while analysed < stored:
            assert time.monotonic() < deadline, f"analysed {analysed} of {stored}"
            time.sleep(0.2)
            stored, analysed = _stored_and_analysed(database_url)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(20)
    events = _events(rt)
    assert events

    # The same input analysed by one process, in a database of its own.
    single = open_runtime(load_settings(database_url=f"sqlite:///{tmp_path}/single.db"), clock=rt.clock)
    try:
        prepare(single, rows)
        AnalysisPipeline(single).run()
        assert _events(single) == events
    finally:
        single.close()


def test_a_worker_behind_a_long_stream_holds_few_announcements_and_acks_them_all(
    rt: Runtime, nats: PrivateNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fifty announcements of two posts each, a worker analysing ten posts a round: it never holds
    more than MAX_HELD announcements (checking each held post against the queue every round
    made a long backlog slow), and once the queue is empty every announcement is acked."""
    monkeypatch.setattr(stream, "PER_MESSAGE", 2)
    monkeypatch.setattr(stream, "MAX_HELD", 4)
    setup_topics(rt)
    load(rt, hospital_posts(100))
    link = stream.NatsLink(nats.url)
    try:
        assert stream.announce(rt, link) == 100
        assert link.pending()["pending"] == 50
        worker = stream.Worker(rt, link, tick=0.2)
        monkeypatch.setattr(worker.pipeline, "_batch_size", 10)
        original = worker.pipeline.run
        monkeypatch.setattr(worker.pipeline, "run", lambda limit=None, **kw: original(limit=10, **kw))
        held = []
        for _ in range(60):
            worker.round()
            held.append(len(worker._unacked))
            if link.pending() == {"pending": 0, "unacked": 0}:
                break
        assert max(held) <= 4
        assert worker.analysed == 100
        assert link.pending() == {"pending": 0, "unacked": 0}
        worker.pipeline.release()
    finally:
        link.close()


def test_the_announcer_reads_only_the_unannounced_posts_however_many_wait(rt: Runtime) -> None:
    """With 50,000 announced posts still waiting for a worker, the oldest unannounced ones come from
    the partial index of only those; an index on `announced_at` made PostgreSQL walk the primary key
    past every announced post, on every tick of the announcer."""
    from sqlalchemy import text

    if rt.engine.dialect.name != "postgresql":
        pytest.skip("the plan in question is PostgreSQL's")
    with transaction(rt.sessions) as session:
        session.execute(
            text(
                "INSERT INTO analysis_queue (post_id, queued_at, announced_at) "
                "SELECT g, now(), CASE WHEN g <= 50000 THEN now() END FROM generate_series(1, 60000) g"
            )
        )
        session.execute(text("ANALYZE analysis_queue"))
    statement = stream.unannounced(2000)
    with rt.engine.connect() as conn:
        compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(conn.execute(text(f"EXPLAIN {compiled}")).scalars())
        first = list(conn.execute(statement).scalars())
    assert "ix_analysis_queue_unannounced" in plan, plan
    assert first[:3] == [50001, 50002, 50003] and len(first) == 2000


def test_a_lease_left_by_a_killed_process_of_this_machine_is_taken_at_once(rt: Runtime) -> None:
    """`yuqing serve` killed with SIGKILL and started again waited out the lease (two minutes by
    default) before analysing anything. A holder of this machine that no longer runs holds
    nothing; a live one is waited for as before."""
    from yuqing.analysis.models import PipelineState
    from yuqing.analysis.pipeline import LEASE_STATE, _boot_id
    from yuqing.process import process_identity

    setup_topics(rt)
    load(rt, hospital_posts(2))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    def held_by(identity: str) -> None:
        with transaction(rt.sessions) as session:
            row = session.get(PipelineState, LEASE_STATE)
            if row is None:
                session.add(PipelineState(name=LEASE_STATE, data=b"", cursor=0, updated_at=rt.clock()))
                session.flush()
                row = session.get(PipelineState, LEASE_STATE)
            assert row is not None
            row.data, row.updated_at = identity.encode(), rt.clock()

    boot = _boot_id()
    held_by(f"{process_identity()}:{boot}:0123456789ab")  # this very process, another pipeline: alive
    assert AnalysisPipeline(rt).run().busy
    held_by(f"{process_identity(gone.pid)}:another-boot:0123456789ab")  # another machine: waited for
    assert AnalysisPipeline(rt).run().busy
    held_by(f"{process_identity(gone.pid)}:{boot}:0123456789ab")
    done = AnalysisPipeline(rt).run()
    assert not done.busy and done.posts == 2
