"""Online event clustering: links, near-duplicates, quoted chains, windows, topics, snapshots,
the CLI entry's field discipline, B-cubed, and a real-data check against the TF-IDF baseline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from yuqing.analysis.cluster_eval import (
    BASELINE_THRESHOLDS,
    baseline_cluster,
    bcubed,
    build_stream,
    cluster_stream,
)
from yuqing.analysis.clustering import EventClusterer, Post, assign_events, quoted_texts

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "cascades_sample.jsonl"
TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2024, 3, 1, 9, 0, tzinfo=TZ)

# real incident reports (CED originals)
HOSPITAL = (
    "【深圳一产妇在医院分娩后死亡 家属质疑院方抢救不力】昨日凌晨，深圳市某医院一名产妇在剖腹产后大出血死亡，"
    "家属称医生在抢救过程中处置不当，院方表示将配合卫生部门调查。"
)
FOOD = (
    "【毒豆芽流入市场】广州警方查获一处黑作坊，使用无根剂和漂白剂生产豆芽，"
    "每天向菜市场供货上千斤，目前已被查封。"
)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_repost_quoting_the_original_joins_its_event() -> None:
    c = EventClusterer()
    first = c.add(Post("a", HOSPITAL, at(0)))
    c.add(Post("b", FOOD, at(1)))
    repost = c.add(Post("c", f"太可怕了，医院必须给个说法//@深圳身边事:{HOSPITAL}", at(5)))
    assert repost == first
    assert quoted_texts(f"评论//@甲:{HOSPITAL}") == [HOSPITAL]


def test_quoted_chain_of_a_repost_joins() -> None:
    c = EventClusterer(detect_duplicates=False)
    first = c.add(Post("a", HOSPITAL, at(0)))
    c.add(Post("b", FOOD, at(1)))
    middle = f"医院必须给个说法！//@深圳身边事:{HOSPITAL}"
    assert c.add(Post("c", middle, at(2))) == first
    # quotes the repost "c" (whose own text holds a chain): found by its exact text
    assert c.add(Post("d", f"顶//@小王:{middle}", at(30))) == first


def test_near_duplicate_joins_its_original() -> None:
    c = EventClusterer()
    first = c.add(Post("a", HOSPITAL, at(0)))
    c.add(Post("b", FOOD, at(1)))
    edited = "转发：" + HOSPITAL.replace("昨日凌晨", "昨天凌晨")
    assert c.add(Post("c", edited, at(20))) == first
    # a near-duplicate id given by the caller is followed too
    c2 = EventClusterer(detect_duplicates=False)
    e = c2.add(Post("x", HOSPITAL, at(0)))
    c2.add(Post("y", FOOD, at(1)))
    assert c2.add(Post("z", "完全不同的文字内容，关于足球比赛的评论而已啊", at(2), duplicate_of="x")) == e


def test_unrelated_posts_make_two_events() -> None:
    c = EventClusterer()
    assert c.add(Post("a", HOSPITAL, at(0))) != c.add(Post("b", FOOD, at(600)))
    assert len(c.events()) == 2


def test_window_expiry_starts_a_new_event() -> None:
    c = EventClusterer(window=dt.timedelta(hours=72))
    first = c.add(Post("a", HOSPITAL, at(0)))
    assert c.add(Post("b", HOSPITAL + "！", at(60), root_id="a")) == first
    later = at(60 + 73 * 60)
    again = c.add(Post("c", HOSPITAL, later, root_id="a"))
    assert again != first
    closed = c.drain_closed()
    assert [e.id for e in closed] == [first]
    assert not closed[0].open
    assert c.event(first) is None


def test_root_and_parent_links_join() -> None:
    c = EventClusterer(detect_duplicates=False)
    first = c.add(Post("a", HOSPITAL, at(0)))
    other = c.add(Post("b", FOOD, at(1)))
    assert other != first
    reply = "说得对，支持你的看法，希望早日有结果！"
    assert c.add(Post("c", reply, at(2), root_id="a")) == first
    assert c.add(Post("d", reply + "同感", at(3), parent_id="b")) == other
    assert c.add(Post("e", "顶一下，大家都来关注一下这件事情吧", at(4), parent_id="c")) == first


def test_topic_partitions_keep_events_apart() -> None:
    c = EventClusterer()
    a = c.add(Post("a", HOSPITAL, at(0), topic="医疗"))
    b = c.add(Post("b", HOSPITAL, at(1), topic="社会"))
    assert a != b
    assert c.add(Post("c", HOSPITAL + "！！", at(2), topic="医疗")) == a
    assert c.add(Post("d", "这条没有主题的帖子讨论的是别的事情，天气不错", at(3))) not in {a, b}
    topics = {e.id: e.topic for e in c.events()}
    assert topics[a] == "医疗"
    assert topics[b] == "社会"


def test_a_repost_without_a_topic_joins_its_roots_topic_event_within_its_scope() -> None:
    c = EventClusterer(detect_duplicates=False)
    real = c.add(Post("a", HOSPITAL, at(0), topic="1"))
    drill = c.add(Post("da", HOSPITAL, at(0), topic="1@drill7"))
    assert drill != real
    # 「真的假的」 matches no topic rule, but it is a repost of the original: it belongs there.
    assert c.add(Post("b", "真的假的", at(1), root_id="a")) == real
    assert c.add(Post("db", "真的假的", at(1), topic="@drill7", root_id="da")) == drill
    # Never across scopes: a drill's repost cannot join a real event, nor a real one a drill's.
    assert c.add(Post("dx", "不知道真假。。。", at(2), topic="@drill7", root_id="a")) not in {real, drill}
    assert c.add(Post("x", "不知道真假。。。", at(2), root_id="da")) not in {real, drill}
    # A post with a topic of its own stays in its topic even when it replies to another topic's post.
    assert c.add(Post("c", "这家医院必须给个说法", at(3), topic="2", root_id="a")) != real
    sizes = {e.id: e.size for e in c.events()}
    assert sizes[real] == 2 and sizes[drill] == 2


def test_event_state_title_keywords_times() -> None:
    c = EventClusterer()
    eid = c.add(Post("a", HOSPITAL, at(0)))
    c.add(Post("b", "产妇死亡太可怜了，医院要负责任", at(5), root_id="a"))
    info = c.event(eid)
    assert info is not None
    assert info.title == HOSPITAL
    assert info.title_post_id == "a"
    assert info.size == 2
    assert info.post_ids == ["a", "b"]
    assert info.first_seen == at(0)
    assert info.last_seen == at(5)
    assert "产妇" in info.keywords


def test_snapshot_restore_continues_identically() -> None:
    stream = build_stream(FIXTURE, n_cascades=12, seed=0)
    posts = [Post(p.id, p.text, p.published_at) for p in stream]
    whole = EventClusterer().add_many(posts)
    c = EventClusterer()
    half = len(posts) // 2
    first = c.add_many(posts[:half])
    data = c.snapshot()
    assert isinstance(data, bytes)
    restored = EventClusterer.restore(data)
    second = restored.add_many(posts[half:])
    assert first + second == whole
    assert restored.snapshot() != data


def test_single_and_batch_agree() -> None:
    stream = build_stream(FIXTURE, n_cascades=12, seed=1)[:120]
    posts = [Post(p.id, p.text, p.published_at) for p in stream]
    one = EventClusterer()
    assert [one.add(p) for p in posts] == EventClusterer().add_many(posts)


class Guarded(dict[str, Any]):
    """A record that fails the test if a label field is read."""

    FORBIDDEN = frozenset({"cascade", "rumor", "kind"})

    def __getitem__(self, key: str) -> Any:
        assert key not in self.FORBIDDEN, key
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        assert key not in self.FORBIDDEN, key
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        assert key not in self.FORBIDDEN, key
        return super().__contains__(key)

    def __iter__(self) -> Any:
        raise AssertionError("records must not be iterated")

    def keys(self) -> Any:
        raise AssertionError("records must not be iterated")

    def items(self) -> Any:
        raise AssertionError("records must not be iterated")

    def values(self) -> Any:
        raise AssertionError("records must not be iterated")


def test_assign_events_never_reads_labels_and_sorts() -> None:
    rows: list[dict[str, Any]] = [
        {"id": "2", "text": FOOD, "published_at": "2024-03-01T10:00:00+08:00"},
        {"id": "1", "text": HOSPITAL, "published_at": "2024-03-01T09:00:00+08:00"},
        {"id": "4", "text": "没有时间的帖子，放在最后面处理就可以了", "published_at": None},
        {
            "id": "3",
            "text": "产妇死亡太可怜了，医院要负责任",
            "published_at": "2024-03-01T09:00:00+08:00",
            "parent": "1",
        },
        {"id": "5", "text": "另一条没有时间的帖子，保持输入的顺序"},
    ]
    records = [Guarded({**r, "cascade": "c1", "rumor": "rumor", "kind": "repost"}) for r in rows]
    out = list(assign_events(records))
    assert [r.get("id") for r in out] == ["1", "3", "2", "4", "5"]
    ids = {r.get("id"): r.get("event_id") for r in out}
    assert ids["3"] == ids["1"]
    assert ids["2"] != ids["1"]
    assert all(isinstance(r.get("event_id"), str) for r in out)


def test_bcubed_toy_example() -> None:
    # clusters {a,a,b} and {b,c}: precision per item 2/3,2/3,1/3,1/2,1/2 -> 8/30+... = 0.5333
    truth = ["a", "a", "b", "b", "c"]
    pred = [1, 1, 1, 2, 2]
    p, r, f = bcubed(pred, truth)
    assert p == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 / 2 + 1 / 2) / 5)
    # recall: a's 1,1; b's 1/2,1/2; c 1
    assert r == pytest.approx((1 + 1 + 0.5 + 0.5 + 1) / 5)
    assert f == pytest.approx(2 * p * r / (p + r))
    assert bcubed(truth, truth) == (1.0, 1.0, 1.0)
    singletons = bcubed(list(range(5)), truth)
    assert singletons[0] == 1.0
    assert singletons[1] == pytest.approx((0.5 + 0.5 + 0.5 + 0.5 + 1) / 5)


def test_stream_hides_labels_and_links() -> None:
    stream = build_stream(FIXTURE, n_cascades=12, seed=0)
    assert len(stream) == 300
    assert all(len(p.text.strip()) >= 15 for p in stream)
    assert all("/" not in p.id for p in stream)
    assert [p.published_at for p in stream] == sorted(p.published_at for p in stream)
    starts: dict[str, dt.datetime] = {}
    for p in stream:
        starts.setdefault(p.truth, p.published_at)
    span = max(starts.values()) - min(starts.values())
    assert span <= dt.timedelta(days=3)
    assert len(starts) == 12


@pytest.mark.parametrize("seed", [0, 1])
def test_real_cascades_beat_the_baseline(seed: int) -> None:
    stream = build_stream(FIXTURE, n_cascades=12, seed=seed)
    truth = [p.truth for p in stream]
    ours = bcubed(cluster_stream(stream), truth)[2]
    best_baseline = max(bcubed(baseline_cluster(stream, th), truth)[2] for th in BASELINE_THRESHOLDS)
    assert ours > best_baseline
    assert ours > 0.35
