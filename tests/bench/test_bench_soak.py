"""`yuqing bench soak`, short: real posts through the webhook of a real `yuqing serve`, embedded and
with two workers over a private NATS server; every post the webhook stored is analysed once, and
the table names both runs. No timings are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.test_worker import NATS_SERVER, PrivateNats
from tests.bench.test_bench_ingest import CED_SAMPLE, bench_schemas
from tests.conftest import PG_SERVER, POSTGRES
from yuqing.bench import soak


@pytest.mark.postgres
@pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed")
def test_bench_soak_counts_every_post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not POSTGRES:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    monkeypatch.setattr(soak, "SAMPLE_SECONDS", 0.5)
    server = PrivateNats(tmp_path / "js")
    server.start()
    before = bench_schemas()
    try:
        results = soak.measure(
            CED_SAMPLE,
            rate=200,
            seconds=3,
            baseline_seconds=2,
            batch=20,
            workers=2,
            postgres=PG_SERVER,
            nats_url=server.url,
        )
    finally:
        server.stop()
    assert bench_schemas() == before
    embedded, scaled = results
    assert embedded.name.startswith("baseline: embedded") and embedded.counted_by_workers is None
    assert scaled.name == "PostgreSQL + JetStream, 2 worker(s)"
    for result, sent in ((embedded, 400), (scaled, 600)):
        assert result.sent == sent and result.refused == 0
        # every row answered for: stored as a post, merged into one, or dead-lettered
        assert result.new + result.near_duplicate + result.duplicate + result.rejected == sent
        assert result.stored == result.new + result.near_duplicate > 0
        assert result.analysed == result.stored and result.lost == 0
        assert len(result.waits) == result.analysed and result.samples
    assert scaled.twice == 0 and scaled.counted_by_workers == scaled.analysed
    table = soak.format_results(results, rate=200, batch=20, path=CED_SAMPLE)
    assert "baseline: embedded, yuqing serve on SQLite" in table
    assert "PostgreSQL + JetStream, 2 worker(s)" in table
