"""Group commit of webhook deliveries (reliability issue, item 26): small deliveries arriving
together are stored in one transaction, yet each keeps its evidence, its run, its counts and its
dead letters, and one sender's refused post never costs another sender's delivery."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.ingest.test_poison import refuse_banned_text
from tests.test_webhook_api import base_url as base_url
from yuqing.ingest import intake as intake_module
from yuqing.ingest import service
from yuqing.ingest.intake import WebhookIntake
from yuqing.ingest.models import DeadLetter, EvidenceBlob, FetchRun, Post
from yuqing.ingest.records import IngestCounts
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

TEXT = "网传某市第一人民医院发生医疗事故，一名产妇在手术后死亡，家属在医院门口拉横幅讨说法"


def body(*posts: dict[str, Any]) -> bytes:
    return json.dumps(posts[0] if len(posts) == 1 else list(posts), ensure_ascii=False).encode()


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the groups stored (the real function runs; its calls are recorded)."""
    sizes: list[int] = []
    real = intake_module.receive_group

    def recording(rt: Runtime, writer: PostWriter, deliveries: Any) -> list[IngestCounts]:
        sizes.append(len(deliveries))
        return real(rt, writer, deliveries)

    monkeypatch.setattr(intake_module, "receive_group", recording)
    return sizes


def deliver_while_the_writer_is_busy(
    writer: PostWriter, send: Callable[[bytes], IngestCounts], bodies: list[bytes]
) -> list[IngestCounts | BaseException]:
    """Send every body from a thread of its own while the writer is held (as by a long import
    batch), so that they queue up; then let the writer go."""
    answers: list[IngestCounts | BaseException] = [RuntimeError("no answer")] * len(bodies)

    def one(n: int) -> None:
        try:
            answers[n] = send(bodies[n])
        except BaseException as exc:
            answers[n] = exc

    with writer.transaction():
        threads = [threading.Thread(target=one, args=(n,)) for n in range(len(bodies))]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # every sender has handed its delivery over and waits
    for thread in threads:
        thread.join(30)
    return answers


def test_deliveries_arriving_together_share_a_transaction_and_keep_their_own_runs(
    rt: Runtime, groups: list[int]
) -> None:
    source, _token = service.add_source(rt, "webhook", None, name="推送")
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    intake = WebhookIntake(rt, writer)
    bodies = [body({"id": f"p{n}", "text": f"第{n}条：{TEXT}{n}号床"}) for n in range(10)]
    bodies.append(body({"id": "p3", "text": f"第3条：{TEXT}3号床"}))  # delivered twice
    bodies.append(
        body({"id": "ok", "text": "另一位网友的消息"}, {"id": "bad", "text": "坏", "reposts": 1e30})
    )
    answers = deliver_while_the_writer_is_busy(writer, lambda b: intake.receive(source, b, None), bodies)

    assert all(isinstance(a, IngestCounts) for a in answers), answers
    counts = [a.as_dict() for a in answers if isinstance(a, IngestCounts)]
    assert max(groups) > 1 and sum(groups) == len(bodies)  # stored together, each once
    assert sum(c["new"] + c["near_duplicate"] for c in counts) == 11
    assert sorted(c["duplicate"] for c in counts)[-1] == 1 and sum(c["duplicate"] for c in counts) == 1
    assert counts[-1] == {"new": 1, "duplicate": 0, "near_duplicate": 0, "rejected": 1}
    with rt.sessions() as session:
        run_list = session.scalars(select(FetchRun).order_by(FetchRun.id)).all()
        assert len(run_list) == len(bodies)
        assert all(r.finished_at is not None for r in run_list)
        by_document = {r.document_sha256: r for r in run_list}
        assert len(by_document) == len(bodies) - 1  # the repeated body is one piece of evidence
        for sent in bodies:
            digest = hashlib.sha256(sent).hexdigest()
            assert session.get(EvidenceBlob, digest) is not None
        for post in session.scalars(select(Post)):
            run = session.get(FetchRun, post.fetch_run_id)
            assert run is not None and run.document_sha256 == post.raw_sha256
            evidence = session.get(EvidenceBlob, post.raw_sha256)
            assert evidence is not None and post.external_id is not None
            assert f'"{post.external_id}"'.encode() in evidence.data  # filed under its own delivery
        letter = session.scalars(select(DeadLetter)).one()
        bad_run = session.get(FetchRun, letter.fetch_run_id)
        assert bad_run is not None and bad_run.outcome == "partial" and bad_run.items_rejected == 1
        assert bad_run.document_sha256 == hashlib.sha256(bodies[-1]).hexdigest()


