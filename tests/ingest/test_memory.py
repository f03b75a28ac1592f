"""Memory stays bounded whatever arrives: JSON read as a stream, decompression capped, webhook
deliveries counted before anything is built (reliability issue, item 18).

Peaks are measured with tracemalloc (Python allocations of this process; the prepare worker is
not used below the one-megabyte parallel threshold). The bounds are several times what the
streaming code needs and a fraction of what reading whole took."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from yuqing.ingest import service
from yuqing.ingest.errors import WebhookUnreadable
from yuqing.ingest.models import DeadLetter, Post
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

T = TypeVar("T")
MB = 1024 * 1024
TEXT = "网传某市第一人民医院发生医疗事故，一名产妇在手术后死亡，家属在医院门口拉横幅讨说法。"


def peak_of(func_: Callable[[], T]) -> tuple[T, float]:
    """The call's result and the peak of Python memory it allocated, in MB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = func_()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, (peak - before) / MB


@pytest.fixture
def writer(rt: Runtime) -> PostWriter:
    rt.settings.import_worker = False
    return PostWriter(rt.sessions, rt.settings, rt.clock)


def count(rt: Runtime, model: type) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_json_array_of_empty_objects_is_read_as_a_stream(rt: Runtime, writer: PostWriter) -> None:
    rt.settings.import_batch_size = 2000  # memory is bounded per batch; fewer commits, a faster test
    rows = 15_000
    data = b"[" + b",".join([b"{}"] * rows) + b"]"  # 45 KB; read whole, each `{}` took over 4 KB

    counts, peak = peak_of(lambda: service.import_data(rt, writer, data, origin="empty.json"))
    assert counts.rejected == rows and counts.new == 0
    assert count(rt, DeadLetter) == rows  # each a dead letter of its own
    assert peak < 12, f"{peak:.1f} MB"


def test_a_gzip_bomb_stops_at_the_decompressed_limit(rt: Runtime, writer: PostWriter) -> None:
    rt.settings.import_max_decompressed_bytes = 2 * MB
    first = json.dumps({"id": "b1", "text": TEXT}, ensure_ascii=False).encode()
    last = json.dumps({"id": "b2", "text": TEXT + "！"}, ensure_ascii=False).encode()
    # 64 MB of JSON from about 64 KB of gzip.
    bomb = gzip.compress(b"[" + first + b"," + b" " * (64 * MB) + last + b"]", compresslevel=9)
    assert len(bomb) < 200_000

    counts, peak = peak_of(lambda: service.import_data(rt, writer, bomb, origin="bomb.json.gz"))
    assert counts.new == 1 and counts.rejected == 1
    with rt.sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert "上限" in letter.error and "import_max_decompressed_bytes" in letter.error
        assert session.scalars(select(Post.external_id)).all() == ["b1"]
    assert peak < 16, f"{peak:.1f} MB"


def test_a_jsonl_gzip_bomb_keeps_the_lines_before_the_limit(rt: Runtime, writer: PostWriter) -> None:
    rt.settings.import_max_decompressed_bytes = 2 * MB
    lines = [json.dumps({"id": f"l{i}", "text": f"{i}：{TEXT}"}, ensure_ascii=False) for i in range(3)]
    bomb = gzip.compress(("\n".join(lines) + "\n").encode() + b" " * (64 * MB), compresslevel=9)

    counts, peak = peak_of(lambda: service.import_data(rt, writer, bomb, origin="bomb.jsonl.gz"))
    assert counts.new + counts.near_duplicate == 3 and counts.rejected == 1
    assert peak < 16, f"{peak:.1f} MB"


def test_a_webhook_body_of_empty_objects_is_refused_without_building_them(
    rt: Runtime, writer: PostWriter
) -> None:
    source, _ = service.add_source(rt, "webhook", None, name="推送")
    body = b"[" + b",".join([b"{}"] * 330_000) + b"]"  # 1 MB

    # Imported here, so the module (and the other tests) load without the fix too.
    from yuqing.ingest.errors import WebhookTooLarge

    def deliver() -> None:
        with pytest.raises(WebhookTooLarge, match="330000 条"):
            service.receive_webhook(rt, writer, source, body, "application/json")

    _, peak = peak_of(deliver)
    assert peak < 8, f"{peak:.1f} MB"
    assert count(rt, Post) == 0 and count(rt, DeadLetter) == 1


# ijson builds a path string per level it enters (`item.item.item…`): without a bound on the
# nesting, memory grew with its square; 200 KB of `[` took gigabytes and the server was killed.
DEEP = 6000


def test_an_api_answer_nested_without_end_fails_its_run_in_bounded_memory(
    rt: Runtime, writer: PostWriter
) -> None:
    from tests.ingest.httpserver import LocalHTTPServer, Reply
    from yuqing.ingest.fetcher import Fetcher

    server = LocalHTTPServer().start()
    try:
        server.routes["/robots.txt"] = Reply(404)
        body = b"[" * DEEP + b"]" * DEEP  # 12 KB
        server.routes["/deep"] = Reply(200, {"Content-Type": "application/json"}, body)
        service.add_source(rt, "api", server.url("/deep"), name="嵌套接口")
        with Fetcher(service.fetch_policy(rt.settings)) as fetcher:
            summary, peak = peak_of(lambda: service.run_source(rt, writer, "嵌套接口", fetcher, rng_seed=1))
    finally:
        server.stop()
    assert peak < 8, f"{peak:.1f} MB"  # 87 MB for these 12 KB without the bound, and quadratic
    assert summary.outcome == "failed"
    assert summary.error is not None and "JSON 嵌套超过 64 层" in summary.error
    assert count(rt, Post) == 0


def test_a_webhook_body_nested_without_end_is_one_dead_letter_in_bounded_memory(
    rt: Runtime, writer: PostWriter
) -> None:
    source, _ = service.add_source(rt, "webhook", None, name="推送")
    body = b'[{"text":' + b'{"text":' * DEEP + b"1" + b"}" * DEEP + b"}]"  # 60 KB

    def deliver() -> str:
        with pytest.raises(WebhookUnreadable) as refused:  # answered 400, kept and dead-lettered
            service.receive_webhook(rt, writer, source, body, "application/json")
        return str(refused.value)

    message, peak = peak_of(deliver)
    assert peak < 8, f"{peak:.1f} MB"
    assert "JSON 嵌套超过 64 层" in message
    with rt.sessions() as session:
        assert "JSON 嵌套超过 64 层" in session.scalars(select(DeadLetter.error)).one()


def test_a_post_of_millions_of_characters_is_kept_to_the_cap_and_says_so(
    rt: Runtime, writer: PostWriter
) -> None:
    """One 7,000,000-character post took 2.2 GB to import and 44 s to analyse: its text is kept to
    MAX_TEXT_CHARS; the file's bytes stay whole in the evidence."""
    from yuqing.ingest.prepare import MAX_TEXT_CHARS

    long = TEXT * (3 * MAX_TEXT_CHARS // len(TEXT))
    data = json.dumps({"id": "long", "text": long}, ensure_ascii=False).encode()
    counts = service.import_data(rt, writer, data, origin="long.jsonl")
    assert counts.new == 1 and counts.rejected == 0
    with rt.sessions() as session:
        text = session.scalars(select(Post.text)).one()
    assert text.startswith(TEXT) and len(text) < MAX_TEXT_CHARS + 100
    assert text.endswith(f"（原文 {len(long)} 字，超出 {MAX_TEXT_CHARS} 字的部分未入库，见原始数据）")
