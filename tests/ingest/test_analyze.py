"""A bulk import into PostgreSQL gives the planner statistics early, so the lookups of the rest of
the import use the indexes (reliability issue, item 24). What is checked is that the statistics
exist when they should, never how fast anything runs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from yuqing.ingest import service
from yuqing.ingest.records import IngestCounts
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime


def has_statistics(rt: Runtime, table: str) -> bool:
    """Whether ANALYZE has run on the table (pg_stats is filled by ANALYZE, transactionally)."""
    with rt.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = :t"),
            {"t": table},
        ).scalar_one()
    return bool(rows)


def rows(n: int, prefix: str) -> bytes:
    lines = (
        json.dumps(
            {"id": f"{prefix}{i}", "text": f"{prefix}第{i}条：某地发生交通事故，多车追尾。"},
            ensure_ascii=False,
        )
        for i in range(n)
    )
    return "\n".join(lines).encode()


@pytest.fixture
def pg(rt: Runtime) -> Runtime:
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("ANALYZE is for PostgreSQL; SQLite plans without statistics well")
    return rt


def test_statistics_are_refreshed_once_the_threshold_is_crossed_and_at_the_end(pg: Runtime) -> None:
    from yuqing.ingest.files import read_rows

    source_id = service.ensure_file_source(pg, "批量", None)
    with pg.sessions() as session:
        context = service.source_context(service.find_source(session, source_id), pg.settings)
    seen: list[bool] = []

    def after_batch(_counts: IngestCounts) -> None:
        seen.append(has_statistics(pg, "posts"))

    writer = PostWriter(pg.sessions, pg.settings, pg.clock)
    data = rows(150, "a")  # batches of 50 (the test settings): the threshold is crossed by the second
    writer.write(context, read_rows(data, "jsonl"), on_batch=after_batch, analyze_after_rows=100)
    assert seen == [False, True, True]


def test_an_import_leaves_statistics_behind(pg: Runtime) -> None:
    assert not has_statistics(pg, "posts")
    counts = service.import_data(
        pg, PostWriter(pg.sessions, pg.settings, pg.clock), rows(30, "b"), origin="b.jsonl"
    )
    assert counts.new + counts.near_duplicate == 30
    assert has_statistics(pg, "posts")
