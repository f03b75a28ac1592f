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

from sqlalchemy import create_engine, exists, func, select, text

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
    cpu, database = time.process_time(), _postgres_cpu()
    start = time.perf_counter()
    counts = pipeline.run()
    seconds = time.perf_counter() - start
    after = _postgres_cpu()
    return {
        "posts": counts.posts,
        "seconds": seconds,
        "workers": "1 (in process)",
        "cpu": time.process_time() - cpu,
        "database_cpu": None if database is None or after is None else after - database,
        "stages": counts.as_dict()["stage_seconds"],
    }


def _postgres_cpu() -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL processes (None where /proc does not
    show them: another OS, or a server elsewhere)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, seen = 0, False
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "comm").read_text().startswith("postgres"):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        seen = True
    return total / ticks if seen else None


def _partitions(rt: Runtime) -> tuple[list[int], int]:
    """Posts per clustering partition (topic × drill scope) after an analysis, largest first, and
    the posts that joined no event (analysed, but no partition's state needed)."""
    from yuqing.analysis.models import Event, PostAnalysis

    with rt.sessions() as session:
        rows = session.execute(
            select(Event.topic_id, Event.drill_id, func.count())
            .join(PostAnalysis, PostAnalysis.event_id == Event.id)
            .group_by(Event.topic_id, Event.drill_id)
        ).all()
        loose = session.scalar(
            select(func.count()).select_from(PostAnalysis).where(PostAnalysis.event_id.is_(None))
        )
    return sorted((int(n) for _, _, n in rows), reverse=True), int(loose or 0)


def _largest_load(sizes: list[int], workers: int) -> int:
    """The busiest worker's posts when partitions go to workers largest first, each to the least
    loaded worker (LPT: within 4/3 of the best assignment)."""
    loads = [0] * workers
    for size in sizes:
        loads[loads.index(min(loads))] += size
    return max(loads)


def model(measured: dict[str, Any], sizes: list[int], loose: int, counts: tuple[int, ...]) -> str:
    """Posts/s of N partition-parallel workers on N cores, from one process's measured costs.

    a: stateless CPU per post (topics, sentiment and incident model: any worker can do it);
    b: the rest of the worker's CPU per post (clustering, metrics, grading, the store's client side),
    done by the worker holding the post's partition; d: the database server's CPU per post.
    Workers each on a core of their own and the database on cores of its own (`db cores`):
    T(N) = min(posts / max(posts (a + b) / N, busiest worker's partition posts × b + posts a / N),
    db cores / d); the busiest worker's posts come from assigning the measured partitions to N
    workers largest first. A second column assumes every post is in a partition, with the
    measured partition shares (an office whose sources are searches for its topics)."""
    posts = measured["posts"]
    cpu = measured["cpu"]
    stages = measured["stages"]
    a = (stages.get("analysis.topics", 0.0) + stages.get("analysis.sentiment", 0.0)) / posts
    b = cpu / posts - a
    d = (measured["database_cpu"] or 0.0) / posts
    total = sum(sizes) + loose
    rows = []
    for n in counts:
        busiest = _largest_load(sizes, n)
        share = busiest / max(1, sum(sizes))
        db_cores = max(1, n // 4)
        db_bound = db_cores / d if d else float("inf")
        # this stream: the posts that join no event need no partition's state
        here, here_limit = _bound(total, (a + b) / n, (busiest * b + total * a / n) / total, db_bound)
        # were every post in a partition, with the partitions' shares as measured
        full, full_limit = _bound(total, (a + b) / n, share * b + a / n, db_bound)
        rows.append(
            (
                n,
                db_cores,
                f"{share:.0%}",
                f"{db_bound:,.0f}" if d else "—",
                f"{here:,.0f}",
                here_limit,
                f"{full:,.0f}",
                full_limit,
            )
        )
    shares = ", ".join(f"{n / total:.1%}" for n in sizes[:5])
    head = (
        f"measured on one process (PostgreSQL run): a = {a * 1e6:.0f} µs stateless CPU/post, "
        f"b = {b * 1e6:.0f} µs partition-bound CPU/post, d = {d * 1e6:.0f} µs database CPU/post; "
        f"{len(sizes)} partitions with events, largest shares of all posts {shares}; "
        f"{loose / total:.0%} of posts join no event (stateless only)"
    )
    table = format_table(
        [
            "workers",
            "db cores",
            "busiest worker's share",
            "db bound",
            "posts/s",
            "limit",
            "posts/s, all posts topiced",
            "limit",
        ],
        rows,
    )
    return f"{head}\n\n{table}"


def _bound(total: int, even: float, skewed: float, db_bound: float) -> tuple[float, str]:
    """Posts/s and what limits it: `even` and `skewed` are the busiest worker's CPU seconds per
    post of the stream with the work spread evenly and with whole partitions per worker."""
    worker_bound = 1.0 / max(even, skewed)
    if db_bound < worker_bound:
        return db_bound, "database"
    return worker_bound, "skew" if skewed > even * 1.0001 else "workers"


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
            # Cheap questions while the workers run (is anything analysed yet, is the queue
            # empty): counting 600,000 rows ten times a second took a third of a core from them.
            while time.monotonic() < deadline:
                with rt.sessions() as session:
                    if first is None and session.scalar(select(exists().select_from(PostAnalysis))):
                        counted = session.scalar(select(func.count()).select_from(PostAnalysis)) or 0
                        first = (time.perf_counter(), counted)
                    empty = not session.scalar(select(exists().select_from(AnalysisQueue)))
                if empty:
                    break
                if any(p.poll() is not None for p in processes):
                    raise RuntimeError("a worker exited before the backlog was empty")
                time.sleep(0.1)
            end = time.perf_counter()
            with rt.sessions() as session:
                analysed = session.scalar(select(func.count()).select_from(PostAnalysis)) or 0
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
        measured = _analyse_in_process(rt)
        results.append(("yuqing analyze, PostgreSQL", measured))
        sizes, loose = _partitions(rt)
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
        "stand by to take over. Partition-parallel analysis is not built yet (docs/scale.md).\n\n"
        "Model of partition-parallel workers, one core each, database on one core per four workers "
        "(docs/scale.md gives its assumptions):\n"
        f"{model(measured, sizes, loose, (1, 2, 8, 32))}\n\n"
        f"On this machine ({cores} cores shared by workers and database) the ceiling is "
        f"{_shared_ceiling(measured, cores):,.0f} posts/s, "
        f"{_shared_ceiling(measured, cores) / (measured['posts'] / measured['seconds']):.2f}x one process."
    )


def _shared_ceiling(measured: dict[str, Any], cores: int) -> float:
    """Posts/s if every core of this machine did nothing but analysis work and its database's."""
    per_post = (float(measured["cpu"]) + float(measured["database_cpu"] or 0.0)) / int(measured["posts"])
    return cores / per_post
