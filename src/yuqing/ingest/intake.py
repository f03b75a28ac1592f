"""Group commit of webhook deliveries.

A sender that pushes one post per request paid for a whole delivery each time: three
transactions (evidence and run, the posts, the run's end), each with its queries and commit, about
3 ms of one core per post, so single-post requests topped out near 150/s. Here the request
threads hand small deliveries to one writer thread, which stores whatever has arrived meanwhile,
of one source, in a single transaction: every delivery still keeps its body as evidence, its own
run with its own counts, and its dead letters; its sender gets its own answer once the
transaction commits. Nothing is answered before it is stored.

Large deliveries (more posts than a writer batch), bodies that are not JSON and bodies over the
item limit go the single-delivery way (`service.receive_webhook`), which streams them and
answers with its clear errors. When a group cannot be stored (a row the database refuses,
a body that breaks half-way), its transaction is rolled back and each of its deliveries is stored
alone the single-delivery way, with that path's error handling: one sender's bad post never costs
another sender's delivery.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import groupby

from yuqing.ingest import runs, service
from yuqing.ingest.connectors.base import ConnectorError
from yuqing.ingest.jsonstream import JSONLayout, json_layout, json_records
from yuqing.ingest.models import RunOutcome, Source
from yuqing.ingest.parallel import prepare_all
from yuqing.ingest.records import Document, IngestCounts, PostDraft, Rejected
from yuqing.ingest.store import PostWriter, record_dead_letters, store_document, tally
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)
GROUP_POSTS = 1000  # posts stored in one transaction at most (a delivery is never split)
# A sender waits at most this long for its delivery to be stored (a database locked for minutes).
ANSWER_SECONDS = 300.0
_IDLE_SECONDS = 2.0  # the writer thread ends after this long without a delivery (started again on the next)


@dataclass
class _Delivery:
    source: Source
    body: bytes
    media_type: str | None
    received: dt.datetime
    layout: JSONLayout
    readable: bytes  # the body as UTF-8 for the JSON reader (`service.webhook_json_bytes`)
    answer: Future[IngestCounts] = field(default_factory=Future)


class WebhookIntake:
    """Stores webhook deliveries; small ones, from many request threads, in groups."""

    def __init__(self, rt: Runtime, writer: PostWriter, *, group_posts: int = GROUP_POSTS) -> None:
        self._rt = rt
        self._writer = writer
        self._group_posts = group_posts
        self._pending: queue.SimpleQueue[_Delivery] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def receive(self, source: Source, body: bytes, media_type: str | None) -> IngestCounts:
        """Store one delivery (blocking until it is committed) and return its counts."""
        received = self._rt.clock()
        readable = service.webhook_json_bytes(body, media_type)
        try:
            layout = json_layout(lambda: io.BytesIO(readable), count=True)
        except ConnectorError:
            layout = None
        largest = min(self._rt.settings.import_batch_size, self._rt.settings.webhook_max_items)
        if layout is None or not 0 < (layout.count or 0) <= largest:
            return service.receive_webhook(self._rt, self._writer, source, body, media_type)
        delivery = _Delivery(source, body, media_type, received, layout, readable)
        self._pending.put(delivery)
        self._ensure_thread()  # after the put: a thread ending now has seen it, or a new one will
        try:
            return delivery.answer.result(timeout=ANSWER_SECONDS)
        except TimeoutError:
            raise RuntimeError(
                f"推送在 {ANSWER_SECONDS:.0f} 秒内没有入库（数据库繁忙），请稍后重发；重发不会重复入库"
            ) from None

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="webhook-intake", daemon=True)
                thread.start()  # may raise (no thread to be had): nothing is recorded then
                self._thread = thread

    def _run(self) -> None:
        while True:
            try:
                first = self._pending.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._start_lock:  # ends only with nothing pending, decided under the lock
                    if self._pending.empty():
                        self._thread = None
                        return
                continue
            group = [first]
            posts = first.layout.count or 0
            while posts < self._group_posts:
                try:
                    more = self._pending.get_nowait()
                except queue.Empty:
                    break
                group.append(more)
                posts += more.layout.count or 0
            group.sort(key=lambda d: d.source.id)  # stable: each source's deliveries keep their order
            try:
                for _source, deliveries in groupby(group, key=lambda d: d.source.id):
                    self._store(list(deliveries))
            except BaseException as exc:
                # Never leave a sender waiting on a writer that is gone: answer every delivery
                # still open, and let the next delivery start a new writer thread.
                for delivery in group:
                    if not delivery.answer.done():
                        delivery.answer.set_exception(exc)
                with self._start_lock:
                    self._thread = None
                raise

    def _store(self, deliveries: list[_Delivery]) -> None:
        try:
            answers = receive_group(self._rt, self._writer, deliveries)
        except Exception:
            if len(deliveries) > 1:
                log.info("a group of %d deliveries was not stored; storing each alone", len(deliveries))
            for delivery in deliveries:
                self._store_alone(delivery)
            return
        for delivery, counts in zip(deliveries, answers, strict=True):
            delivery.answer.set_result(counts)

    def _store_alone(self, delivery: _Delivery) -> None:
        try:
            counts = service.receive_webhook(
                self._rt, self._writer, delivery.source, delivery.body, delivery.media_type
            )
        except BaseException as exc:  # the sender hears it (as the single-delivery way answers)
            delivery.answer.set_exception(exc)
        else:
            delivery.answer.set_result(counts)


def receive_group(rt: Runtime, writer: PostWriter, deliveries: Sequence[_Delivery]) -> list[IngestCounts]:
    """Store deliveries of one source in one transaction; the counts of each, in order."""
    source = deliveries[0].source
    context = service.source_context(source, rt.settings)
    prepared = [
        prepare_all(list(json_records(d.readable, layout=d.layout)), context, d.received) for d in deliveries
    ]
    origins: dict[int, tuple[int, str]] = {}
    drafts: list[PostDraft] = []
    run_ids: list[int] = []
    with writer.transaction() as session:
        for delivery, items in zip(deliveries, prepared, strict=True):
            document = Document(delivery.body, f"webhook:{source.id}", delivery.media_type, delivery.received)
            sha = store_document(session, document)
            run_id = runs.start_run(session, source.id, delivery.received, sha)
            run_ids.append(run_id)
            for item in items:
                if isinstance(item, PostDraft):
                    origins[id(item)] = (run_id, sha)
                    drafts.append(item)
            record_dead_letters(session, [i for i in items if isinstance(i, Rejected)], source.id, run_id)
        outcomes = writer.store(session, context, drafts, origins=origins)
        finished = rt.clock()
        answers = []
        for run_id, items in zip(run_ids, prepared, strict=True):
            counts = tally(outcomes[id(i)] for i in items if isinstance(i, PostDraft))
            counts.rejected = sum(isinstance(i, Rejected) for i in items)
            outcome = RunOutcome.PARTIAL if counts.rejected else RunOutcome.SUCCESS
            runs.finish_run(session, run_id, outcome, counts, None, finished)
            answers.append(counts)
        stored = session.get(Source, source.id)
        assert stored is not None
        stored.last_run_at = finished
        stored.last_success_at = finished
        stored.last_items = answers[-1].read
    return answers
