"""`yuqing bench ingest`: importing the CED file into a fresh SQLite database.

The measured path is the real import (`service.import_data`: batched, normalised, exact and near
duplicates detected, one transaction per batch). The baseline stores the same rows with the same
normalisation and the same duplicate checks, one ORM object and one transaction per row, which is
how such code is usually first written.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

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


def _fast(path: str, data: bytes) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        rt = open_runtime(load_settings(database_url=f"sqlite:///{tmp}/bench.db"))
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


def run(path: Path, *, rows: int | None, baseline_rows: int) -> str:
    raw = path.read_bytes()
    data, total = first_rows(raw, rows)
    compressed = gzip.compress(data, compresslevel=1) if path.suffix == ".gz" else data
    baseline_data, baseline_total = first_rows(raw, min(baseline_rows, total))
    fast = run_isolated(_fast, str(path), compressed)
    slow = run_isolated(_baseline, str(path), baseline_data)
    table = format_table(
        ["run", "rows", "seconds", "rows/s", "peak MB", "worker MB", "new", "dup", "near-dup", "rejected"],
        [
            [
                "yuqing import (batched)",
                fast["rows"],
                fast["seconds"],
                fast["rows"] / fast["seconds"],
                fast["peak_rss_mb"],
                fast["children_peak_rss_mb"],
                fast["new"],
                fast["duplicate"],
                fast["near_duplicate"],
                fast["rejected"],
            ],
            [
                "baseline: ORM, row by row",
                slow["rows"],
                slow["seconds"],
                slow["rows"] / slow["seconds"],
                slow["peak_rss_mb"],
                "-",
                slow["new"],
                slow["duplicate"],
                slow["near_duplicate"],
                slow["rejected"],
            ],
        ],
    )
    speedup = (fast["rows"] / fast["seconds"]) / (slow["rows"] / slow["seconds"])
    return (
        f"yuqing bench ingest — {path.name}: {total:,} rows (baseline on the first {baseline_total:,})\n"
        f"fresh SQLite database per run; each run in its own process (peak = its max RSS; worker = the\n"
        f"process that prepares rows beside the writer)\n\n"
        f"{table}\n\nspeed-up over baseline: {speedup:.1f}x; target ≥ 20,000 rows/s and < 1,024 MB peak"
    )
