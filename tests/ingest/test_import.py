"""File imports through the real store: counts, duplicates, dead letters, crash and re-run."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from yuqing.ingest import service
from yuqing.ingest.models import DeadLetter, FetchRun, Post, PostSighting
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CED_SAMPLE = FIXTURES / "ced_sample.jsonl.gz"
LONG_TEXT = (
    "网传某市第一人民医院发生医疗事故，一名产妇在手术后死亡，家属在医院门口拉横幅讨说法，医院至今未作回应。"
)


def import_bytes(rt: Runtime, data: bytes, name: str, **kwargs: object) -> dict[str, int]:
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    return service.import_data(rt, writer, data, origin=name, **kwargs).as_dict()  # type: ignore[arg-type]


def count(rt: Runtime, model: type) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_ced_file_imports_with_the_default_mapping_and_twice_adds_nothing(rt: Runtime) -> None:
    data = CED_SAMPLE.read_bytes()
    rows = len(gzip.decompress(CED_SAMPLE.read_bytes()).splitlines())
    first = import_bytes(rt, data, "ced_sample.jsonl.gz")
    assert sum(first.values()) == rows
    assert first["rejected"] == 0
    stored = count(rt, Post)
    assert stored == first["new"] + first["near_duplicate"]

    second = import_bytes(rt, data, "ced_sample.jsonl.gz")
    assert second == {"new": 0, "duplicate": rows, "near_duplicate": 0, "rejected": 0}
    assert count(rt, Post) == stored

    with rt.sessions() as session:
        original = session.scalars(select(Post).where(Post.kind == "original")).first()
        assert original is not None
        assert original.platform == "weibo"
        assert original.published_at is not None and original.published_at.tzinfo is not None
        assert original.reposts is not None and original.author_followers is not None
        assert original.location
        assert original.extra and original.extra.get("rumor") in ("rumor", "non-rumor")
        kinds = dict(
            session.execute(
                select(Post.author_kind, func.count())
                .where(Post.kind == "original")
                .group_by(Post.author_kind)
            ).all()
        )
        # Weibo's verified_type: 3 a medium, 0 an individual, -1 (and no author) none
        assert kinds.get("media") == 1 and kinds.get("individual") == 3 and None in kinds
        repost = session.scalars(select(Post).where(Post.kind == "repost")).first()
        assert repost is not None and repost.root_external_id and repost.author_id


def test_exact_duplicates_by_content_are_stored_once_with_a_sighting(rt: Runtime) -> None:
    rows = [
        {"id": "a1", "text": LONG_TEXT, "url": "https://news.example.cn/a1.html"},
        {"id": "a2", "text": LONG_TEXT + "  ", "url": "https://bbs.example.cn/t/9?utm_source=x"},
        {"id": "a1", "text": LONG_TEXT, "url": "https://news.example.cn/a1.html?spm=1"},
    ]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    result = import_bytes(rt, data, "dups.jsonl")
    assert result == {"new": 1, "duplicate": 2, "near_duplicate": 0, "rejected": 0}
    with rt.sessions() as session:
        sightings = session.scalars(select(PostSighting)).all()
        assert [s.url for s in sightings] == ["https://bbs.example.cn/t/9?utm_source=x"]


def test_short_reposts_are_not_merged_by_content(rt: Runtime) -> None:
    rows = [{"id": f"r{i}", "text": "转发微博", "kind": "repost"} for i in range(5)]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    assert import_bytes(rt, data, "short.jsonl")["new"] == 5


def test_short_comments_without_link_or_id_are_known_by_author_and_time(rt: Runtime) -> None:
    """A comment export without ids: three people writing 「转发微博」 are three posts; the same
    row imported again is a duplicate. A long text without id is still one story's copy."""
    csv = (
        "author,text,published_at\n"
        "张三,转发微博,2026-11-20 08:01\n李四,转发微博,2026-11-20 08:02\n王五,转发微博,2026-11-20 08:03\n"
        "赵六,医院太黑了！,2026-11-20 08:04\n钱七,医院太黑了！,2026-11-20 08:05\n"
        f"孙八,{LONG_TEXT},2026-11-20 08:06\n周九,{LONG_TEXT},2026-11-20 08:07\n"
    ).encode()
    first = import_bytes(rt, csv, "comments.csv", file_format="csv", platform="weibo")
    assert first == {"new": 6, "duplicate": 1, "near_duplicate": 0, "rejected": 0}
    with rt.sessions() as session:
        authors = sorted(a for a in session.scalars(select(Post.author)) if a)
    assert authors == sorted(["张三", "李四", "王五", "赵六", "钱七", "孙八"])
    again = import_bytes(rt, csv, "comments.csv", file_format="csv", platform="weibo")
    assert again == {"new": 0, "duplicate": 7, "near_duplicate": 0, "rejected": 0}


