"""`yuqing bench scale`: the analysis of the CED file embedded, on PostgreSQL, and in `yuqing worker`
processes woken by NATS JetStream, in one table.

Runs, each on a fresh database with the demo topics and the first N rows of the CED file stored
first (the storing is not timed):
- baseline: `yuqing analyze` in one process on SQLite (the embedded default);
- `yuqing analyze` in one process on PostgreSQL;
- for each worker count: the stored posts announced on a JetStream stream of its own, then that
  many `yuqing worker` processes started; posts/s from the first analysed batch to an empty
  backlog, and how many posts each worker analysed.

Each PostgreSQL run uses a schema of its own, dropped afterwards; the stream is deleted before and
after each run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from yuqing.bench.common import format_table
from yuqing.bench.pipeline import _fresh, _import, _lines
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import load_settings


def _prepare(database_url: str, data: bytes) -> Runtime:
    from yuqing.analysis import topics
    from yuqing.demo import DEMO_GROUPS, DEMO_TOPICS

    rt = open_runtime(load_settings(database_url=database_url, import_worker=False))
    for name, (kind, words) in DEMO_GROUPS.items():
        topics.set_word_group(rt, name, words, kind)
    for name, rule, unit in DEMO_TOPICS:
        topics.add_topic(rt, name, rule, unit)
    _import(rt, data)
    return rt


def _analyse_in_process(rt: Runtime) -> dict[str, Any]:
    from yuqing.analysis.pipeline import AnalysisPipeline

    pipeline = AnalysisPipeline(rt)
    start = time.perf_counter()
    counts = pipeline.run()
    seconds = time.perf_counter() - start
    return {"posts": counts.posts, "seconds": seconds, "workers": "1 (in process)"}


def _delete_stream(nats_url: str) -> None:
    async def go() -> None:
        import nats
        from nats.js.errors import NotFoundError

        from yuqing.analysis.stream import STREAM

        nc = await nats.connect(nats_url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
        try:
            await nc.jetstream().delete_stream(STREAM)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(go())


def _with_workers(rt: Runtime, database_url: str, nats_url: str, count: int) -> dict[str, Any]:
    from yuqing.analysis import stream
    from yuqing.analysis.models import AnalysisQueue, PostAnalysis

    _delete_stream(nats_url)
    link = stream.NatsLink(nats_url)
    try:
        start = time.perf_counter()
        announced = 0
        while sent := stream.announce(rt, link, limit=20_000):
            announced += sent
        announce_seconds = time.perf_counter() - start
    finally:
        link.close()
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": database_url,
        "YUQING_NATS_URL": nats_url,
        "YUQING_ANALYSIS_TICK_SECONDS": "0.2",
    }
    with tempfile.TemporaryDirectory() as cwd:
        spawned = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "yuqing", "worker"],
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]
        first: tuple[float, int] | None = None
        try:
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:
                with rt.sessions() as session:
                    analysed = session.scalar(select(func.count()).select_from(PostAnalysis)) or 0
                    backlog = session.scalar(select(func.count()).select_from(AnalysisQueue)) or 0
                now = time.perf_counter()
                if analysed and first is None:
                    first = (now, analysed)
                if backlog == 0:
                    break
                if any(p.poll() is not None for p in processes):
                    raise RuntimeError("a worker exited before the backlog was empty")
                time.sleep(0.1)
            end = time.perf_counter()
            # the heartbeat follows the commit: wait for the workers to report what they did
            settle = time.monotonic() + 10
            per_worker = sorted((w["analysed"] for w in stream.worker_rows(rt)), reverse=True)
            while sum(per_worker) < analysed and time.monotonic() < settle:
                time.sleep(0.1)
                per_worker = sorted((w["analysed"] for w in stream.worker_rows(rt)), reverse=True)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    _delete_stream(nats_url)
    if first is None or analysed == first[1]:
        first = (spawned, 0)  # all in the first batch: counted from the start, loading included
    return {
        "posts": analysed - first[1],
        "seconds": end - first[0],
        "workers": f"{count}（各分析 {'/'.join(str(n) for n in per_worker) or '—'} 条）",
        "announce": f"{announced:,} in {announce_seconds:.1f} s",
    }


def _pg_schema(server: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return schema, f"{server}?options=-csearch_path%3D{schema}"


def _drop_schema(server: str, schema: str) -> None:
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def run(path: Path, *, rows: int, postgres: str, nats_url: str, workers: tuple[int, ...] = (1, 2)) -> str:
    data = _lines(path, 0, rows)
    results: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rt = _fresh(tmp)
        _import(rt, data)
        results.append(("baseline: yuqing analyze, SQLite (embedded)", _analyse_in_process(rt)))
        rt.close()
    schema, url = _pg_schema(postgres)
    try:
        rt = _prepare(url, data)
        results.append(("yuqing analyze, PostgreSQL", _analyse_in_process(rt)))
        rt.close()
    finally:
        _drop_schema(postgres, schema)
    for count in workers:
        schema, url = _pg_schema(postgres)
        try:
            rt = _prepare(url, data)
            results.append(
                (f"PostgreSQL + JetStream, {count} worker(s)", _with_workers(rt, url, nats_url, count))
            )
            rt.close()
        finally:
            _drop_schema(postgres, schema)
    base = results[0][1]["posts"] / results[0][1]["seconds"]
    table = format_table(
        ["run", "posts", "seconds", "posts/s", "vs baseline", "workers", "announced"],
        [
            (
                name,
                r["posts"],
                r["seconds"],
                r["posts"] / r["seconds"],
                f"{r['posts'] / r['seconds'] / base:.2f}x",
                r["workers"],
                r.get("announce", "—"),
            )
            for name, r in results
        ],
    )
    cores = os.cpu_count() or 1
    return (
        f"yuqing bench scale — {path.name}: first {rows:,} rows, demo topics; {cores} cores, "
        f"PostgreSQL and NATS on this machine\n\n{table}\n\n"
        "Workers: posts/s from the first committed batch to an empty backlog (worker start-up and "
        "model loading excluded). One worker analyses at a time (the pipeline lease); the others "
        "stand by to take over. Partition-parallel analysis is not built yet (docs/scale.md)."
    )
