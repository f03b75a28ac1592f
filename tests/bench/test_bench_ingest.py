"""`yuqing bench ingest` imports into PostgreSQL beside SQLite and prints both (issue item 24).
No timings are checked: the rows and counts of each run, and that the schema it made is gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_SERVER, POSTGRES
from yuqing.bench import ingest

CED_SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "ced_sample.jsonl.gz"


def bench_schemas() -> set[str]:
    engine = create_engine(PG_SERVER)
    try:
        with engine.connect() as connection:
            names = connection.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_%'"))
            return {str(name) for (name,) in names}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_bench_ingest_runs_on_postgresql_beside_sqlite() -> None:
    if not POSTGRES:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    before = bench_schemas()
    report = ingest.run(CED_SAMPLE, rows=120, baseline_rows=20, database_url=PG_SERVER)
    lines = {
        line.split("  ")[0]: line.split()
        for line in report.splitlines()
        if line.startswith(("yuqing", "baseline"))
    }
    sqlite = lines["yuqing import (batched), SQLite"]
    postgres = lines["yuqing import (batched), PostgreSQL"]
    # The same rows land the same way in both stores: rows, then new, dup, near-dup, rejected.
    assert sqlite[4] == postgres[4] == "120"
    assert sqlite[-4:] == postgres[-4:]
    assert "baseline: ORM, row by row, SQLite" in lines
    assert bench_schemas() == before


def test_bench_ingest_refuses_a_database_url_that_is_not_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        with ingest.fresh_database(f"sqlite:///{tmp_path}/x.db"):
            pass
