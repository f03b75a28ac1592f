"""Poison values: a bad number, time or field costs its own record a dead letter, never the batch,
the file, the feed or the sources after it (reliability issue, items 6 and 17)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from tests.ingest.httpserver import LocalHTTPServer, Reply
from yuqing.ingest import service
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.models import DeadLetter, FetchRun, Post, Source
from yuqing.ingest.scheduler import SourceScheduler
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

GOOD = [
    {
        "id": "g1",
        "text": "网传某市第一人民医院发生医疗事故，家属在医院门口拉横幅讨说法。",
        "reposts": "1.2万",
    },
    {"id": "g2", "text": "某小区停水三天无人回应，居民投诉无门，物业称正在抢修。", "likes": 30},
]
# Each poison row is otherwise a good post; the value named in its id is what is wrong with it.
POISON = [
    {"id": "reposts-1e30", "text": "一", "reposts": 1e30},
    {"id": "likes-yi", "text": "二", "likes": "9999999999999亿"},
    {"id": "published-1e20", "text": "三", "published_at": 1e20},
    {"id": "published-1e300", "text": "四", "published_at": 1e300},
    {"id": "published-9999", "text": "五", "published_at": "9999-12-31T23:59:59-12:00"},
    {"id": "published-0001", "text": "六", "published_at": "0001-01-01T00:00:00+14:00"},
    {"id": "published-int", "text": "七", "published_at": 99999999999999999999},
    {"id": "reposts-negative", "text": "八", "reposts": -5},
]
ROWS = [GOOD[0], *POISON, GOOD[1]]


def refuse_banned_text(rt: Runtime) -> None:
    """A rule an administrator added to the posts table: text containing 禁止入库 is refused by
    the database itself (a trigger on SQLite, a check constraint on PostgreSQL)."""
    with rt.engine.begin() as connection:
        if rt.engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_banned BEFORE INSERT ON posts WHEN NEW.text LIKE '%禁止入库%' "
                "BEGIN SELECT RAISE(ABORT, 'banned word'); END"
            )
        else:
            connection.exec_driver_sql(
                "ALTER TABLE posts ADD CONSTRAINT refuse_banned CHECK (text NOT LIKE '%%禁止入库%%')"
            )


def import_bytes(rt: Runtime, data: bytes, name: str) -> dict[str, int]:
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    return service.import_data(rt, writer, data, origin=name).as_dict()


def stored_ids(rt: Runtime) -> set[str | None]:
    with rt.sessions() as session:
        return set(session.scalars(select(Post.external_id)))


def letters(rt: Runtime) -> list[DeadLetter]:
    with rt.sessions() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def only_run(rt: Runtime) -> FetchRun:
    with rt.sessions() as session:
        return session.scalars(select(FetchRun)).one()


@pytest.mark.parametrize("file_format", ["jsonl", "json"])
def test_poison_values_in_an_import_are_dead_letters_and_the_good_rows_land(
    rt: Runtime, file_format: str
) -> None:
    if file_format == "jsonl":
        data = "\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS).encode()
    else:
        data = json.dumps(ROWS, ensure_ascii=False).encode()
    result = import_bytes(rt, data, f"poison.{file_format}")
    assert result == {"new": 2, "duplicate": 0, "near_duplicate": 0, "rejected": len(POISON)}
    assert stored_ids(rt) == {"g1", "g2"}
    reasons = [d.error for d in letters(rt)]
    assert len(reasons) == len(POISON)
    assert all("范围" in r for r in reasons)  # counts beyond a column, times beyond any datetime
    assert all(d.raw for d in letters(rt))  # each with its own bytes, to fix and import again
    run = only_run(rt)
    assert run.finished_at is not None and run.outcome == "partial" and run.items_rejected == len(POISON)


def test_a_publication_time_outside_the_sane_window_is_a_dead_letter(rt: Runtime) -> None:
    rows = [
        {"id": "old", "text": "一九八零年的旧闻", "published_at": "1980-05-01T08:00:00+08:00"},
        {"id": "future", "text": "一个月后才发布的文章", "published_at": "2026-12-25T08:00:00+08:00"},
        {"id": "ok", "text": "昨天发布的正常文章", "published_at": "2026-11-19T08:00:00+08:00"},
    ]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    assert import_bytes(rt, data, "window.jsonl")["rejected"] == 2
    assert stored_ids(rt) == {"ok"}
    assert all("不在合理范围内" in d.error for d in letters(rt))


def test_csv_with_poison_values_and_a_field_over_the_csv_module_limit(rt: Runtime) -> None:
    long_text = "长文" * 100_000  # 200,000 characters: over the csv module's default 131,072
    lines = [
        "id,text,published_at,reposts",
        f"c1,{GOOD[0]['text']},2026-11-19 08:00,12",
        f"c2,{long_text},2026-11-19 09:00,3",
        "c3,时间是公元一年,0001-01-01T00:00:00+14:00,1",
        "c4,转发数太大,2026-11-19 10:00,1e30",
        f"c5,{GOOD[1]['text']},2026-11-19 11:00,4",
    ]
    result = import_bytes(rt, "\n".join(lines).encode(), "poison.csv")
    assert result == {"new": 3, "duplicate": 0, "near_duplicate": 0, "rejected": 2}
    assert stored_ids(rt) == {"c1", "c2", "c5"}
    with rt.sessions() as session:
        assert len(session.scalars(select(Post.text).where(Post.external_id == "c2")).one()) == 200_000


def test_csv_field_over_the_per_field_cap_costs_its_row_only(rt: Runtime) -> None:
    from yuqing.ingest.files import MAX_CSV_FIELD_CHARS

    lines = [
        "id,text",
        "a1,第一条正常的信息内容",
        f"a2,{'x' * (MAX_CSV_FIELD_CHARS + 10)}",
        "a3,第三条正常的信息内容",
    ]
    result = import_bytes(rt, "\n".join(lines).encode(), "huge.csv")
    assert result["new"] == 2 and result["rejected"] == 1
    assert stored_ids(rt) == {"a1", "a3"}
    assert "字符上限" in letters(rt)[0].error


def _xlsx(rows: list[list[object]], date_column: int | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if date_column is not None:
        for cells in sheet.iter_rows(min_row=2, min_col=date_column, max_col=date_column):
            cells[0].number_format = "yyyy-mm-dd hh:mm"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_a_date_of_1e308_keeps_the_other_rows(rt: Runtime) -> None:
    data = _xlsx(
        [
            ["id", "text", "published_at"],
            ["x1", GOOD[0]["text"], 46345.5],  # 2026-11-19 12:00 as an Excel date
            ["x2", "日期单元格的值大得离谱", 1e308],
            ["x3", GOOD[1]["text"], 46345.6],
        ],
        date_column=3,
    )
    plain = _xlsx(
        [["id", "text", "published_at"], ["y1", "发布时间是个极大的数", 1e308], ["y2", "正常", 1795224600]]
    )
    assert import_bytes(rt, data, "dates.xlsx")["rejected"] == 1
    assert import_bytes(rt, plain, "plain.xlsx")["rejected"] == 1
    assert stored_ids(rt) == {"x1", "x3", "y2"}


def test_xlsx_with_a_damaged_sheet_keeps_the_rows_before_the_damage(rt: Runtime) -> None:
    rows: list[list[object]] = [["id", "text"]]
    rows += [[f"r{i}", f"第{i}条：某地发生交通事故，多车追尾，现场交通一度中断。"] for i in range(40)]
    source = zipfile.ZipFile(io.BytesIO(_xlsx(rows)))
    damaged = io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) * 2 // 3]  # cut mid-row: the XML ends unclosed
            target.writestr(info, content)
    result = import_bytes(rt, damaged.getvalue(), "damaged.xlsx")
    stored = stored_ids(rt)
    assert 10 < len(stored) < 40 and result["new"] + result["near_duplicate"] == len(stored)
    assert result["rejected"] == 1
    assert "无法读取" in letters(rt)[0].error
    assert only_run(rt).finished_at is not None


# -- feeds -------------------------------------------------------------------------------------

POISON_FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>世界末日之后</title><link>https://news.example.cn/end</link>
<description>发布时间在 9999 年最后一秒、西十二区，换算成世界时已超出可表示的范围。</description>
<pubDate>Fri, 31 Dec 9999 23:59:59 -1200</pubDate></item>
<item><title>正常的新闻</title><link>https://news.example.cn/ok</link>
<description>某地发布暴雨橙色预警，学校停课一天，市民注意出行安全。</description>
<pubDate>Thu, 19 Nov 2026 08:00:00 +0800</pubDate></item>
</channel></rss>""".encode()
GOOD_FEED = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><title>另一则新闻</title><link>https://news.example.cn/other</link>
<description>某区菜市场销售病死猪肉，市场监管局已立案调查。</description></item>
</channel></rss>""".encode()


@pytest.fixture
def feeds() -> Iterator[LocalHTTPServer]:
    server = LocalHTTPServer().start()
    server.routes["/robots.txt"] = Reply(404)
    server.routes["/poison.xml"] = Reply(200, {"Content-Type": "application/rss+xml"}, POISON_FEED)
    server.routes["/good.xml"] = Reply(200, {"Content-Type": "application/rss+xml"}, GOOD_FEED)
    yield server
    server.stop()


def test_fetch_once_goes_on_past_a_feed_with_a_poison_date(feeds: LocalHTTPServer, tmp_path: object) -> None:
    def yuqing(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "yuqing", *args], capture_output=True, env=dict(os.environ), timeout=120
        )

    assert yuqing("sources", "add", "rss", feeds.url("/poison.xml"), "--name", "毒").returncode == 0
    assert yuqing("sources", "add", "rss", feeds.url("/good.xml"), "--name", "好").returncode == 0
    result = yuqing("fetch", "--once", "--json")
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    summary = {row["source"]: row for row in json.loads(result.stdout)}
    assert summary["毒"]["outcome"] == "partial" and summary["毒"]["new"] == 1
    assert summary["毒"]["rejected"] == 1
    assert summary["好"]["outcome"] == "success" and summary["好"]["new"] == 1  # fetched after it


def test_the_scheduler_finishes_a_poison_feed_run_and_schedules_the_next(
    rt: Runtime, feeds: LocalHTTPServer
) -> None:
    service.add_source(rt, "rss", feeds.url("/poison.xml"), name="毒", schedule="1h")
    scheduler = SourceScheduler(rt, PostWriter(rt.sessions, rt.settings, rt.clock))
    first = scheduler.tick()
    assert [s.outcome for s in first] == ["partial"]
    assert scheduler.tick() == []  # not due again at once: its next run is in an hour
    with rt.sessions() as session:
        source = session.scalars(select(Source)).one()
        assert source.next_run_at is not None and source.next_run_at > rt.clock()
        assert source.last_run_at is not None
        run = session.scalars(select(FetchRun)).one()
        assert run.finished_at is not None
        letter = session.scalars(select(DeadLetter)).one()
        assert "范围" in letter.error and letter.location == "entry=0"
        assert session.scalar(select(func.count()).select_from(Post)) == 1


def test_a_source_whose_run_breaks_is_a_failed_run_counted_in_its_health(
    rt: Runtime, feeds: LocalHTTPServer
) -> None:
    """A source whose configuration became unusable (edited in the database) fails its runs."""
    source, _ = service.add_source(rt, "api", feeds.url("/good.xml"), name="坏配置", schedule="1h")
    with rt.sessions() as session, session.begin():
        stored = session.get(Source, source.id)
        assert stored is not None
        stored.config = {"mapping": {"no_such_field": "x"}}
    with Fetcher(service.fetch_policy(rt.settings)) as fetcher:
        summary = service.run_source(rt, PostWriter(rt.sessions, rt.settings, rt.clock), source.id, fetcher)
    assert summary.outcome == "failed" and summary.error and "配置" in summary.error
    with rt.sessions() as session:
        health = session.get(Source, source.id)
        assert health is not None and health.consecutive_failures == 1
        assert health.next_run_at is not None and health.next_run_at > rt.clock()
        assert session.scalars(select(FetchRun)).one().finished_at is not None


def test_rows_the_database_refuses_are_found_and_the_rest_of_the_batch_lands(rt: Runtime) -> None:
    """A row the store will not hold (here: a rule an administrator added to the table) costs that
    row, not its batch of 50; near-duplicates in the batches after it still link to stored posts."""
    refuse_banned_text(rt)
    base = "网传某市第一人民医院发生医疗事故，一名产妇在手术后死亡，家属在医院门口拉横幅讨说法。"
    rows = [{"id": f"r{i}", "text": f"{base}编号{i}"} for i in range(120)]
    rows[7]["text"] = "这一条含有禁止入库的词语，数据库会拒收它。"
    rows[61]["text"] = "另一条也含有禁止入库的词语。"
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    result = import_bytes(rt, data, "refused.jsonl")
    assert result["rejected"] == 2 and result["new"] + result["near_duplicate"] == 118
    assert len(stored_ids(rt)) == 118
    refused = letters(rt)
    assert {d.location for d in refused} == {"line=8", "line=62"}
    assert all(d.stage == "ingest.store" and "拒收" in d.error and d.raw for d in refused)
    with rt.sessions() as session:
        ids = set(session.scalars(select(Post.id)))
        links = set(
            session.scalars(select(Post.near_duplicate_of).where(Post.near_duplicate_of.is_not(None)))
        )
        assert links <= ids  # no link to a post a failed transaction did not keep
    assert only_run(rt).outcome == "partial"


def test_a_refused_feed_entry_keeps_its_record_and_a_refetch_counts_it_once(
    rt: Runtime, feeds: LocalHTTPServer
) -> None:
    """A feed entry has no bytes of its own: its dead letter keeps the entry as read (JSON), so
    the office sees what was refused. The same entry refused again on the next fetch is counted on
    that dead letter (`repeats`), not listed again; so is a file imported twice."""
    from yuqing.ingest import queries

    service.add_source(rt, "rss", feeds.url("/poison.xml"), name="毒")
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    with Fetcher(service.fetch_policy(rt.settings)) as fetcher:
        for _ in range(2):
            service.run_source(rt, writer, "毒", fetcher)
    [letter] = queries.list_dead_letters(rt)
    assert letter["repeats"] == 1 and letter["last_seen_at"]
    assert "世界末日之后" in (letter["raw_preview"] or "") and "news.example.cn/end" in letter["raw_preview"]

    data = "\n".join([json.dumps(GOOD[0], ensure_ascii=False), "{坏行", "{坏行"]).encode()
    for _ in range(2):
        service.import_data(rt, writer, data, origin="twice.jsonl")
    letters = [
        d for d in queries.list_dead_letters(rt) if d["location"] and d["location"].startswith("line=")
    ]
    # each bad line once, counted again when the file came again
    assert sorted((d["location"], d["repeats"]) for d in letters) == [("line=2", 1), ("line=3", 1)]


def rotating_feed(count: int) -> bytes:
    """A feed whose items are not listed again (a bridge that rotates them): what one fetch brings
    is its only copy."""
    items = "".join(
        f"<item><title>第{i}条</title><link>https://news.example.cn/r/{i}</link>"
        f"<description>某区第{i}号居民楼电梯故障困人，物业迟迟不来处理，居民投诉。</description></item>"
        for i in range(count)
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{items}</channel></rss>".encode()


def test_what_a_run_fetched_waits_out_a_database_lock_instead_of_being_lost(
    rt: Runtime, feeds: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails while a run stores what it fetched (another process holding SQLite's
    lock past its busy timeout, a lost PostgreSQL connection): the run holds the items and stores
    them once the database answers, each once, and finishes as any run does. A lock held 30 s used
    to drop the fetched document without a trace and leave its run 「running」."""
    from sqlalchemy.exc import OperationalError

    from yuqing.ingest.records import IngestCounts

    monkeypatch.setattr(service, "STORE_RETRY_FIRST_WAIT", 0.05)
    feeds.routes["/rotating.xml"] = Reply(200, {"Content-Type": "application/rss+xml"}, rotating_feed(120))
    source, _ = service.add_source(rt, "rss", feeds.url("/rotating.xml"), name="轮换源")
    failures = {"document": 1, "batch": 1}
    store_document, write_prepared = service.store_document, PostWriter.write_prepared

    def locked_document(*args: object, **kwargs: object) -> object:
        if failures["document"]:
            failures["document"] -= 1
            raise OperationalError("INSERT INTO documents", {}, Exception("database is locked"))
        return store_document(*args, **kwargs)  # type: ignore[arg-type]

    def locked_second_batch(self: PostWriter, *args: object, **kwargs: object) -> IngestCounts:
        stored = session_count(rt)
        if stored == 50 and failures["batch"]:  # the first batch of 50 is in, the second fails
            failures["batch"] -= 1
            raise OperationalError("INSERT INTO posts", {}, Exception("database is locked"))
        return write_prepared(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "store_document", locked_document)
    monkeypatch.setattr(PostWriter, "write_prepared", locked_second_batch)
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    with Fetcher(service.fetch_policy(rt.settings)) as fetcher:
        summary = service.run_source(rt, writer, source.id, fetcher)
    assert failures == {"document": 0, "batch": 0}  # both failures happened
    counts = summary.counts
    assert summary.outcome == "success" and counts.new + counts.near_duplicate == 120, summary
    assert counts.duplicate == 0  # nothing committed was stored again
    assert session_count(rt) == 120
    with rt.sessions() as session:
        links = set(session.scalars(select(Post.url)))
        assert links == {f"https://news.example.cn/r/{i}" for i in range(120)}
        run = session.scalars(select(FetchRun)).one()
        assert run.finished_at is not None and run.outcome == "success"
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0


