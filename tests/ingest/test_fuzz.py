"""Bounded fuzzing of the three ways posts arrive: a file import, a webhook delivery and a feed
fetched over HTTP. Whatever the records hold, nothing escapes, the good record beside them lands
and the run is finished (reliability issue, item 17).

Each test runs a few dozen examples against the real store, so the whole file takes seconds."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.ingest.httpserver import LocalHTTPServer, Reply
from yuqing.ingest import service
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.models import FetchRun, Post
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run and in CI
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GOOD_TEXT = "网友爆料某区菜市场销售病死猪肉，市场监管局回应称已立案调查，涉事摊位已被查封。"
_serial = itertools.count()

POISON: list[Any] = [
    1e30,
    1e26,
    -1,
    99999999999999999999,
    -(10**25),
    1e20,
    1e300,
    "9999999999999亿",
    "1.5万",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "Fri, 31 Dec 9999 23:59:59 -1200",
    "2026年13月45日 25:61",
    "NaN",
    "inf",
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 3000,
    "https://news.example.cn/" + "p" * 3000,
    "",
    True,
    [],
    {"nested": {"deeper": [1, 2, {"x": None}]}},
]
poison = st.sampled_from(POISON)
values = st.one_of(
    poison,
    poison,  # twice: a third of the values are known poison, the rest anything
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.none(),
)
FIELDS = [
    "id",
    "text",
    "title",
    "url",
    "published_at",
    "reposts",
    "likes",
    "comments",
    "views",
    "author",
    "platform",
    "media_tier",
    "kind",
    "cascade",
    "extra_field",
]
records = st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, values))
batches = st.lists(records, max_size=12)


def good_record() -> dict[str, Any]:
    n = next(_serial)
    return {"id": f"good-{n}", "text": f"{GOOD_TEXT}（第{n}条）", "reposts": 3}


def landed(rt: Runtime, record: dict[str, Any]) -> bool:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).where(Post.external_id == record["id"])) == 1


def open_runs(rt: Runtime) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).where(FetchRun.finished_at.is_(None))) or 0)


def as_file(rows: list[dict[str, Any]], file_format: str) -> bytes:
    if file_format == "jsonl":
        return "\n".join(json.dumps(r) for r in rows).encode()
    if file_format == "json":
        return json.dumps(rows).encode()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else str(v) for k, v in row.items()})
    return out.getvalue().encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("file_format", ["jsonl", "json", "csv"])
def test_fuzzed_imports_never_escape_and_the_good_row_lands(rt: Runtime, file_format: str) -> None:
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)

    @FUZZ
    @given(rows=batches, at=st.integers(min_value=0, max_value=12))
    def check(rows: list[dict[str, Any]], at: int) -> None:
        good = good_record()
        rows = [*rows[:at], good, *rows[at:]]
        counts = service.import_data(rt, writer, as_file(rows, file_format), origin=f"fuzz.{file_format}")
        assert landed(rt, good)
        assert counts.read >= 1
        assert open_runs(rt) == 0

    check()


def test_fuzzed_webhook_deliveries_never_escape_and_the_good_post_lands(rt: Runtime) -> None:
    source, _ = service.add_source(rt, "webhook", None, name="推送")
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)

    @FUZZ
    @given(rows=batches, wrap=st.booleans())
    def check(rows: list[dict[str, Any]], wrap: bool) -> None:
        good = good_record()
        rows = [good, *rows]
        body = json.dumps({"posts": rows} if wrap else rows).encode()
        counts = service.receive_webhook(rt, writer, source, body, "application/json")
        assert landed(rt, good)
        assert counts.read == len(rows)
        assert open_runs(rt) == 0

    check()


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    srv = LocalHTTPServer().start()
    srv.routes["/robots.txt"] = Reply(404)
    yield srv
    srv.stop()


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _item(record: dict[str, Any]) -> str:
    """An RSS item; characters XML forbids are left out (what is fuzzed is the values a well-formed
    feed can carry, not XML itself)."""
    tags = {"title": "title", "url": "link", "text": "description", "published_at": "pubDate", "id": "guid"}
    parts = [
        f"<{tag}>{escape(_NOT_XML.sub('', str(record[key])))}</{tag}>"
        for key, tag in tags.items()
        if key in record
    ]
    return "<item>" + "".join(parts) + "</item>"


def test_fuzzed_feeds_never_escape_and_the_good_entry_lands(rt: Runtime, server: LocalHTTPServer) -> None:
    source, _ = service.add_source(rt, "rss", server.url("/feed.xml"), name="订阅")
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    texts = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)
    entries = st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "title": st.one_of(texts, poison),
                "url": st.one_of(
                    texts, st.sampled_from(["https://news.example.cn/a", "javascript:x", "http://"])
                ),
                "text": st.one_of(texts, poison),
                "published_at": st.one_of(poison, texts),
                "id": texts,
            },
        ),
        max_size=8,
    )

    with Fetcher(service.fetch_policy(rt.settings)) as fetcher:

        @FUZZ
        @given(items=entries)
        def check(items: list[dict[str, Any]]) -> None:
            good = good_record()
            good_item = {**good, "url": f"https://news.example.cn/{good['id']}", "title": "正常的新闻"}
            feed = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                + "".join(_item(i) for i in [*items, good_item])
                + "</channel></rss>"
            )
            body = feed.encode("utf-8", "replace")
            server.routes["/feed.xml"] = Reply(200, {"Content-Type": "application/rss+xml"}, body)
            summary = service.run_source(rt, writer, source.id, fetcher)
            assert summary.outcome in ("success", "partial"), summary.error
            with rt.sessions() as session:
                urls = set(session.scalars(select(Post.url)))
            assert good_item["url"] in urls
            assert open_runs(rt) == 0

        check()
