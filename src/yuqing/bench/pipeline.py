"""`yuqing bench pipeline`: stored post → graded event, on the CED cascades, into SQLite.

Three runs, each in its own process:
- throughput: the first N rows imported, then the whole analysis pipeline over them;
- latency: posts arrive at a steady rate (default 1,000/s) while the pipeline runs beside the
  writer, as in `yuqing serve`; for each post, the time from its commit to the commit of its
  analysis, event and grade;
- baseline: what common open-source tools do — jieba segmentation, keyword `in` tests, SnowNLP
  sentiment, one database write per post (no events, no grades).
"""

from __future__ import annotations

import bisect
import gzip
import io
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from yuqing.bench.common import format_table, run_isolated
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import load_settings


def _lines(path: Path, start: int, count: int) -> bytes:
    out = io.BytesIO()
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
        for number, line in enumerate(handle):
            if number < start:
                continue
            if number >= start + count:
                break
            out.write(line)
    return out.getvalue()


def _fresh(tmp: str) -> Runtime:
    from yuqing.analysis import topics
    from yuqing.demo import DEMO_GROUPS, DEMO_TOPICS

    rt = open_runtime(load_settings(database_url=f"sqlite:///{tmp}/bench.db", import_worker=False))
    for name, (kind, words) in DEMO_GROUPS.items():
        topics.set_word_group(rt, name, words, kind)
    for name, rule, unit in DEMO_TOPICS:
        topics.add_topic(rt, name, rule, unit)
    return rt


def _import(rt: Runtime, data: bytes) -> None:
    from yuqing.cli.progress import Progress
    from yuqing.ingest import service
    from yuqing.ingest.store import PostWriter

    with Progress("基准数据导入", data.count(b"\n"), unit="行") as bar:
        service.import_data(
            rt,
            PostWriter(rt.sessions, rt.settings, rt.clock),
            data,
            origin="bench.jsonl",
            file_format="jsonl",
            source_name="bench",
            platform="weibo",
            on_batch=lambda batch: bar.advance(batch.read),
        )


def _throughput(path: Path, rows: int) -> dict[str, Any]:
    from yuqing.analysis.models import Event
    from yuqing.analysis.pipeline import AnalysisPipeline

    with tempfile.TemporaryDirectory() as tmp:
        rt = _fresh(tmp)
        _import(rt, _lines(path, 0, rows))
        from yuqing.cli.progress import Progress

        start = time.perf_counter()
        with Progress("基准分析", rows) as bar:
            counts = AnalysisPipeline(rt).run(on_batch=bar.advance)
        seconds = time.perf_counter() - start
        with rt.sessions() as session:
            events = session.scalar(select(func.count()).select_from(Event)) or 0
            graded = (
                session.scalar(select(func.count()).select_from(Event).where(Event.grade_code.is_not(None)))
                or 0
            )
        rt.close()
    return {
        "posts": counts.posts,
        "seconds": seconds,
        "events": events,
        "graded": graded,
        "stages": counts.as_dict()["stage_seconds"],
    }