def test_a_relative_time_in_a_file_is_a_dead_letter_that_says_why(rt: Runtime) -> None:
    """A file does not say when its rows were read, so 「3分钟前」 in it stands for no time: the row
    waits in the dead letters with the reason, the dated rows land."""
    csv = (
        "id,text,published_at\n"
        f"1,{LONG_TEXT},2026-11-20 08:01\n"
        "2,医院门口有人拉横幅，家属说医院一直没有回应，希望有关部门尽快调查。,3分钟前\n"
    ).encode()
    result = import_bytes(rt, csv, "export.csv", file_format="csv", platform="weibo")
    assert result == {"new": 1, "duplicate": 0, "near_duplicate": 0, "rejected": 1}
    with rt.sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
    assert "相对时间 '3分钟前' 无法换算" in letter.error and "具体日期" in letter.error


def test_an_item_with_neither_text_nor_title_waits_in_the_dead_letters_until_it_has_some(rt: Runtime) -> None:
    """A feed item or pushed post with only its id, kept, held nothing for good: its later copy with
    the text was a duplicate of it, and nobody read the explosion. A repost with no words of its
    own is a repost (it counts in the spread) and is kept."""
    empty = [{"id": "w8"}, {"id": "r1", "kind": "repost", "cascade": "o1", "text": ""}]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in empty).encode()
    assert import_bytes(rt, data, "empty.jsonl") == {
        "new": 1,
        "duplicate": 0,
        "near_duplicate": 0,
        "rejected": 1,
    }
    with rt.sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
    assert letter.location == "line=1" and "没有标题和正文" in letter.error
    later = json.dumps(
        {"id": "w8", "text": "某化工厂今天下午发生爆炸，已造成3人死亡，多人受伤送医。"}, ensure_ascii=False
    )
    assert import_bytes(rt, later.encode(), "later.jsonl")["new"] == 1
    with rt.sessions() as session:
        post = session.scalars(select(Post).where(Post.external_id == "w8")).one()
    assert "爆炸" in post.text


def test_near_duplicate_is_stored_and_linked_to_its_first_copy(rt: Runtime) -> None:
    copy = LONG_TEXT.replace("拉横幅", "拉条幅")
    rows = [
        {"id": "o", "text": LONG_TEXT},
        {"id": "c", "text": copy},
        {"id": "u", "text": "今天天气晴朗，适合外出踏青，公园里的樱花开了，游客很多，大家都在拍照留念。"},
    ]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    assert import_bytes(rt, data, "near.jsonl") == {
        "new": 2,
        "duplicate": 0,
        "near_duplicate": 1,
        "rejected": 0,
    }
    with rt.sessions() as session:
        first = session.scalar(select(Post).where(Post.external_id == "o"))
        second = session.scalar(select(Post).where(Post.external_id == "c"))
        assert first is not None and second is not None
        assert second.near_duplicate_of == first.id
        assert second.similarity is not None and second.similarity > 0.7


def test_near_duplicate_found_across_imports(rt: Runtime) -> None:
    import_bytes(rt, json.dumps({"id": "o", "text": LONG_TEXT}, ensure_ascii=False).encode(), "a.jsonl")
    copy = json.dumps({"id": "c", "text": "转发：" + LONG_TEXT}, ensure_ascii=False).encode()
    # A new writer (a new process) loads the index from the store.
    assert import_bytes(rt, copy, "b.jsonl")["near_duplicate"] == 1


