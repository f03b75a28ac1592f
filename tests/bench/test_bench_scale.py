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
    model = out.split("Model of partition-parallel workers", 1)[1]
    assert [line.split()[0] for line in model.splitlines() if line[:1].isdigit()] == ["1", "2", "8", "32"]


def test_the_model_is_bounded_by_the_largest_partition_and_the_database() -> None:
    # 100 posts: 10 ms of worker CPU each, half of it stateless; 1 ms of database CPU each
    measured = {
        "posts": 100,
        "cpu": 1.0,
        "database_cpu": 0.1,
        "stages": {"analysis.topics": 0.1, "analysis.sentiment": 0.4},
    }
    assert scale._largest_load([50, 30, 20], 2) == 50 and scale._largest_load([50, 30, 20], 8) == 50
    out = scale.model(measured, [50, 30, 20], 0, (1, 2, 8))
    assert "a = 5000 µs" in out and "b = 5000 µs" in out and "d = 1000 µs" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].isdigit()}
    # one worker: all 100 posts × 10 ms → 100 posts/s; two: partitions 50 | 30+20 → 200 posts/s
    assert rows["1"][4:6] == ["100", "workers"]
    assert rows["2"][4] == "200"
    # eight: the 50-post partition stays on one worker: 50 × 5 ms + its 1/8 of the stateless work
    assert rows["8"][4:6] == ["320", "skew"]
    # the database (two cores for eight workers at 1 ms a post) would allow 2,000 posts/s
    assert rows["8"][3] == "2,000"
    # here every post is in a partition already: the second column says the same
    assert rows["8"][6:] == ["320", "skew"]
    # with posts that join no event, only the partitioned ones are tied to a worker
    # (200 posts, 2.5 ms stateless + 2.5 ms partition-bound each; 100 join no event)
    loose = scale.model({**measured, "posts": 200}, [50, 30, 20], 100, (2, 8))
    rows = {line.split()[0]: line.split() for line in loose.splitlines() if line[:1].isdigit()}
    # two: evenly 200 × 5 ms / 2 = 0.5 s, more than the busiest's 50 × 2.5 + 100 × 2.5 ms
    assert rows["2"][4:] == ["400", "workers", "400", "workers"]
    # eight: 50 × 2.5 + 25 × 2.5 ms = 0.1875 s → 1,067/s; all topiced, the busiest holds half
    # of the 200: 100 × 2.5 + 25 × 2.5 ms → 640/s
    assert rows["8"][4:] == ["1,067", "skew", "640", "skew"]
