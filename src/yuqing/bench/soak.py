"""`yuqing bench soak`: a sustained rate of real posts through the webhook of a real `yuqing serve`,
analysed behind it, for minutes; every post counted.

Runs, each on a fresh database with the demo topics and one webhook source:
- baseline: the embedded default, `yuqing serve` on SQLite analysing in its own process;
- scaled: `yuqing serve` on PostgreSQL announcing stored posts on NATS JetStream, and N
  `yuqing worker` processes analysing them.

The posts are real CED rows (text, time, engagement), each with an id of its own, sent open-loop
(on schedule whether or not earlier requests were answered) in batches at the offered rate.
Afterwards the run waits for the backlog to drain and counts, from the database:

- lost: accepted by the webhook (HTTP 200) but not stored, or stored but never analysed;
- analysed twice: what the workers say they analysed (their heartbeats) beyond the distinct posts
  analysed (each post's analysis is keyed by its id, so a second analysis would be swallowed, not
  seen: the workers' own counts are what tell);
- arrival → graded: per post, from the webhook storing it (`fetched_at`) to the commit of the
  batch that analysed it and regraded its event (`analysed_at`);
- the backlog (posts stored, not yet analysed), sampled every few seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, func, select

from yuqing.bench.common import format_table

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 5.0
OPEN_LOOP_CLIENTS = 64
DRAIN_TIMEOUT = 900.0


@dataclass
class Soak:
    name: str
    sent: int = 0
    # what the webhook answered, summed over its answers (HTTP 200)
    new: int = 0
    duplicate: int = 0
    near_duplicate: int = 0
    rejected: int = 0
    # posts of requests that failed (not HTTP 200): the sender knows they were not taken
    refused: int = 0
    stored: int = 0
    analysed: int = 0
    counted_by_workers: int | None = None
    waits: list[float] = field(default_factory=list)
    # (seconds since the first post, backlog, analysed so far)
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    send_seconds: float = 0.0
    drain_seconds: float = 0.0
    request_p95_ms: float = 0.0

    @property
    def lost(self) -> int:
        """Posts the webhook said it stored (new or near-duplicate) that are not stored, and
        stored posts that were never analysed."""
        return (self.new + self.near_duplicate - self.stored) + (self.stored - self.analysed)

    @property
    def twice(self) -> int | None:
        if self.counted_by_workers is None:
            return None
        return max(0, self.counted_by_workers - self.analysed)

    def percentile(self, q: float) -> float:
        if not self.waits:
            return float("nan")
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


def _bodies(path: Path, rate: int, seconds: float, batch: int, prefix: str) -> list[bytes]:
    from yuqing.bench.webhook import _chunks, _posts

    count = int(rate * seconds)
    posts = [{**p, "id": f"{prefix}-{p['id']}"} for p in _posts(path, count)]
    return _chunks(posts, batch)


class _Sampler(threading.Thread):
    """Backlog and analysed counts every `SAMPLE_SECONDS`, read on a connection of its own."""

    def __init__(self, url: str, start: float) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self._engine = create_engine(url)
        self._start = start
        self._halt = threading.Event()
        self.samples: list[tuple[float, int, int]] = []

    def read(self) -> tuple[int, int]:
        from yuqing.analysis.models import AnalysisQueue, PostAnalysis

        with self._engine.connect() as conn:
            backlog = conn.execute(select(func.count()).select_from(AnalysisQueue)).scalar_one()
            analysed = conn.execute(select(func.count()).select_from(PostAnalysis)).scalar_one()
        return int(backlog), int(analysed)

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_SECONDS):
            try:
                backlog, analysed = self.read()
            except Exception:  # a locked SQLite file for a moment: the next sample reads it
                log.debug("soak sample skipped", exc_info=True)
                continue
            self.samples.append((time.perf_counter() - self._start, backlog, analysed))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)
        self._engine.dispose()


def _setup(url: str) -> tuple[int, str]:
    """Demo topics and a webhook source on a fresh database: (source id, token)."""
    from yuqing.analysis import topics
    from yuqing.demo import DEMO_GROUPS, DEMO_TOPICS
    from yuqing.ingest import service
    from yuqing.runtime import open_runtime
    from yuqing.settings import load_settings

    rt = open_runtime(load_settings(database_url=url, import_worker=False))
    try:
        for name, (kind, words) in DEMO_GROUPS.items():
            topics.set_word_group(rt, name, words, kind)
        for name, rule, unit in DEMO_TOPICS:
            topics.add_topic(rt, name, rule, unit)
        source, token = service.add_source(rt, "webhook", None, name="持续压测推送", platform="weibo")
    finally:
        rt.close()
    assert token is not None
    return source.id, token


def _count(url: str, soak: Soak, prefix: str) -> None:
    """Stored and analysed posts of this run, and each analysed post's wait."""
    from yuqing.analysis.models import PostAnalysis
    from yuqing.ingest.models import Post

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            soak.stored = int(
                conn.execute(
                    select(func.count()).select_from(Post).where(Post.external_id.like(f"{prefix}-%"))
                ).scalar_one()
            )
            rows = conn.execute(
                select(Post.fetched_at, PostAnalysis.analysed_at)
                .join(PostAnalysis, PostAnalysis.post_id == Post.id)
                .where(Post.external_id.like(f"{prefix}-%"))
            ).all()
    finally:
        engine.dispose()
    soak.analysed = len(rows)
    soak.waits = [max(0.0, (_aware(done) - _aware(came)).total_seconds()) for came, done in rows]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _send(soak: Soak, url: str, token: str, bodies: list[bytes], per: int, rate: float) -> None:
    """Open loop (`yuqing bench webhook`'s sender); what each answer says was stored is summed
    into `soak`."""
    from yuqing.bench.webhook import _open_loop

    def heard(body: bytes, answer: Any) -> None:
        count = len(orjson.loads(body))
        soak.sent += count
        if answer is None or answer.status_code != 200:
            soak.refused += count
            return
        counts = orjson.loads(answer.content)
        soak.new += int(counts["new"])
        soak.duplicate += int(counts["duplicate"])
        soak.near_duplicate += int(counts["near_duplicate"])
        soak.rejected += int(counts["rejected"])

    phase = _open_loop(soak.name, url, token, bodies, per, rate, on_answer=heard)
    soak.request_p95_ms = phase.percentile(0.95) if phase.latencies else 0.0