def test_copies_link_to_the_original_after_a_restart(rt: Runtime) -> None:
    """Issue item 20: the index rebuilt by a new writer (a restarted process) knew every stored copy
    as an original of its own, so a later copy closest to a copy linked to that copy."""
    copy = LONG_TEXT + "//@张三: 太可怕了，必须严查到底，还家属一个公道"
    copy_of_copy = copy + "//@李四: 转发支持"
    first = [{"id": "o", "text": LONG_TEXT}, {"id": "c1", "text": copy}]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in first).encode()
    assert import_bytes(rt, data, "part1.jsonl")["near_duplicate"] == 1
    # The rest of the file, by a new writer, as after a killed and resumed import.
    rest = json.dumps({"id": "c2", "text": copy_of_copy}, ensure_ascii=False).encode()
    assert import_bytes(rt, rest, "part2.jsonl")["near_duplicate"] == 1
    with rt.sessions() as session:
        ids = {p.external_id: p for p in session.scalars(select(Post))}
        assert ids["c1"].near_duplicate_of == ids["o"].id
        assert ids["c2"].near_duplicate_of == ids["o"].id


def test_bad_lines_go_to_dead_letters_and_the_rest_lands(rt: Runtime) -> None:
    data = "\n".join(
        [
            json.dumps({"id": "1", "text": LONG_TEXT}, ensure_ascii=False),
            "{这不是 JSON",
            "[1, 2]",
            json.dumps({"id": "2", "text": "另一条", "published_at": "某天"}, ensure_ascii=False),
            json.dumps({"views": 3}),
            json.dumps({"id": "3", "text": "第三条", "reposts": "1.2万"}, ensure_ascii=False),
        ]
    ).encode()
    result = import_bytes(rt, data, "mixed.jsonl")
    assert result == {"new": 2, "duplicate": 0, "near_duplicate": 0, "rejected": 4}
    with rt.sessions() as session:
        letters = session.scalars(select(DeadLetter).order_by(DeadLetter.location)).all()
        assert {d.location for d in letters} == {"line=2", "line=3", "line=4", "line=5"}
        bad_json = next(d for d in letters if d.location == "line=2")
        assert "不是合法 JSON" in bad_json.error
        assert bad_json.raw == "{这不是 JSON".encode()
        assert "时间" in next(d for d in letters if d.location == "line=4").error
        third = session.scalar(select(Post).where(Post.external_id == "3"))
        assert third is not None and third.reposts == 12000