def session_count(rt: Runtime) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(Post)) or 0


def test_a_slow_source_does_not_hold_up_the_others(rt: Runtime, feeds: LocalHTTPServer) -> None:
    """Sources are fetched several at a time: the slow source answers only once the quick one has
    been asked for, which never happens when they are fetched one after another (four hanging
    sources held a healthy one-minute source to every 2.4 to 3.8 minutes)."""
    import threading
    from http.server import BaseHTTPRequestHandler

    from tests.ingest.httpserver import send_reply

    quick_asked = threading.Event()

    def slow(handler: BaseHTTPRequestHandler) -> None:
        waited = quick_asked.wait(20)
        send_reply(
            handler, Reply(200, {"Content-Type": "application/rss+xml"}, rotating_feed(2 if waited else 1))
        )

    def quick(handler: BaseHTTPRequestHandler) -> None:
        quick_asked.set()
        send_reply(handler, Reply(200, {"Content-Type": "application/rss+xml"}, GOOD_FEED))

    feeds.routes["/slow.xml"] = slow
    feeds.routes["/quick.xml"] = quick
    rt.settings.fetch_concurrency = 2
    service.add_source(rt, "rss", feeds.url("/slow.xml"), name="慢源", schedule="1h")
    service.add_source(rt, "rss", feeds.url("/quick.xml"), name="快源", schedule="1h")
    summaries = SourceScheduler(rt, PostWriter(rt.sessions, rt.settings, rt.clock)).tick()
    assert [(s.source, s.outcome) for s in summaries] == [("慢源", "success"), ("快源", "success")]
    by_name = {s.source: s.counts for s in summaries}
    assert (
        by_name["慢源"].new + by_name["慢源"].near_duplicate == 2
    )  # it answered after the quick one was asked