def _soak(
    name: str,
    url: str,
    bodies: list[bytes],
    batch: int,
    rate: int,
    *,
    prefix: str,
    nats_url: str | None,
    workers: int,
    folder: Path,
) -> Soak:
    from yuqing.bench.web import _free_port, _start_server, _stop_server, _wait_healthy

    source_id, token = _setup(url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = folder / f"{prefix}-serve.log"
    # With NATS, `yuqing serve` stores and announces; the workers analyse.
    extra = {"YUQING_NATS_URL": nats_url} if nats_url else {}
    server = _start_server(url, port, log, analysis=True, extra_env=extra)
    spawned: list[subprocess.Popen[bytes]] = []
    soak = Soak(name)
    try:
        _wait_healthy(base, server, log)
        if nats_url:
            env = {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")}
            env |= {"YUQING_DATABASE_URL": url, "YUQING_NATS_URL": nats_url}
            for n in range(workers):
                with (folder / f"{prefix}-worker{n}.log").open("wb") as out:
                    spawned.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "yuqing", "worker"],
                            env=env,
                            cwd=folder,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
            _wait_for_workers(url, workers, spawned)
        start = time.perf_counter()
        sampler = _Sampler(url, start)
        sampler.start()
        try:
            _send(soak, f"{base}/api/v1/webhooks/{source_id}", token, bodies, batch, float(rate))
            soak.send_seconds = time.perf_counter() - start
            deadline = time.monotonic() + DRAIN_TIMEOUT
            last = time.perf_counter()
            while time.monotonic() < deadline:
                backlog, _ = sampler.read()
                if backlog == 0:
                    break
                if any(p.poll() is not None for p in spawned) or server.poll() is not None:
                    raise RuntimeError("a worker or the server exited during the soak")
                time.sleep(0.5)
            soak.drain_seconds = time.perf_counter() - last
        finally:
            sampler.stop()
        soak.samples = sampler.samples
        if nats_url:
            soak.counted_by_workers = _worker_total(url)
    finally:
        for process in spawned:
            process.send_signal(signal.SIGTERM)
        for process in spawned:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        _stop_server(server)
    _count(url, soak, prefix)
    return soak


def _wait_for_workers(url: str, count: int, spawned: list[subprocess.Popen[bytes]]) -> None:
    """Until every worker has loaded its models and written its first heartbeat."""
    from yuqing.analysis import stream
    from yuqing.runtime import open_runtime
    from yuqing.settings import load_settings

    rt = open_runtime(load_settings(database_url=url, import_worker=False))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(stream.worker_rows(rt)) >= count:
                return
            if any(p.poll() is not None for p in spawned):
                raise RuntimeError("a worker exited while starting")
            time.sleep(0.2)
    finally:
        rt.close()
    raise RuntimeError("the workers did not start in time")


def _worker_total(url: str) -> int:
    """What the workers say they analysed, once their heartbeats caught up with the commits."""
    from yuqing.analysis import stream
    from yuqing.analysis.models import PostAnalysis
    from yuqing.runtime import open_runtime
    from yuqing.settings import load_settings

    rt = open_runtime(load_settings(database_url=url, import_worker=False))
    try:
        with rt.sessions() as session:
            analysed = session.scalar(select(func.count()).select_from(PostAnalysis)) or 0
        settle = time.monotonic() + 15
        total = sum(int(w["analysed"]) for w in stream.worker_rows(rt))
        while total < analysed and time.monotonic() < settle:
            time.sleep(0.2)
            total = sum(int(w["analysed"]) for w in stream.worker_rows(rt))
        return total
    finally:
        rt.close()


def _backlog_rows(soak: Soak) -> list[tuple[str, str, str, str]]:
    """Per minute of the run: the largest and last backlog sampled, and posts analysed in it."""
    rows: list[tuple[str, str, str, str]] = []
    if not soak.samples:
        return rows
    last_minute = int(soak.samples[-1][0] // 60)
    before = 0
    for minute in range(last_minute + 1):
        inside = [s for s in soak.samples if int(s[0] // 60) == minute]
        if not inside:
            continue
        analysed = inside[-1][2]
        rows.append(
            (
                f"{minute}–{minute + 1} min",
                f"{max(s[1] for s in inside):,}",
                f"{inside[-1][1]:,}",
                f"{(analysed - before) / 60:,.0f}",
            )
        )
        before = analysed
    return rows


def measure(
    path: Path,
    *,
    rate: int,
    seconds: float,
    baseline_seconds: float,
    batch: int,
    workers: int,
    postgres: str,
    nats_url: str,
) -> list[Soak]:
    """The embedded baseline, then the scaled run; each on a fresh database."""
    from yuqing.bench.scale import _delete_stream, _drop_schema, _pg_schema

    results: list[Soak] = []
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-soak-") as tmp:
        folder = Path(tmp)
        bodies = _bodies(path, rate, baseline_seconds, batch, "embedded")
        results.append(
            _soak(
                "baseline: embedded, yuqing serve on SQLite",
                f"sqlite:///{folder}/soak.db",
                bodies,
                batch,
                rate,
                prefix="embedded",
                nats_url=None,
                workers=0,
                folder=folder,
            )
        )
        bodies = _bodies(path, rate, seconds, batch, "scaled")
        schema, url = _pg_schema(postgres)
        _delete_stream(nats_url)
        try:
            results.append(
                _soak(
                    f"PostgreSQL + JetStream, {workers} worker(s)",
                    url,
                    bodies,
                    batch,
                    rate,
                    prefix="scaled",
                    nats_url=nats_url,
                    workers=workers,
                    folder=folder,
                )
            )
        finally:
            _delete_stream(nats_url)
            _drop_schema(postgres, schema)
    return results


def run(
    path: Path,
    *,
    rate: int = 1000,
    seconds: float = 600.0,
    baseline_seconds: float = 120.0,
    batch: int = 50,
    workers: int = 2,
    postgres: str,
    nats_url: str,
) -> str:
    results = measure(
        path,
        rate=rate,
        seconds=seconds,
        baseline_seconds=baseline_seconds,
        batch=batch,
        workers=workers,
        postgres=postgres,
        nats_url=nats_url,
    )
    return format_results(results, rate=rate, batch=batch, path=path)


def format_results(results: list[Soak], *, rate: int, batch: int, path: Path) -> str:
    """The table of both runs and the scaled run's backlog per minute."""
    table = format_table(
        [
            "run",
            "seconds",
            "sent",
            "stored",
            "merged / rejected / refused",
            "analysed",
            "lost",
            "analysed twice",
            "p50 ms",
            "p95 ms",
            "max backlog",
            "drained after s",
            "request p95 ms",
        ],
        [
            (
                r.name,
                f"{r.send_seconds:.0f}",
                f"{r.sent:,}",
                f"{r.stored:,}",
                f"{r.duplicate:,} / {r.rejected:,} / {r.refused:,}",
                f"{r.analysed:,}",
                r.lost,
                "—" if r.twice is None else r.twice,
                f"{r.percentile(0.5):.0f}",
                f"{r.percentile(0.95):.0f}",
                f"{max((s[1] for s in r.samples), default=0):,}",
                f"{r.drain_seconds:.1f}",
                f"{r.request_p95_ms:.0f}",
            )
            for r in results
        ],
    )
    scaled = results[-1]
    backlog = format_table(["minute", "max backlog", "backlog at end", "analysed/s"], _backlog_rows(scaled))
    cores = os.cpu_count() or 1
    return (
        f"yuqing bench soak — {path.name}: {rate:,} posts/s offered through the webhook in batches "
        f"of {batch}, demo topics; {cores} cores, PostgreSQL and NATS on this machine\n\n{table}\n\n"
        f"Backlog of the scaled run, per minute (sampled every {SAMPLE_SECONDS:.0f} s):\n\n{backlog}\n\n"
        "p50/p95: from the webhook storing a post to the commit that analysed it and regraded its "
        "event. merged: copies the webhook recorded as sightings of a stored post; rejected: rows "
        "it dead-lettered; refused: posts of requests not answered 200. lost: posts the webhook "
        "said it stored that are not stored, or stored posts not analysed; analysed "
        "twice: the workers' own counts beyond the distinct posts analysed. "
        "Targets: backlog bounded, p95 < 2,000 ms, zero lost, zero analysed twice."
    )