def test_import_killed_halfway_then_rerun_adds_nothing_twice(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"id": f"p{i}", "text": f"第{i}条：{LONG_TEXT[: 10 + i % 30]}{i}"} for i in range(120)]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    calls = {"n": 0}
    real = writer.write_prepared

    def crash_on_second_batch(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "write_prepared", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        service.import_data(rt, writer, data, origin="big.jsonl")
    assert count(rt, Post) == rt.settings.import_batch_size  # the first batch was committed

    again = import_bytes(rt, data, "big.jsonl")
    assert again["duplicate"] == rt.settings.import_batch_size
    assert again["new"] + again["near_duplicate"] == 120 - rt.settings.import_batch_size
    assert count(rt, Post) == 120


def test_csv_in_gbk_with_a_ragged_row(rt: Runtime) -> None:
    csv_text = (
        "id,title,text,published_at\n"
        f"n1,医院回应,{LONG_TEXT},2026-11-20 08:00\n"
        "n2,缺一列,正文\n"
        "n3,学校食堂,某校食堂被曝使用过期食材，学生家长要求彻查，教育局表示已介入调查。,2026-11-20 09:00\n"
    )
    result = import_bytes(rt, csv_text.encode("gbk"), "posts.csv")
    assert result == {"new": 2, "duplicate": 0, "near_duplicate": 0, "rejected": 1}
    with rt.sessions() as session:
        post = session.scalar(select(Post).where(Post.external_id == "n3"))
        assert post is not None and post.title == "学校食堂" and "过期食材" in post.text
        letter = session.scalars(select(DeadLetter)).one()
        assert "3 列" in letter.error and "4 列" in letter.error


def test_a_quote_never_closed_costs_its_own_row_not_the_rows_after_it(rt: Runtime) -> None:
    """Row 6 opens a quote that never closes: the csv reader takes every line after it as one
    field of that row; those rows are read again one by one and land."""
    rows = [f"c{i},第{i}条：{LONG_TEXT}" for i in range(2, 21)]
    rows[4] = 'c6,"网友称医院拒收病人，引号没有闭合'
    data = ("id,text\n" + "\n".join(rows) + "\n").encode("utf-8")
    result = import_bytes(rt, data, "quote.csv", file_format="csv")
    assert result["new"] + result["near_duplicate"] == 18 and result["rejected"] == 1
    with rt.sessions() as session:
        stored = set(session.scalars(select(Post.external_id)))
        assert stored == {f"c{i}" for i in range(2, 21)} - {"c6"}
        [letter] = session.scalars(select(DeadLetter)).all()
        assert letter.location == "line=6" and "引号没有闭合" in letter.error


def test_xlsx_with_a_user_mapping(rt: Runtime) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["链接", "内容", "时间", "阅读"])
    sheet.append(["https://bbs.example.cn/t/1", LONG_TEXT, "2026-11-20 10:00", 1500])
    sheet.append(
        ["https://bbs.example.cn/t/2", "某小区停水三天无人回应，居民投诉无门。", "2026-11-20 11:00", 20]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    source, _ = service.add_source(
        rt,
        "file",
        None,
        name="论坛导出",
        config={"mapping": {"url": "链接", "text": "内容", "published_at": "时间", "views": "阅读"}},
    )
    result = import_bytes(rt, buffer.getvalue(), "export.xlsx", source_name="论坛导出")
    assert result == {"new": 2, "duplicate": 0, "near_duplicate": 0, "rejected": 0}
    with rt.sessions() as session:
        post = session.scalar(select(Post).where(Post.url == "https://bbs.example.cn/t/1"))
        assert post is not None and post.views == 1500 and post.source_id == source.id


def test_an_offices_chinese_sheet_imports_without_a_mapping(rt: Runtime) -> None:
    """A sheet as an office or another 舆情 system keeps it: a merged title row above the header,
    Chinese column names, 「平台」 merged down the rows of one platform, platforms named in Chinese.
    No mapping is needed; every post lands with its platform's code."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["某市网络舆情信息汇总表（11月20日）"])
    sheet.merge_cells("A1:F1")
    sheet.append(["平台", "标题", "正文", "发布时间", "原文链接", "转发数"])
    sheet.append(["新浪微博", None, LONG_TEXT, "2026-11-20 09:00", "https://weibo.com/1/A1", 620])
    sheet.append(
        [
            None,
            None,
            "某小区停水三天无人回应，居民投诉无门。",
            "2026-11-20 09:30",
            "https://weibo.com/1/A2",
            8,
        ]
    )
    sheet.merge_cells("A3:A4")
    sheet.append(
        [
            "微信公众号",
            "医院回应",
            "医院就网传事件作出说明。",
            "2026-11-20 10:00",
            "https://mp.weixin.qq.com/s/x",
            None,
        ]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = import_bytes(rt, buffer.getvalue(), "汇总表.xlsx")
    assert result == {"new": 3, "duplicate": 0, "near_duplicate": 0, "rejected": 0}
    with rt.sessions() as session:
        posts = {p.url: p for p in session.scalars(select(Post))}
    assert (
        posts["https://weibo.com/1/A1"].platform == "weibo" and posts["https://weibo.com/1/A1"].reposts == 620
    )
    assert posts["https://weibo.com/1/A2"].platform == "weibo"  # the merged cell counts for its rows
    assert posts["https://mp.weixin.qq.com/s/x"].platform == "wechat"
    assert posts["https://mp.weixin.qq.com/s/x"].title == "医院回应"
    assert posts["https://weibo.com/1/A2"].text == "某小区停水三天无人回应，居民投诉无门。"


def test_traditional_text_is_kept_and_simplified(rt: Runtime) -> None:
    row = {"id": "t1", "text": "網傳某醫院發生醫療事故，家屬質疑院方隱瞞真相，要求公開調查結果。"}
    import_bytes(rt, json.dumps(row, ensure_ascii=False).encode(), "tw.jsonl")
    with rt.sessions() as session:
        post = session.scalars(select(Post)).one()
        assert post.text_original == row["text"]
        assert post.text == "网传某医院发生医疗事故，家属质疑院方隐瞒真相，要求公开调查结果。"


def test_prepare_in_worker_gives_the_same_result(rt: Runtime) -> None:
    from yuqing.ingest.files import read_rows

    data = CED_SAMPLE.read_bytes()
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    source_id = service.ensure_file_source(rt, "worker", "weibo")
    with rt.sessions() as session:
        context = service.source_context(service.find_source(session, source_id), rt.settings)
    counts = writer.write(context, lambda: read_rows(data, "jsonl"), prepare_in_worker=True)
    direct = import_bytes(rt, data, "again.jsonl.gz")
    assert counts.new + counts.near_duplicate == count(rt, Post)
    assert direct["duplicate"] == counts.read


def test_worker_errors_reach_the_user(rt: Runtime) -> None:
    from yuqing.ingest.files import ImportFormatError, read_rows

    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    source_id = service.ensure_file_source(rt, "worker", "weibo")
    with rt.sessions() as session:
        context = service.source_context(service.find_source(session, source_id), rt.settings)
    with pytest.raises(ImportFormatError, match="JSON"):
        writer.write(context, lambda: read_rows(b"[{broken", "json"), prepare_in_worker=True)


def test_rows_lost_to_a_concurrent_writer_count_as_duplicates(rt: Runtime) -> None:
    """Another process may store the same post between our duplicate check and our insert."""
    topics = [
        "医院门口家属拉横幅讨说法",
        "学校食堂被曝使用过期食材",
        "化工厂夜间偷排废水遭举报",
        "地铁扶梯故障致多名乘客受伤",
        "小区连续停水三天无人回应",
    ]
    rows = [
        {"id": f"c{i}", "text": f"网友爆料：{t}，相关部门尚未作出回应，引发大量关注。"}
        for i, t in enumerate(topics)
    ]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    real = writer._dedup_exact

    def blind_then_race(session: object, drafts: list[object]) -> object:
        fresh, sightings = real(session, drafts)  # type: ignore[arg-type]
        # The other writer commits one of them first.
        other = import_bytes(rt, (json.dumps(rows[2], ensure_ascii=False)).encode(), "other.jsonl")
        assert other["new"] == 1
        return fresh, sightings

    writer._dedup_exact = blind_then_race  # type: ignore[method-assign]
    source_id = service.ensure_file_source(rt, "race", None)
    with rt.sessions() as session:
        context = service.source_context(service.find_source(session, source_id), rt.settings)
    from yuqing.ingest.files import read_rows
    from yuqing.ingest.models import FetchRun

    with rt.sessions() as session, session.begin():
        run = FetchRun(source_id=source_id, started_at=rt.clock())
        session.add(run)
        session.flush()
        run_id = run.id
    counts = writer.write(context, read_rows(data, "jsonl"), run_id=run_id)
    assert counts.as_dict() == {"new": 4, "duplicate": 1, "near_duplicate": 0, "rejected": 0}
    with rt.sessions() as session:
        stored = {p.external_id: p.text for p in session.scalars(select(Post))}
    assert len(stored) == 5
    assert all(topic in stored[f"c{i}"] for i, topic in enumerate(topics))


def test_the_same_url_from_another_source_is_a_sighting_and_a_refetch_is_not(rt: Runtime) -> None:
    """One Weibo post through two bridges (an export and a webhook) is one post seen twice."""
    url = "https://weibo.com/1195230310/NbSx3A"
    row = {"id": "4321", "url": url, "text": "某医院发生医疗纠纷，家属讨说法"}
    data = json.dumps(row, ensure_ascii=False).encode()
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    service.import_data(rt, writer, data, origin="export.jsonl", source_name="导出A")
    again = service.import_data(rt, writer, data, origin="export.jsonl", source_name="导出A")
    assert again.duplicate == 1
    with rt.sessions() as session:
        assert session.scalars(select(PostSighting)).all() == []  # the same source again: a refetch
    other = service.import_data(rt, writer, data, origin="hook.jsonl", source_name="推送B")
    assert other.duplicate == 1
    with rt.sessions() as session:
        post = session.scalars(select(Post)).one()
        sighting = session.scalars(select(PostSighting)).one()
        assert sighting.post_id == post.id and sighting.source_id != post.source_id
        assert sighting.url == row["url"]


def test_a_file_over_the_import_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is kept whole as evidence and the database holds about 10^9 bytes in one value:
    a larger file crashed the import after reading it all, leaving no run and no dead letter."""
    from typer.testing import CliRunner

    from yuqing.cli.main import app
    from yuqing.runtime import open_runtime

    monkeypatch.setattr(service, "IMPORT_MAX_FILE_BYTES", 1000)
    big = tmp_path / "big.jsonl"
    big.write_text(json.dumps({"id": "a", "text": LONG_TEXT}, ensure_ascii=False) * 20, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(big)])
    assert result.exit_code == 1
    assert "超过单个文件 1,000 字节的导入上限" in result.output and "split -l" in result.output
    rt = open_runtime()
    try:
        with rt.sessions() as session:
            run = session.scalars(select(FetchRun)).one()
            assert run.outcome == "failed" and "导入上限" in (run.error or "")
            letter = session.scalars(select(DeadLetter)).one()
            assert letter.location == str(big) and "split" in letter.error
            assert session.scalars(select(Post)).all() == []
    finally:
        rt.close()


