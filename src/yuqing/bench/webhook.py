"""`yuqing bench webhook`: posts pushed to a real `yuqing serve` through its webhook, on real data.

A fresh SQLite database gets one webhook source; `yuqing serve` runs as a subprocess on 127.0.0.1
with its analysis pipeline on (the scheduler off). Posts are real CED Weibo posts (text, time,
engagement), each with an id of its own so that every one is new. Measured in the same run:

- single: one post per request, from 16 client threads as fast as the server answers;
- batched: 100 posts per request, from 4 client threads;
- offered 1,000 posts/s: an open-loop schedule (requests sent on time whether or not earlier ones
  were answered, so a slow server shows as latency, not as a lower rate), as single posts and as
  batches of 50;
- the pipeline: the analysis queue (`analysis_queue`) drained behind the webhook: posts/s from the
  first post sent to the queue empty (bounded by the arrivals while they last), and how long after
  the last post everything was analysed;
- baseline "in-process receive_webhook (no HTTP)": the same batches stored by calling the service
  function directly on a database of its own: what storing costs without HTTP, the server's
  threads and the event loop, so the distance to it is what the web path adds.

Latency is the client's on the loopback interface (request sent to answer read).
"""

from __future__ import annotations

import gzip
import itertools
import queue
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from yuqing.bench.common import format_table

SINGLE_CLIENTS = 16
BATCH_CLIENTS = 4
BATCH = 100
OFFERED_RATE = 1000.0
OFFERED_BATCH = 50
OPEN_LOOP_CLIENTS = 64


@dataclass
class Phase:
    name: str
    posts: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.posts / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def _posts(path: Path, count: int) -> Iterator[dict[str, Any]]:
    """Real posts, cycled if needed; each gets an id of its own."""
    with gzip.open(path, "rb") as fh:
        rows = [orjson.loads(line) for line in itertools.islice(fh, min(count, 200_000))]
    for n, row in enumerate(itertools.islice(itertools.cycle(rows), count)):
        yield {
            "id": f"bench-{n}",
            "text": row.get("text") or "",
            "published_at": row.get("published_at"),
            "reposts": row.get("reposts"),
            "comments": row.get("comments"),
            "likes": row.get("likes"),
        }


def _chunks(items: Sequence[dict[str, Any]], size: int) -> list[bytes]:
    return [orjson.dumps(list(items[i : i + size])) for i in range(0, len(items), size)]


def _closed_loop(name: str, url: str, token: str, bodies: list[bytes], per: int, clients: int) -> Phase:
    import httpx

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    feed = iter(bodies)

    def worker() -> None:
        nonlocal errors
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            while True:
                with lock:
                    body = next(feed, None)
                if body is None:
                    return
                start = time.perf_counter()
                answer = client.post(url, content=body, headers={"Content-Type": "application/json"})
                spent = time.perf_counter() - start
                with lock:
                    latencies.append(spent)
                    if answer.status_code != 200:
                        errors += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Phase(name, len(bodies) * per, time.perf_counter() - start, latencies, errors)


def _open_loop(
    name: str,
    url: str,
    token: str,
    bodies: list[bytes],
    per: int,
    rate: float,
    on_answer: Callable[[bytes, Any], None] | None = None,
) -> Phase:
    """Requests sent at their scheduled times (posts/s = rate) whatever the answers' pace.

    The clients and their connections are made before the clock starts (making 64 of them on
    the schedule cost the first two seconds ~1 s of latency, the client's own, not the
    server's); a request waiting for a free client counts its wait as latency. `on_answer`
    hears each body with its response (None when the request failed), one call at a time."""
    import httpx

    interval = per / rate
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    clients: queue.Queue[httpx.Client] = queue.Queue()
    for _ in range(OPEN_LOOP_CLIENTS):
        client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        client.get(url.split("/api/", 1)[0] + "/healthz")  # the connection is open before the clock
        clients.put(client)

    def send(body: bytes, due: float) -> None:
        nonlocal errors
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        client = clients.get()
        answer: httpx.Response | None = None
        try:
            answer = client.post(url, content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError:
            pass  # counted as an error below
        finally:
            clients.put(client)
        spent = time.perf_counter() - due  # from the scheduled send: waiting for a free client counts
        with lock:
            latencies.append(spent)
            if answer is None or answer.status_code != 200:
                errors += 1
            if on_answer is not None:
                on_answer(body, answer)

    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=OPEN_LOOP_CLIENTS) as pool:
            for i, body in enumerate(bodies):
                pool.submit(send, body, start + i * interval)
    finally:
        while not clients.empty():
            clients.get().close()
    return Phase(name, len(bodies) * per, time.perf_counter() - start, latencies, errors)


