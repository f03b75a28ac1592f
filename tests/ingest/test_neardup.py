"""Near-duplicate detection: MinHash LSH index, SimHash baseline, evaluation on real Weibo texts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from yuqing.ingest.neardup import (
    EDITS,
    NEGATIVE_KIND,
    NearDuplicateIndex,
    SimHashIndex,
    evaluate,
    format_table,
    shingle_text,
    simhash64,
)

FIXTURE = Path(__file__).parent / "fixtures" / "weibo_texts.txt"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    lines = FIXTURE.read_text(encoding="utf-8").split("\n")
    return [line for line in lines if line]


def _with_length(texts: list[str], lo: int, hi: int) -> list[str]:
    """Texts whose normalised length is within [lo, hi], normalised."""
    return [s for s in map(shingle_text, texts) if lo <= len(s) <= hi]


def _substitute(text: str, pos: int, char: str = "鑫") -> str:
    assert text[pos] != char
    return text[:pos] + char + text[pos + 1 :]


def test_shingle_text_drops_markup_punctuation_and_folds() -> None:
    raw = "转发：@小王_2012 [泪]今天  ＡＢＣ http://t.cn/zjhZUwC 太可怕了!! 😱 //@某某: 真的？"
    assert shingle_text(raw) == "转发今天abc太可怕了真的"
    assert shingle_text("") == ""
    assert shingle_text("【重要】") == "重要"


def test_signatures_batch_shapes_and_validity(texts: list[str]) -> None:
    index = NearDuplicateIndex()
    sigs, valid = index.signatures([*texts[:5], "太短了", ""])
    assert sigs.shape == (7, index.num_perm)
    assert sigs.dtype == np.uint32
    assert valid.tolist() == [True] * 5 + [False, False]
    # a text's signature does not depend on the rest of the batch
    alone, _ = index.signatures([texts[3]])
    assert np.array_equal(alone[0], sigs[3])


def test_single_char_substitution_of_100_char_text_is_found(texts: list[str]) -> None:
    original = _with_length(texts, 95, 110)[0]
    copy = _substitute(original, len(original) // 2)
    index = NearDuplicateIndex()
    assert index.query_and_add([1], [original]) == [None]
    [match] = index.query_and_add([2], [copy])
    assert match is not None
    assert match[0] == 1
    assert match[1] >= index.threshold


def test_unrelated_real_texts_are_not_matched(texts: list[str]) -> None:
    index = NearDuplicateIndex()
    answers = index.query_and_add(list(range(len(texts))), texts)
    assert answers == [None] * len(texts)
    assert len(index) == len(texts)


def test_copy_of_copy_resolves_to_first_copy(texts: list[str]) -> None:
    long = _with_length(texts, 124, 1000)[0]
    a, b, c = long[0:100], long[12:112], long[24:124]  # J(a,b), J(b,c) ~ 0.8; J(a,c) ~ 0.6
    index = NearDuplicateIndex()
    assert index.query_and_add(["a"], [a]) == [None]
    assert index.query([c]) == [None]  # the third copy is too far from the first one
    [match_b] = index.query_and_add(["b"], [b])
    assert match_b is not None
    assert match_b[0] == "a"
    [match_c] = index.query_and_add(["c"], [c])
    assert match_c is not None
    assert match_c[0] == "a"


def test_short_texts_are_never_matched() -> None:
    index = NearDuplicateIndex(min_chars=10)
    short = "转发微博，太可怕了！"  # 8 characters after normalisation
    assert index.query_and_add([1, 2, 3], [short, short, "[泪][泪] @某某"]) == [None, None, None]
    assert len(index) == 0
    _, valid = index.signatures([short])
    assert not valid[0]


def test_in_batch_matching(texts: list[str]) -> None:
    original = _with_length(texts, 60, 140)[1]
    copy = "转发：" + _substitute(original, 10) + "//@某某: 太可怕了"
    index = NearDuplicateIndex()
    answers = index.query_and_add(["x", "y", "z"], [original, texts[0], copy])
    assert answers[0] is None
    assert answers[1] is None
    assert answers[2] is not None
    assert answers[2][0] == "x"


def test_add_with_roots_and_query_is_read_only(texts: list[str]) -> None:
    original = _with_length(texts, 60, 140)[2]
    index = NearDuplicateIndex()
    index.add([7], [original], roots=[3])  # stored post 7 was linked to first copy 3
    [match] = index.query([_substitute(original, 5)])
    assert match is not None
    assert match[0] == 3
    assert len(index) == 1


def test_snapshot_restore_round_trip(texts: list[str]) -> None:
    mids = _with_length(texts, 60, 140)
    index = NearDuplicateIndex(max_items=150, max_bucket=2)
    ids: list[int | str] = [f"p{i}" if i % 2 else i for i in range(len(texts))]
    index.query_and_add(ids, texts)
    for rnd in range(3):  # copies of a text fill some buckets beyond max_bucket
        index.query_and_add([f"copy{rnd}"], [_substitute(mids[5], 20 + rnd)])
    restored = NearDuplicateIndex.restore(index.snapshot())
    assert len(restored) == len(index) == 150
    assert restored.snapshot() == index.snapshot()
    probes = [_substitute(t, 7) for t in mids[:60]] + texts[:20]
    assert restored.query(probes) == index.query(probes)
    more = [_substitute(t, 3) for t in mids[60:90]]
    new_ids = list(range(1000, 1030))
    assert restored.query_and_add(new_ids, more) == index.query_and_add(new_ids, more)
    with pytest.raises(ValueError, match="snapshot"):
        NearDuplicateIndex.restore(b"nonsense")


def test_eviction_with_max_items(texts: list[str]) -> None:
    mids = _with_length(texts, 60, 140)
    index = NearDuplicateIndex(max_items=3)
    index.query_and_add([0, 1, 2, 3], mids[:4])
    assert len(index) == 3
    assert index.query([_substitute(mids[0], 5)]) == [None]  # oldest evicted
    [found] = index.query([_substitute(mids[3], 5)])
    assert found is not None
    assert found[0] == 3
    # a copy keeps its root after the first copy is evicted
    index = NearDuplicateIndex(max_items=2)
    index.query_and_add(["first", "copy"], [mids[0], _substitute(mids[0], 9)])
    index.query_and_add(["other"], [mids[1]])
    assert len(index) == 2
    [match] = index.query_and_add(["copy2"], [_substitute(mids[0], 30)])
    assert match is not None
    assert match[0] == "first"
    # a batch larger than max_items is matched within itself, then trimmed to the newest items
    index = NearDuplicateIndex(max_items=5)
    answers = index.query_and_add(list(range(21)), [*mids[:20], _substitute(mids[0], 40)])
    assert answers[20] is not None
    assert answers[20][0] == 0
    assert len(index) == 5
    kept, evicted = index.query([_substitute(mids[19], 3), _substitute(mids[14], 3)])
    assert kept is not None
    assert kept[0] == 19
    assert evicted is None


def test_simhash_baseline(texts: list[str]) -> None:
    text = _with_length(texts, 60, 140)[0]
    assert simhash64(text) == simhash64(text + "！！")  # same text after normalisation
    assert 0 <= simhash64(text) < 2**64
    index = SimHashIndex(max_distance=3)
    index.add([1, 2], [text, texts[-1]])
    [match] = index.query([text])
    assert match == (1, 1.0)
    assert index.query(["太短"]) == [None]


def test_evaluate_minhash_beats_simhash_on_one_char_substitution(texts: list[str]) -> None:
    rows = evaluate(texts, n_pairs=8 * 40, seed=7)
    by = {(r.method, r.kind): r for r in rows}
    methods = list(dict.fromkeys(r.method for r in rows))
    minhash = methods[0]
    simhash = next(m for m in methods if m.startswith("SimHash@3"))
    kind = "1 char substituted"
    assert set(EDITS) | {NEGATIVE_KIND} == {r.kind for r in rows if r.method == minhash}
    assert by[(minhash, kind)].recall > by[(simhash, kind)].recall
    assert by[(minhash, kind)].recall >= 0.9
    assert math.isnan(by[(minhash, NEGATIVE_KIND)].recall)
    assert by[(minhash, NEGATIVE_KIND)].matched == 0  # fixture texts are mutually unrelated
    table = format_table(rows)
    assert kind in table
    assert "precision" in table