def test_a_csv_of_utf8_rows_with_gbk_rows_appended_keeps_every_row_readable(rt: Runtime) -> None:
    """Two exports merged into one file (UTF-8 from one tool, GBK from Excel): no one encoding
    reads it, and the GBK rows were stored as 「/ͬ�⣬��һ�ºã」 with no dead letter."""
    utf8 = "".join(f"u{i},第{i}条：{LONG_TEXT}\n" for i in range(200)).encode("utf-8")
    gbk = "".join(f"g{i},同意，改一下好！第{i}条回复\n" for i in range(20)).encode("gbk")
    data = b"id,text\n" + utf8 + gbk + b"g99,\xff\xfe\xfd\xfc broken\n"
    result = import_bytes(rt, data, "merged.csv", file_format="csv", platform="weibo")
    assert result["new"] + result["near_duplicate"] == 220 and result["rejected"] == 1
    with rt.sessions() as session:
        texts = dict(session.execute(select(Post.external_id, Post.text)).all())
        assert texts["g7"] == "同意，改一下好！第7条回复"
        assert texts["u150"].startswith("第150条：网传某市")
        assert not any("\ufffd" in t for t in texts.values())
        [letter] = session.scalars(select(DeadLetter)).all()
        assert "编码无法识别" in letter.error and letter.location == "line=222"


