"""`yuqing bench ingest`: importing the CED file into a fresh SQLite database, and with
`--database-url` into a fresh PostgreSQL schema as well.

The measured path is the real import (`service.import_data`: batched, normalised, exact and near
duplicates detected, one transaction per batch; on PostgreSQL the planner's statistics refreshed
after the first 10,000 rows and at the end). The baseline stores the same rows with the same
normalisation and the same duplicate checks, one ORM object and one transaction per row, in
SQLite, which is how such code is usually first written.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from yuqing.bench.common import format_table, run_isolated
from yuqing.db import utcnow
from yuqing.ingest import service
from yuqing.ingest.files import read_rows
from yuqing.ingest.models import Post, PostSighting
from yuqing.ingest.neardup import NearDuplicateIndex
from yuqing.ingest.prepare import prepare_item
from yuqing.ingest.records import PostDraft, RawItem
from yuqing.ingest.store import PostWriter, record_dead_letters
from yuqing.runtime import open_runtime
from yuqing.settings import load_settings


def first_rows(data: bytes, rows: int | None) -> tuple[bytes, int]:
    stream = gzip.GzipFile(fileobj=io.BytesIO(data)) if data[:2] == b"\x1f\x8b" else io.BytesIO(data)
    out = io.BytesIO()
    count = 0
    for line in stream:
        if rows is not None and count >= rows:
            break
        out.write(line)
        count += 1
    return out.getvalue(), count


@contextmanager
def fresh_database(database_url: str | None) -> Iterator[str]:
    """A new empty database: a SQLite file, or a schema of its own in the PostgreSQL database at
    `database_url`, dropped afterwards."""
    if database_url is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(
            f"--database-url 应为 PostgreSQL 地址（SQLite 总会测），而不是 {url.get_backend_name()}"
        )
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _fast(path: str, data: bytes, database_url: str | None = None) -> dict[str, Any]:
    with fresh_database(database_url) as url:
        rt = open_runtime(load_settings(database_url=url))
        writer = PostWriter(rt.sessions, rt.settings, rt.clock)
        start = time.perf_counter()
        counts = service.import_data(
            rt, writer, data, origin=path, file_format="jsonl", source_name="bench", platform="weibo"
        )
        elapsed = time.perf_counter() - start
        rt.close()
    return {"rows": counts.read, "seconds": elapsed, **counts.as_dict()}


def _baseline(path: str, data: bytes) -> dict[str, Any]:
    counts = {"new": 0, "duplicate": 0, "near_duplicate": 0, "rejected": 0}
    with tempfile.TemporaryDirectory() as tmp:
        rt = open_runtime(load_settings(database_url=f"sqlite:///{tmp}/baseline.db"))
        source_id = service.ensure_file_source(rt, "baseline", "weibo")
        with rt.sessions() as session:
            context = service.source_context(service.find_source(session, source_id), rt.settings)
        index = NearDuplicateIndex()
        start = time.perf_counter()
        for item in read_rows(data, "jsonl"):
            with rt.sessions() as session, session.begin():
                if not isinstance(item, RawItem):
                    record_dead_letters(session, [item], source_id, None)
                    counts["rejected"] += 1
                    continue
                try:
                    draft = prepare_item(item, context, utcnow())
                except ValueError as exc:
                    from yuqing.ingest.records import Rejected

                    record_dead_letters(
                        session, [Rejected(item.locator, "x", str(exc), item.raw)], source_id, None
                    )
                    counts["rejected"] += 1
                    continue
                if session.scalar(select(Post.id).where(Post.url_key == draft.url_key)) is not None:
                    counts["duplicate"] += 1
                    continue
                if draft.content_hash:
                    first = session.scalar(select(Post.id).where(Post.content_hash == draft.content_hash))
                    if first is not None:
                        session.add(PostSighting(post_id=first, source_id=source_id, url_key=draft.url_key))
                        counts["duplicate"] += 1
                        continue
                post = _orm_post(draft, source_id)
                session.add(post)
                session.flush()
                match = index.query_and_add([post.id], [draft.text])[0] if draft.text else None
                if match is not None:
                    post.near_duplicate_of, post.similarity = int(match[0]), float(match[1])
                    counts["near_duplicate"] += 1
                else:
                    counts["new"] += 1
        elapsed = time.perf_counter() - start
        rt.close()
    return {"rows": sum(counts.values()), "seconds": elapsed, **counts}


def _orm_post(draft: PostDraft, source_id: int) -> Post:
    fields = {k: getattr(draft, k) for k in PostDraft.__dataclass_fields__ if k != "locator"}
    return Post(source_id=source_id, raw_ref=draft.locator, **fields)


def run(path: Path, *, rows: int | None, baseline_rows: int, database_url: str | None = None) -> str:
    raw = path.read_bytes()
    data, total = first_rows(raw, rows)
    compressed = gzip.compress(data, compresslevel=1) if path.suffix == ".gz" else data
    baseline_data, baseline_total = first_rows(raw, min(baseline_rows, total))
    fast = {"yuqing import (batched), SQLite": run_isolated(_fast, str(path), compressed)}
    if database_url is not None:
        fast["yuqing import (batched), PostgreSQL"] = run_isolated(_fast, str(path), compressed, database_url)
    slow = run_isolated(_baseline, str(path), baseline_data)
    table_rows: list[list[object]] = [
        [
            name,
            result["rows"],
            result["seconds"],
            result["rows"] / result["seconds"],
            result["peak_rss_mb"],
            result["children_peak_rss_mb"],
            result["new"],
            result["duplicate"],
            result["near_duplicate"],
            result["rejected"],
        ]
        for name, result in fast.items()
    ]
    table_rows.append(
        [
            "baseline: ORM, row by row, SQLite",
            slow["rows"],
            slow["seconds"],
            slow["rows"] / slow["seconds"],
            slow["peak_rss_mb"],
            "-",
            slow["new"],
            slow["duplicate"],
            slow["near_duplicate"],
            slow["rejected"],
        ]
    )
    table = format_table(
        ["run", "rows", "seconds", "rows/s", "peak MB", "worker MB", "new", "dup", "near-dup", "rejected"],
        table_rows,
    )
    sqlite = fast["yuqing import (batched), SQLite"]
    speedup = (sqlite["rows"] / sqlite["seconds"]) / (slow["rows"] / slow["seconds"])
    where = "a fresh SQLite database" + (" and a fresh PostgreSQL schema" if database_url else "")
    return (
        f"yuqing bench ingest — {path.name}: {total:,} rows (baseline on the first {baseline_total:,})\n"
        f"{where} per run;\neach run in its own process (peak = its max RSS; worker = the process that\n"
        f"prepares rows beside the writer)\n\n"
        f"{table}\n\nspeed-up of SQLite over baseline: {speedup:.1f}x; "
        "target ≥ 20,000 rows/s and < 1,024 MB peak"
    )
