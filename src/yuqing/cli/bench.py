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