def test_json_lines_saved_as_gbk_or_as_utf16_are_read(rt: Runtime) -> None:
    """A crawler on Chinese Windows writes GBK; PowerShell's `>` and Notepad's 「Unicode」 write
    UTF-16 with a byte-order mark. Every line had been a dead letter 「str is not valid UTF-8」."""
    rows = [
        {"id": "g1", "text": LONG_TEXT, "published_at": "2026-11-20T08:00:00+08:00"},
        {"id": "g2", "text": "某校食堂被曝使用过期食材，学生家长要求彻查，教育局表示已介入调查。"},
    ]
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    gbk = lines.encode("gbk") + b'{"id": "g3", "text": "\xff\xfe broken"}\n' + "不是 JSON\n".encode("gbk")
    result = import_bytes(rt, gbk, "gbk.jsonl")
    assert result == {"new": 2, "duplicate": 0, "near_duplicate": 0, "rejected": 2}
    with rt.sessions() as session:
        post = session.scalar(select(Post).where(Post.external_id == "g2"))
        assert post is not None and "过期食材" in post.text
        errors = sorted(letter.error for letter in session.scalars(select(DeadLetter)))
    assert errors[0].startswith("第 3 行不是合法 JSON：既不是 UTF-8 编码，也无法按 GBK 读取")
    assert errors[1] == "第 4 行不是合法 JSON：含有不合 JSON 语法的字符（第 1 个字符处）"

    utf16 = lines.replace("g1", "u1").replace("g2", "u2").replace("某校", "某中学").encode("utf-16")
    assert utf16[:2] in (b"\xff\xfe", b"\xfe\xff")
    again = import_bytes(rt, utf16, "utf16.jsonl")  # copies of g1 and g2, read and known as copies
    assert again == {"new": 0, "duplicate": 1, "near_duplicate": 1, "rejected": 0}
    with rt.sessions() as session:
        assert session.scalar(select(Post.text).where(Post.external_id == "u2")) == rows[1]["text"].replace(
            "某校", "某中学"
        )