def _latency(path: Path, rate: int, seconds: float, offset: int) -> dict[str, Any]:
    from yuqing.analysis.pipeline import AnalysisPipeline
    from yuqing.ingest import service
    from yuqing.ingest.files import read_rows
    from yuqing.ingest.models import Post
    from yuqing.ingest.records import RawItem, Rejected
    from yuqing.ingest.store import PostWriter

    with tempfile.TemporaryDirectory() as tmp:
        rt = _fresh(tmp)
        items: list[RawItem | Rejected] = list(read_rows(_lines(path, offset, int(rate * seconds)), "jsonl"))
        writer = PostWriter(rt.sessions, rt.settings, rt.clock)
        source_id = service.ensure_file_source(rt, "stream", "weibo")
        with rt.sessions() as session:
            context = service.source_context(service.find_source(session, source_id), rt.settings)
        arrivals: list[tuple[int, float]] = []  # (largest post id committed, when)
        fed = threading.Event()

        def feed() -> None:
            per_tick = max(1, rate // 20)
            due = time.perf_counter()
            for start in range(0, len(items), per_tick):
                writer.write(context, items[start : start + per_tick])
                with rt.sessions() as session:
                    arrivals.append(
                        (int(session.scalar(select(func.max(Post.id))) or 0), time.perf_counter())
                    )
                due += per_tick / rate
                time.sleep(max(0.0, due - time.perf_counter()))
            fed.set()

        pipeline = AnalysisPipeline(rt)
        commits: list[tuple[int, float]] = []  # (last post id analysed, when committed)
        feeder = threading.Thread(target=feed)
        began = time.perf_counter()
        feeder.start()
        while True:
            counts = pipeline.run(limit=1000)
            if counts.posts:
                commits.append((pipeline.cursor, time.perf_counter()))
            elif fed.is_set() and (not arrivals or pipeline.cursor >= arrivals[-1][0]):
                break
            else:
                time.sleep(0.005)
        elapsed = time.perf_counter() - began
        feeder.join()
        rt.close()
    waits = []
    commit_ids = [c[0] for c in commits]
    previous = 0
    for top, arrived in arrivals:
        for post_id in range(previous + 1, top + 1):
            done = commits[bisect.bisect_left(commit_ids, post_id)][1]
            waits.append(done - arrived)
        previous = max(previous, top)
    waits.sort()
    return {
        "posts": len(waits),
        "seconds": elapsed,
        "p50_ms": waits[len(waits) // 2] * 1000 if waits else 0.0,
        "p95_ms": waits[int(len(waits) * 0.95)] * 1000 if waits else 0.0,
    }


def _baseline(path: Path, rows: int) -> dict[str, Any]:
    import logging

    import jieba
    import orjson
    from snownlp import SnowNLP
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

    from yuqing.demo import DEMO_GROUPS, DEMO_TOPICS

    jieba.setLogLevel(logging.WARNING)
    words = {w for _kind, group in DEMO_GROUPS.values() for w in group}
    texts = [orjson.loads(line).get("text") or "" for line in _lines(path, 0, rows).splitlines()]
    texts = [t for t in texts if t]
    with tempfile.TemporaryDirectory() as tmp:
        rt = open_runtime(load_settings(database_url=f"sqlite:///{tmp}/baseline.db"))
        meta = MetaData()
        table = Table(
            "baseline_analysis",
            meta,
            Column("id", Integer, primary_key=True),
            Column("text", Text),
            Column("sentiment", Float),
            Column("topics", String(200)),
        )
        meta.create_all(rt.engine)
        start = time.perf_counter()
        for text in texts:
            tokens = set(jieba.lcut(text))
            hits = [name for name, _rule, _unit in DEMO_TOPICS if tokens & words]
            score = SnowNLP(text).sentiments
            with rt.engine.begin() as conn:  # one write per post
                conn.execute(table.insert().values(text=text, sentiment=score, topics=",".join(hits)))
        seconds = time.perf_counter() - start
        rt.close()
    return {"posts": len(texts), "seconds": seconds}


# Posts/s of the whole file is compared with this many rows: growing events must not slow it down.
REFERENCE_ROWS = 100_000


def run(path: Path, *, rows: int, rate: int, steady_seconds: float, baseline_rows: int) -> str:
    fast = run_isolated(_throughput, path, rows)
    small = run_isolated(_throughput, path, REFERENCE_ROWS) if rows > REFERENCE_ROWS else None
    # the steady stream is taken after the batch run's rows, within the file (a fresh database)
    steady = run_isolated(_latency, path, rate, steady_seconds, min(rows, 300_000))
    slow = run_isolated(_baseline, path, baseline_rows)
    table = format_table(
        ["run", "posts", "seconds", "posts/s", "peak MB", "p50 ms", "p95 ms"],
        [
            [
                "yuqing pipeline (batch)",
                fast["posts"],
                fast["seconds"],
                fast["posts"] / fast["seconds"],
                fast["peak_rss_mb"],
                "-",
                "-",
            ],
            *(
                [
                    [
                        f"yuqing pipeline (batch, first {REFERENCE_ROWS:,})",
                        small["posts"],
                        small["seconds"],
                        small["posts"] / small["seconds"],
                        small["peak_rss_mb"],
                        "-",
                        "-",
                    ]
                ]
                if small
                else []
            ),
            [
                f"yuqing pipeline at {rate:,}/s",
                steady["posts"],
                steady["seconds"],
                steady["posts"] / steady["seconds"],
                steady["peak_rss_mb"],
                steady["p50_ms"],
                steady["p95_ms"],
            ],
            [
                "baseline: jieba+SnowNLP, write per post",
                slow["posts"],
                slow["seconds"],
                slow["posts"] / slow["seconds"],
                slow["peak_rss_mb"],
                "-",
                "-",
            ],
        ],
    )
    stages = "  ".join(f"{k.split('.')[-1]} {v:.1f}s" for k, v in fast["stages"].items())
    growth = ""
    if small:
        ratio = (fast["posts"] / fast["seconds"]) / (small["posts"] / small["seconds"])
        growth = (
            f"posts/s on {rows:,} rows is {ratio:.0%} of the {REFERENCE_ROWS:,}-row run "
            f"(target: within 25%, no superlinear growth)\n"
        )
    return (
        f"yuqing bench pipeline — {path.name}: first {rows:,} rows, "
        f"then {rate:,} posts/s for {steady_seconds:.0f} s\n"
        f"fresh SQLite per run, demo topics; baseline on the first {baseline_rows:,} rows with text\n\n"
        f"{table}\n\nbatch run: {fast['events']:,} events, {fast['graded']:,} graded; stage time: {stages}\n"
        f"{growth}"
        f"targets: ≥ 5,000 posts/s end to end; p95 from arrival to graded event < 1,000 ms"
    )
