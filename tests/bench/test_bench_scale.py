"""`yuqing bench scale` on the machine's PostgreSQL and a private NATS server: every run analyses
the posts it stored, the workers report who analysed them, and no schema is left behind. No
timings are checked."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.analysis.test_worker import NATS_SERVER, PrivateNats
from tests.bench.test_bench_ingest import CED_SAMPLE, bench_schemas
from tests.conftest import PG_SERVER, POSTGRES
from yuqing.bench import scale


@pytest.mark.postgres
@pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed")
def test_bench_scale_prints_every_run(tmp_path: Path) -> None:
    if not POSTGRES:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    with gzip.open(CED_SAMPLE, "rb") as sample:
        rows = sum(1 for _ in sample)
    server = PrivateNats(tmp_path / "js")
    server.start()
    before = bench_schemas()
    try:
        out = scale.run(CED_SAMPLE, rows=rows, postgres=PG_SERVER, nats_url=server.url, workers=(1, 2))
    finally:
        server.stop()
    lines = out.splitlines()
    for name in (
        "baseline: yuqing analyze, SQLite (embedded)",
        "yuqing analyze, PostgreSQL",
        "PostgreSQL + JetStream, 1 worker(s)",
        "PostgreSQL + JetStream, 2 worker(s)",
    ):
        assert any(line.startswith(name) for line in lines), name
    two = next(line for line in lines if line.startswith("PostgreSQL + JetStream, 2"))
    analysed = two.split("（各分析 ")[1].split(" 条）")[0].split("/")
    assert max(int(n) for n in analysed) > 0 and sorted(analysed)[:-1] in ([], ["0"])  # one analysed
    assert bench_schemas() == before