def _queue_drained(db: Path, timeout: float = 900.0) -> float:
    """Seconds until the analysis queue is empty (polled on the database file)."""
    deadline = time.monotonic() + timeout
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        while time.monotonic() < deadline:
            try:
                if conn.execute("SELECT count(*) FROM analysis_queue").fetchone()[0] == 0:
                    return time.perf_counter()
            except sqlite3.OperationalError:  # locked for a moment by the writer
                pass
            time.sleep(0.2)
    finally:
        conn.close()
    raise RuntimeError("分析队列在时限内没有处理完")


def _baseline(bodies: list[bytes], per: int, folder: Path) -> Phase:
    from yuqing.ingest import service
    from yuqing.ingest.store import PostWriter
    from yuqing.runtime import open_runtime
    from yuqing.settings import load_settings

    rt = open_runtime(load_settings(database_url=f"sqlite:///{folder}/baseline.db"))
    try:
        source, _token = service.add_source(rt, "webhook", None, name="基准推送")
        writer = PostWriter(rt.sessions, rt.settings, rt.clock)
        latencies = []
        start = time.perf_counter()
        for body in bodies:
            began = time.perf_counter()
            service.receive_webhook(rt, writer, source, body, "application/json")
            latencies.append(time.perf_counter() - began)
        return Phase(
            f"baseline: in-process receive_webhook, {per} posts/call",
            len(bodies) * per,
            time.perf_counter() - start,
            latencies,
            0,
        )
    finally:
        rt.close()


def run(path: Path, *, single: int = 3000, batched: int = 20_000, offered_seconds: float = 10.0) -> str:
    from yuqing.bench.web import _free_port, _start_server, _stop_server, _wait_healthy
    from yuqing.ingest import service
    from yuqing.runtime import open_runtime
    from yuqing.settings import load_settings

    offered = int(OFFERED_RATE * offered_seconds)
    posts = list(_posts(path, single + batched + 2 * offered))
    parts = {
        "single": posts[:single],
        "batched": posts[single : single + batched],
        "offered_single": posts[single + batched : single + batched + offered],
        "offered_batch": posts[single + batched + offered :],
    }
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-webhook-") as tmp:
        folder = Path(tmp)
        db = folder / "webhook.db"
        url = f"sqlite:///{db}"
        rt = open_runtime(load_settings(database_url=url))
        try:
            source, token = service.add_source(rt, "webhook", None, name="压测推送", platform="weibo")
        finally:
            rt.close()
        assert token is not None
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start_server(url, port, folder / "serve.log", analysis=True)
        phases: list[Phase] = []
        try:
            _wait_healthy(base, server, folder / "serve.log")
            hook = f"{base}/api/v1/webhooks/{source.id}"
            first = time.perf_counter()
            singles = [orjson.dumps(p) for p in parts["single"]]
            phases.append(_closed_loop(f"single post, {SINGLE_CLIENTS} clients", hook, token, singles, 1, 16))
            batches = _chunks(parts["batched"], BATCH)
            phases.append(
                _closed_loop(f"batches of {BATCH}, {BATCH_CLIENTS} clients", hook, token, batches, BATCH, 4)
            )
            phases.append(
                _open_loop(
                    f"offered {OFFERED_RATE:,.0f} posts/s, single",
                    hook,
                    token,
                    [orjson.dumps(p) for p in parts["offered_single"]],
                    1,
                    OFFERED_RATE,
                )
            )
            phases.append(
                _open_loop(
                    f"offered {OFFERED_RATE:,.0f} posts/s, batches of {OFFERED_BATCH}",
                    hook,
                    token,
                    _chunks(parts["offered_batch"], OFFERED_BATCH),
                    OFFERED_BATCH,
                    OFFERED_RATE,
                )
            )
            last = time.perf_counter()
            drained = _queue_drained(db)
            pipeline = Phase(
                f"pipeline: all analysed {drained - last:.1f} s after the last post",
                len(posts),
                drained - first,
                [],
                0,
            )
        finally:
            _stop_server(server)
        baseline = _baseline(_chunks(parts["batched"], BATCH), BATCH, folder)
    rows = [
        (
            p.name,
            f"{p.posts:,}",
            f"{p.rate:,.0f}",
            f"{p.percentile(0.5):.0f}" if p.latencies else "—",
            f"{p.percentile(0.95):.0f}" if p.latencies else "—",
            p.errors,
        )
        for p in [*phases, pipeline, baseline]
    ]
    table = format_table(("run", "posts", "posts/s", "p50 ms", "p95 ms", "errors"), rows)
    return (
        "Webhook ingestion into `yuqing serve` (SQLite, analysis on), CED posts; goal: 1,000 posts/s "
        "offered with p95 < 200 ms.\n" + table
    )