def test_a_file_that_is_not_json_lines_at_all_is_one_dead_letter_not_thousands(rt: Runtime) -> None:
    """3 MB of random bytes imported as JSONL made 11,623 dead letters, one per "line"."""
    import random

    noise = random.Random(7).randbytes(300_000)
    result = import_bytes(rt, noise, "rnd.jsonl")
    assert result["new"] == 0 and result["rejected"] == 1
    with rt.sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
    assert letter.location == "file" and "这不像 JSON Lines 文件" in letter.error
    assert "二进制文件" in letter.error and letter.raw == noise[:4096]
    # a few bad lines before the first good one are each a dead letter of their own, as before
    bad = "\n".join(f"坏行 {n}" for n in range(5))
    good = json.dumps({"id": "late", "text": LONG_TEXT}, ensure_ascii=False)
    assert import_bytes(rt, f"{bad}\n{good}\n".encode(), "late.jsonl") == {
        "new": 1,
        "duplicate": 0,
        "near_duplicate": 0,
        "rejected": 5,
    }


def test_a_file_named_xlsx_that_is_no_workbook_says_so_in_chinese(rt: Runtime) -> None:
    """openpyxl's 「File is not a zip file」 reached the office as it was."""
    result = import_bytes(rt, b"PK\x03\x04" + bytes(range(256)) * 4, "posts.xlsx")  # a zip cut short
    assert result["new"] == 0
    with rt.sessions() as session:
        errors = list(session.scalars(select(DeadLetter.error)))
    assert any("不是有效的 .xlsx 文件" in e for e in errors), errors


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "json"])
def test_a_compressed_file_cut_short_keeps_every_row_before_the_cut(rt: Runtime, file_format: str) -> None:
    """A download or copy that stopped early: each whole row before the cut lands, the row it cut
    is a dead letter with its bytes, and the damage is named. gzip.GzipFile dropped the rows its
    last read had decompressed (41 lines of 13,990 on a 20,000-line file cut at 70%)."""
    texts = [json.loads(line).get("text") for line in gzip.decompress(CED_SAMPLE.read_bytes()).splitlines()]
    texts = [" ".join(text.split()) for text in texts if text and len(text) >= 15]
    rows = [{"id": f"r{n}", "text": f"{n}：{texts[n % len(texts)]}"} for n in range(6000)]
    if file_format == "json":
        pieces = [b"["] + [json.dumps(row, ensure_ascii=False).encode() + b"," for row in rows]
        pieces[-1] = pieces[-1][:-1] + b"]"
    elif file_format == "jsonl":
        pieces = [b""] + [json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows]
    else:
        pieces = [b"id,text\r\n"] + [csv_line([row["id"], row["text"]]) for row in rows]
    ends = [len(b"".join(pieces[: n + 2])) for n in range(len(rows))]  # where each row's bytes end
    packed = gzip.compress(b"".join(pieces))
    cut = packed[: len(packed) * 7 // 10]
    readable = len(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut))
    whole = sum(1 for end in ends if end <= readable)

    result = import_bytes(rt, cut, f"cut.{file_format}.gz")

    assert result["rejected"] == 1
    landed = result["new"] + result["near_duplicate"]
    # a record of a JSON array is whole at its closing brace, before the comma that ends it here
    assert landed == whole or (file_format == "json" and landed == whole + 1), (landed, whole)
    with rt.sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert f"压缩文件在第 {landed + (file_format == 'csv')} " in letter.error and "损坏" in letter.error
        if file_format != "json":  # a record of a JSON array has no line of its own to keep
            assert letter.raw and rows[landed]["id"].encode() in letter.raw


def csv_line(values: list[str]) -> bytes:
    line = io.StringIO()
    csv.writer(line).writerow(values)
    return line.getvalue().encode()
