"""`yuqing bench ...`: benchmarks that print a table beside a baseline measured in the same run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from yuqing.cli.common import fail, user_errors
from yuqing.demo import find_ced_file

app = typer.Typer(help="基准测试：真实代码、真实数据，同一次运行中测量对照基线。", no_args_is_help=True)


@app.command("ingest")
@user_errors
def bench_ingest(
    data: Annotated[
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    rows: Annotated[int | None, typer.Option(help="只导入前 N 行。")] = None,
    baseline_rows: Annotated[int, typer.Option(help="逐行导入基线所导入的行数。")] = 20_000,
    database_url: Annotated[
        str | None, typer.Option(help="同时导入这个 PostgreSQL 数据库（新建一个 schema，测完删除）。")
    ] = None,
) -> None:
    """将 CED 文件导入全新的 SQLite 数据库（加 --database-url 时也导入 PostgreSQL）：
    测量每秒行数和峰值内存，并与基线对比。"""
    from yuqing.bench import ingest

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(ingest.run(path, rows=rows, baseline_rows=baseline_rows, database_url=database_url))


@app.command("dedup")
@user_errors
def bench_dedup(
    data: Annotated[
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    pairs: Annotated[int, typer.Option(help="每种改写方式生成的副本数。")] = 2000,
) -> None:
    """在真实微博文本上测试近似重复检测：各改写方式的召回率、精确率和速度；
    对比 MinHash LSH 与 SimHash（汉明距离 3）。"""
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
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    rows: Annotated[int, typer.Option(help="批量运行中导入并分析的行数。")] = 100_000,
    rate: Annotated[int, typer.Option(help="定速运行中每秒送入的信息数。")] = 1000,
    seconds: Annotated[float, typer.Option(help="定速运行的时长（秒）。")] = 30.0,
    baseline_rows: Annotated[int, typer.Option(help="jieba+SnowNLP 基线处理的行数。")] = 3000,
) -> None:
    """分析流水线端到端测试：每秒信息数、峰值内存，以及定速送入时从到达到定级的 p95 耗时。"""
    from yuqing.bench import pipeline

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(pipeline.run(path, rows=rows, rate=rate, steady_seconds=seconds, baseline_rows=baseline_rows))


@app.command("scale")
@user_errors
def bench_scale(
    data: Annotated[
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    rows: Annotated[int, typer.Option(help="导入并分析的行数。")] = 100_000,
    postgres: Annotated[
        str, typer.Option(help="PostgreSQL 地址（每次运行建一个临时 schema）。")
    ] = "postgresql+psycopg://root@127.0.0.1:5432/test",
    nats_url: Annotated[
        str, typer.Option("--nats", help="带 JetStream 的 NATS 地址。")
    ] = "nats://127.0.0.1:4222",
    workers: Annotated[list[int] | None, typer.Option("--workers", help="分析进程数，可重复。")] = None,
) -> None:
    """扩展测试：嵌入式 SQLite、PostgreSQL 单进程，以及 PostgreSQL + NATS JetStream
    下 1、2 个分析进程的每秒信息数。"""
    from yuqing.bench import scale

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    counts = tuple(workers or (1, 2))
    typer.echo(scale.run(path, rows=rows, postgres=postgres, nats_url=nats_url, workers=counts))


@app.command("soak")
@user_errors
def bench_soak(
    data: Annotated[
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    rate: Annotated[int, typer.Option(help="每秒经推送接口送入的信息数。")] = 1000,
    seconds: Annotated[
        float, typer.Option(help="扩展模式（PostgreSQL + NATS）持续送入的时长（秒）。")
    ] = 600.0,
    baseline_seconds: Annotated[float, typer.Option(help="嵌入式基线持续送入的时长（秒）。")] = 120.0,
    batch: Annotated[int, typer.Option(help="每个推送请求所带的信息数。")] = 50,
    workers: Annotated[int, typer.Option(help="分析进程数。")] = 2,
    postgres: Annotated[
        str, typer.Option(help="PostgreSQL 地址（建一个临时 schema，测完删除）。")
    ] = "postgresql+psycopg://root@127.0.0.1:5432/test",
    nats_url: Annotated[
        str, typer.Option("--nats", help="带 JetStream 的 NATS 地址。")
    ] = "nats://127.0.0.1:4222",
) -> None:
    """持续压测：以固定速率经推送接口送入真实信息若干分钟，分析进程在后台处理；
    统计丢失、重复分析、从到达到定级的 p95 和积压变化，并与嵌入式基线对比。"""
    from yuqing.bench import soak

    path = data or find_ced_file()
    if path is None:
        fail("找不到 ced_dev.jsonl.gz，请用 --data 指定")
        return
    typer.echo(
        soak.run(
            path,
            rate=rate,
            seconds=seconds,
            baseline_seconds=baseline_seconds,
            batch=batch,
            workers=workers,
            postgres=postgres,
            nats_url=nats_url,
        )
    )


@app.command("analysis")
@user_errors
def bench_analysis(
    data: Annotated[
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    rules: Annotated[int, typer.Option(help="匹配器压测中的专题规则数。")] = 5000,
    posts: Annotated[int, typer.Option(help="匹配器压测中参与匹配的信息数。")] = 20_000,
) -> None:
    """各分析环节的吞吐量，以及在开发集上的质量。"""
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
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    deadlines: Annotated[int, typer.Option(help="数据库中未完成的时限数。")] = 100_000,
) -> None:
    """对未完成的时限执行时限巡检，并与逐行处理的基线对比。"""
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
        Path | None, typer.Option(help="CED 文件（默认：../shared/data/events/ced_dev.jsonl.gz）。")
    ] = None,
    posts: Annotated[int, typer.Option(help="用 CED 文本构建的数据库中的信息数。")] = 1_000_000,
    requests: Annotated[int, typer.Option(help="向控制台页面发送的请求数。")] = 200,
    concurrency: Annotated[int, typer.Option(help="同时进行的请求数。")] = 4,
    db: Annotated[
        Path | None, typer.Option(help="SQLite 文件：已存在则复用，否则在该处构建（默认：临时文件）。")
    ] = None,
) -> None:
    """由真实的 `yuqing serve` 在大型数据库上提供控制台页面：测量每个页面的 p50/p95，
    并与同一数据上朴素的深 OFFSET 分页和 LIKE 查询对比。"""
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
