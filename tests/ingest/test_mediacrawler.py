"""MediaCrawler output files (platform sources issue, item 4): notes, videos and comments of
Weibo, Xiaohongshu and Douyin land as posts with their platform, author, engagement and own URL;
comments join their note (root) and answer their parent; both schema generations read."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from yuqing.ingest import service
from yuqing.ingest.models import DeadLetter, Post
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

DATA = Path(__file__).parent / "fixtures" / "mediacrawler"


def load(rt: Runtime, relative: str) -> dict[str, int]:
    path = DATA / relative
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    return service.import_data(
        rt, writer, path.read_bytes(), origin=str(path), layout="mediacrawler"
    ).as_dict()


def by_id(rt: Runtime) -> dict[str, Post]:
    with rt.sessions() as session:
        return {p.external_id or "": p for p in session.scalars(select(Post))}


def test_weibo_notes_and_comments_land_with_their_links(rt: Runtime) -> None:
    assert load(rt, "data/weibo/json/search_contents_2026-06-12.json")["new"] == 4
    assert load(rt, "data/weibo/json/search_comments_2026-06-12.json")["new"] == 5
    posts = by_id(rt)
    notes = [p for p in posts.values() if p.kind == "original"]
    comments = [p for p in posts.values() if p.kind == "comment"]
    assert len(notes) == 4 and len(comments) == 5
    assert all(
        p.platform == "weibo" and p.url and p.url.startswith("https://m.weibo.cn/detail/") for p in notes
    )
    assert all(p.author and p.published_at for p in posts.values())
    assert all(isinstance(p.likes, int) for p in notes)
    note_ids = {p.external_id for p in notes}
    assert all(c.root_external_id in note_ids for c in comments)  # a comment joins its note's event
    replies = [c for c in comments if (c.parent_external_id or "").startswith("comment:")]
    assert len(replies) == 1 and replies[0].parent_external_id in posts
    top = [c for c in comments if c not in replies]
    assert all(c.parent_external_id == c.root_external_id for c in top)


def test_xiaohongshu_csv_and_douyin_json_keep_platform_counts_and_times(rt: Runtime) -> None:
    assert load(rt, "data/xhs/csv/search_contents_2026-06-12.csv") == {
        "new": 3,
        "duplicate": 0,
        "near_duplicate": 0,
        "rejected": 0,
    }
    assert load(rt, "data/douyin/json/search_contents_2026-06-12.json")["new"] == 3
    posts = list(by_id(rt).values())
    xhs = [p for p in posts if p.platform == "xiaohongshu"]
    douyin = [p for p in posts if p.platform == "douyin"]
    assert len(xhs) == 3 and len(douyin) == 3
    assert any(p.likes == 12000 for p in xhs)  # "1.2万"
    assert all(p.url and "xiaohongshu.com" in p.url for p in xhs)
    assert all(p.url and p.url.startswith("https://www.douyin.com/") for p in douyin)
    # Times in milliseconds (xhs) and seconds (douyin) both land in June 2026.
    assert all(p.published_at and p.published_at.year == 2026 and p.published_at.month == 6 for p in posts)


def test_a_note_crawled_again_with_another_page_token_is_the_same_post(rt: Runtime) -> None:
    """MediaCrawler's Xiaohongshu `note_url` carries the search's `xsec_token`/`xsec_source` (a
    real export of 2025-09 has them on every note); a later crawl gets other tokens for the same
    notes. The note's address is without them, so the second crawl adds no post."""
    assert load(rt, "data/xhs/csv/search_contents_2026-06-12.csv")["new"] == 3
    again = (DATA / "data/xhs/csv/search_contents_2026-06-12.csv").read_bytes()
    again = again.replace(b"ABsyntheticFixtureToken", b"ABanotherCrawlsToken").replace(
        b"xsec_source=pc_search", b"xsec_source=pc_feed"
    )
    assert b"ABanotherCrawlsToken" in again
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    counts = service.import_data(
        rt, writer, again, origin="/crawl/data/xhs/csv/search_contents_2026-06-13.csv", layout="mediacrawler"
    ).as_dict()
    assert counts["new"] == 0 and counts["duplicate"] == 3, counts
    xhs = list(by_id(rt).values())
    assert len(xhs) == 3
    assert all(p.canonical_url and "xsec_" not in p.canonical_url for p in xhs)
    assert all(p.url and "xsec_token=" in p.url for p in xhs)  # the link as crawled still opens the page


def test_the_newer_schema_and_rows_that_are_not_mediacrawlers(rt: Runtime) -> None:
    assert load(rt, "data_head/weibo/jsonl/search_contents_2026-08-10.jsonl")["new"] == 3
    assert load(rt, "data_head/weibo/jsonl/search_comments_2026-08-10.jsonl")["new"] == 3
    assert all(p.author_id for p in by_id(rt).values())  # the creator_hash stands for the id
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    counts = service.import_data(rt, writer, b'{"text": "no id"}\n', origin="x.jsonl", layout="mediacrawler")
    assert counts.rejected == 1
    with rt.sessions() as session:
        assert "不是 MediaCrawler 的记录" in session.scalars(select(DeadLetter)).one().error


def test_comments_join_their_notes_event(rt: Runtime) -> None:
    """A note is known by its link, a comment names it by id: they still meet in one event."""
    from yuqing.analysis import topics
    from yuqing.analysis.models import PostAnalysis
    from yuqing.analysis.pipeline import AnalysisPipeline
    from yuqing.db import transaction
    from yuqing.org import service as org

    with transaction(rt.sessions) as session:
        org.create_unit(session, "青禾市卫健委")
    topics.add_topic(rt, "医疗", "青禾 + (医院|急诊|二院)", "青禾市卫健委")
    load(rt, "data/weibo/json/search_contents_2026-06-12.json")
    load(rt, "data/weibo/json/search_comments_2026-06-12.json")
    AnalysisPipeline(rt).run()
    posts = by_id(rt)
    with rt.sessions() as session:
        event_of = dict(session.execute(select(PostAnalysis.post_id, PostAnalysis.event_id)).tuples().all())
    notes = {p.external_id: p for p in posts.values() if p.kind == "original"}
    comments = [p for p in posts.values() if p.kind == "comment"]
    joined = [
        c for c in comments if c.root_external_id in notes and event_of.get(notes[c.root_external_id].id)
    ]
    assert joined, "no comment's note formed an event"
    for comment in joined:
        assert event_of.get(comment.id) == event_of[notes[comment.root_external_id or ""].id]


def test_records_of_tieba_comments_and_zhihu_answers() -> None:
    from yuqing.ingest.mediacrawler import convert

    tieba = convert(
        {
            "comment_id": "c1",
            "note_id": "9001",
            "content": "顶",
            "note_url": "https://tieba.baidu.com/p/9001",
        },
        "tieba",
    )
    assert "url" not in tieba and tieba["id"] == "comment:c1" and tieba["cascade"] == "9001"
    assert tieba["platform"] == "tieba"  # from the note's link
    zhihu = convert({"content_id": "7", "desc": "摘要……", "content_text": "全文：某医院的情况是这样的"})
    assert zhihu["text"] == "全文：某医院的情况是这样的"
    unknown = convert({"note_id": "1", "content": "无平台线索"})
    assert "platform" not in unknown  # the import's --platform applies