def test_a_post_the_database_refuses_costs_only_its_own_delivery(rt: Runtime, groups: list[int]) -> None:
    refuse_banned_text(rt)
    source, _token = service.add_source(rt, "webhook", None, name="推送")
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    intake = WebhookIntake(rt, writer)
    bodies = [body({"id": f"p{n}", "text": f"第{n}条：{TEXT}{n}号床"}) for n in range(6)]
    bodies[2] = body({"id": "p2", "text": "这一条含有禁止入库的词语"}, {"id": "p2b", "text": f"同批：{TEXT}"})
    answers = deliver_while_the_writer_is_busy(writer, lambda b: intake.receive(source, b, None), bodies)

    assert all(isinstance(a, IngestCounts) for a in answers), answers
    counts = [a.as_dict() for a in answers if isinstance(a, IngestCounts)]
    assert max(groups) > 1  # the group was tried, failed as a whole, and each was stored alone
    assert counts[2]["rejected"] == 1 and counts[2]["new"] + counts[2]["near_duplicate"] == 1
    assert all(
        c["new"] + c["near_duplicate"] == 1 and c["rejected"] == 0 for n, c in enumerate(counts) if n != 2
    )
    with rt.sessions() as session:
        assert set(session.scalars(select(Post.external_id))) == {"p0", "p1", "p2b", "p3", "p4", "p5"}
        letter = session.scalars(select(DeadLetter)).one()
        assert letter.stage == "ingest.store" and "拒收" in letter.error
        assert len(session.scalars(select(FetchRun)).all()) == len(bodies)  # the failed try left none


def test_parallel_single_post_requests_are_all_stored(rt: Runtime, base_url: str) -> None:
    source, token = service.add_source(rt, "webhook", None, name="逐条推送")
    url = f"{base_url}/api/v1/webhooks/{source.id}"

    def send(n: int) -> int:
        post = {"id": f"s{n}", "text": f"网友第{n}条爆料：{TEXT}，第{n}位家属"}
        answer = httpx.post(url, content=body(post), headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.json() == {"new": 1, "duplicate": 0, "near_duplicate": 0, "rejected": 0} or (
            answer.json()["near_duplicate"] == 1
        )
        return answer.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(send, range(60))) == {200}
    with rt.sessions() as session:
        assert len(session.scalars(select(Post.id)).all()) == 60
        assert len(session.scalars(select(FetchRun).where(FetchRun.items_read == 1)).all()) == 60


def test_the_writer_tells_its_listener_when_a_commit_stored_new_posts(rt: Runtime) -> None:
    """`yuqing serve` wakes its analysis (or the announcer) this way, instead of letting new posts
    wait for the next tick: told once per committed transaction that stored a new post, through
    grouped webhook deliveries and plain writes alike; never for a delivery of copies only."""
    source, _token = service.add_source(rt, "webhook", None, name="推送")
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    told: list[int] = []
    writer.on_stored = lambda: told.append(1)
    intake = WebhookIntake(rt, writer)
    first = intake.receive(source, body({"id": "w1", "text": f"{TEXT}（一）"}), None)
    assert first.new == 1 and len(told) == 1
    again = intake.receive(source, body({"id": "w1", "text": f"{TEXT}（一）"}), None)
    assert again.duplicate == 1 and len(told) == 1  # nothing new: nobody is woken
    service.receive_webhook(
        rt, writer, source, body({"id": "w2", "text": "另一条新消息，市场监管局通报"}), None
    )
    assert len(told) == 2


def test_a_woken_background_worker_runs_before_its_interval() -> None:
    from yuqing.background import PeriodicWorker

    rounds: list[float] = []
    ran = threading.Event()

    class Probe(PeriodicWorker):
        def work(self) -> bool:
            rounds.append(time.monotonic())
            ran.set()
            return False

    probe = Probe("probe", 3600.0, coalesce=0.01)
    probe.start()
    try:
        assert ran.wait(30)  # the first round runs at start
        ran.clear()
        probe.wake()
        assert ran.wait(30), "woken, the worker did not run before its hour-long interval"
        assert len(rounds) == 2
    finally:
        probe.stop()
    assert probe._thread is not None and not probe._thread.is_alive()  # stop wakes it too
