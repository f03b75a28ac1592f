"""`yuqing bench ...`: benchmarks that print a table beside a baseline measured in the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from yuqing.cli.common import fail, user_errors
from yuqing.demo import find_ced_file

app = typer.Typer(help="Benchmarks (real code, real data, a baseline in the same run).", no_args_is_help=True)


@app.command("ingest")
@user_errors
def bench_ingest(
    data: Annotated[
        Path | None, typer.Option(help="CED file (default: ../shared/data/events/ced_dev.jsonl.gz).")
    ] = None,
    rows: Annotated[int | None, typer.Option(help="Import only the first N rows.")] = None,
    baseline_rows: Annotated[int, typer.Option(help="Rows the row-by-row baseline imports.")] = 20_000,
) -> None:
    """Import the CED file into a fresh SQLite database: rows/s and peak memory vs a baseline."""
    from yuqing.bench import ingest

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(ingest.run(path, rows=rows, baseline_rows=baseline_rows))


@app.command("dedup")
@user_errors
def bench_dedup(
    data: Annotated[
        Path | None, typer.Option(help="CED file (default: ../shared/data/events/ced_dev.jsonl.gz).")
    ] = None,
    pairs: Annotated[int, typer.Option(help="Copies made per edit kind.")] = 2000,
) -> None:
    """Near-duplicate detection on real Weibo texts: recall per edit kind, precision, speed;
    MinHash LSH against SimHash at Hamming distance 3."""
    from yuqing.bench import dedup

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(dedup.run(path, pairs=pairs))


@app.command("pipeline")
@user_errors
def bench_pipeline(
    data: Annotated[
        Path | None, typer.Option(help="CED file (default: ../shared/data/events/ced_dev.jsonl.gz).")
    ] = None,
    rows: Annotated[int, typer.Option(help="Rows imported and analysed in the batch run.")] = 100_000,
    rate: Annotated[int, typer.Option(help="Posts per second in the steady run.")] = 1000,
    seconds: Annotated[float, typer.Option(help="Length of the steady run.")] = 30.0,
    baseline_rows: Annotated[int, typer.Option(help="Rows the jieba+SnowNLP baseline handles.")] = 3000,
) -> None:
    """The analysis pipeline end to end: posts/s, peak memory, p95 arrival-to-grade at a steady rate."""
    from yuqing.bench import pipeline

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(pipeline.run(path, rows=rows, rate=rate, steady_seconds=seconds, baseline_rows=baseline_rows))


@app.command("analysis")
@user_errors
def bench_analysis(
    data: Annotated[
        Path | None, typer.Option(help="CED file (default: ../shared/data/events/ced_dev.jsonl.gz).")
    ] = None,
    rules: Annotated[int, typer.Option(help="Topic rules in the matcher benchmark.")] = 5000,
    posts: Annotated[int, typer.Option(help="Posts matched in the matcher benchmark.")] = 20_000,
) -> None:
    """Each analysis stage's throughput and its quality on the dev splits."""
    from yuqing.bench import analysis

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    sentiment_dir = path.parent.parent / "sentiment"
    typer.echo(analysis.run(path, sentiment_dir, rules=rules, posts=posts))


@app.command("sweep")
@user_errors
def bench_sweep(
    data: Annotated[
        Path | None, typer.Option(help="CED file (default: ../shared/data/events/ced_dev.jsonl.gz).")
    ] = None,
    deadlines: Annotated[int, typer.Option(help="Open deadlines in the database.")] = 100_000,
) -> None:
    """The deadline sweep over open deadlines, beside a row-by-row baseline."""
    from yuqing.bench import sweep

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(sweep.run(path, count=deadlines))


@app.command("web")
@user_errors
def bench_web(
    data: Annotated[
        Path | None, typer.Option(help="CED file (default: ../shared/data/events/ced_dev.jsonl.gz).")
    ] = None,
    posts: Annotated[int, typer.Option(help="Posts in the database built from the CED texts.")] = 1_000_000,
    requests: Annotated[int, typer.Option(help="Requests sent to the console pages.")] = 200,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 4,
    db: Annotated[
        Path | None, typer.Option(help="SQLite file: reused if present, else built there (default: temp).")
    ] = None,
) -> None:
    """Console pages served by a real `yuqing serve` on a large database: p50/p95 per page beside
    naive deep-OFFSET and LIKE queries on the same data."""
    from yuqing.bench import web

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(web.run(path, posts=posts, requests=requests, concurrency=concurrency, db=db))


@app.command("webhook")
@user_errors
def bench_webhook(
    data: Annotated[
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    single: Annotated[int, typer.Option(help="逐条推送的信息数。")] = 3000,
    batched: Annotated[int, typer.Option(help="批量推送的信息数（每批 100 条）。")] = 20_000,
    offered_seconds: Annotated[float, typer.Option(help="按每秒 1,000 条定速推送的时长（秒）。")] = 10.0,
) -> None:
    """Webhook 推送压测：逐条与批量推送的每秒条数和 p95 延迟，以及分析流水线的处理速度。"""
    from yuqing.bench import webhook

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(webhook.run(path, single=single, batched=batched, offered_seconds=offered_seconds))
