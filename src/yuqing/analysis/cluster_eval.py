"""Measuring online event clustering on real Weibo cascades (CED), against a TF-IDF baseline.

The stream
----------
``build_stream`` reproduces the held-out check: ``n_cascades`` cascades drawn at random from a
CED-style file, posts with at least ``min_chars`` characters of (stripped) text kept, each
cascade shifted in time so that its first kept post falls at a random moment of the same
``days`` days (concurrent events, as an office sees them), everything ordered by time.  Every
label and link field (``cascade``, ``kind``, ``rumor``, ``parent``, ``reposts``...) is dropped and
ids are replaced by opaque ones given in stream order, because CED repost ids
(``<cascade>/<mid>``) spell out the cascade.  A post keeps its text and time only; the cascade
is kept aside in ``StreamPost.truth`` for scoring and never reaches a clusterer.  Ties in time
are broken at random: the file lists a cascade's rows together, so a stable sort would leak it.

Scoring: B-cubed precision, recall and F1 (Bagga & Baldwin; Amigó et al. 2009), every post
weighted equally, so the large cascades weigh most, as they do in an office's workload.

Baseline: single-pass clustering of TF-IDF character 1-2-gram vectors, cosine to the cluster
centroids (sum of the members' unit vectors), a post joins the most similar cluster active in
the last ``window`` when the cosine reaches the threshold, otherwise starts one.  Its IDF is fitted on
the whole stream (favourable to it).  The cosines to every earlier post are computed exactly
from a character-gram inverted index, so that a threshold sweep stays fast; a cluster's cosine
is then ``sum(sims of its members) / |centroid|``.

``run(path)`` sweeps the baseline threshold on tuning seeds, fixes it, and reports both methods
on other seeds (``python -m yuqing.analysis.cluster_eval ced_dev.jsonl.gz``).

Results on the CED dev file (200 cascades per stream, about 16,200 posts; the baseline's threshold
0.12 chosen on seeds 0-1; speed: the shared 2-vCPU development VM with the test suite running
beside it).  "largest" is the largest event's posts and the true events they come from::

    seed  method                          B3 P   B3 R   B3 F1  posts/s  events (true 200)  largest
    0-1   ours (tuning)                   0.935  0.055  0.105  3,000    12,000             134 (1), 119 (5)
    0-1   baseline, threshold 0.12        0.294  0.099  0.149  2,500    2,250              1,598 (164)
    2-4   ours                            0.939  0.058  0.109  3,000    10,700-12,200      123 (4)-246 (1)
    2-4   baseline cos >= 0.12            0.290  0.098  0.146  2,350    2,085-2,341        1,179-1,562 (144+)

Our B-cubed F1 is below the baseline's; our precision is three times its precision at every
threshold it was tried at (0.55 at 0.20, where its recall, 0.07, is near ours).  Before the
evidence rule (``clustering``'s docstring) the same table read F1 0.41 vs 0.146, "2.8x": that
F1 came from one event of 8,400-9,000 posts from ~197 of the 200 cascades, with a third of the
posts left as singletons, a split B-cubed scores at 0.4 whatever the events are.

Dense same-domain streams
-------------------------
``dense_stream`` builds streams like the published ``dense_dev.jsonl``: the cascades whose original
(>= 15 characters) is about hospitals, schools or food (``DOMAIN_RE``; 65% of them drawn per seed,
so seeds mix different cascades), all starting within one 24 h day, text and time only, scored
against stories (cascades whose originals share character 4-grams with Jaccard >= 0.5).
``dense_report`` prints ours against the baseline (threshold 0.12, fixed above) on dense_dev and
on ced seeds 0-3, the seeds every change to the clusterer for dense streams was tried on
(dense_dev's gold was never tuned on).  Measured::

    stream       ours P / R / F1        events (stories)  largest (stories)  baseline P / F1 (largest)
    dense_dev    0.913 0.049 0.093      12,972 (183)      211 (10)           0.291 / 0.129 (1,522 (154))
    ced 0-3      0.925 0.049 0.093      8,600-9,200       159-168 (1-18)     0.317 / 0.140

Before the evidence rule: dense_dev P 0.426 R 0.381 F1 0.402, its largest event 10,509 posts
from 181 of the 183 stories.  What text and time can do here, measured with the *true* past
(every earlier post's story known): the best per-post choice (a smoothed word model of each
story times a time prior) is right for 46% of posts, and B-cubed of placing each post that way
(or leaving it alone below a confidence) stays under 0.32; even words found in only 2-5 posts
of the stream come from one story 54% of the time.  The 0.50 target is above that ceiling: most
posts are comments (「[蜡烛][蜡烛]」, 「@某某 看看」) that name nothing of their story while about
ten stories run at once, and they can be placed only by links, which these streams hide.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import orjson

from yuqing.analysis.clustering import EventClusterer, Post, Weights

F64Array = npt.NDArray[np.float64]
I64Array = npt.NDArray[np.int64]

DAY = dt.timedelta(days=1)
_BASE_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@dataclass(frozen=True, slots=True)
class StreamPost:
    """One post of the evaluation stream: what a clusterer sees, and the truth kept aside."""

    id: str
    text: str
    published_at: dt.datetime
    truth: str  # the cascade: for scoring only, never given to a clusterer


def _read_rows(path: str | Path) -> Iterator[dict[str, object]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def build_stream(
    path: str | Path, n_cascades: int = 200, min_chars: int = 15, days: int = 3, seed: int = 0
) -> list[StreamPost]:
    """The evaluation stream (see the module docstring); posts without a date are left out."""
    by_cascade: dict[str, list[tuple[dt.datetime, str]]] = {}
    for row in _read_rows(path):
        text, when = row.get("text"), row.get("published_at")
        if not isinstance(text, str) or len(text.strip()) < min_chars or not isinstance(when, str):
            continue
        by_cascade.setdefault(str(row["cascade"]), []).append((dt.datetime.fromisoformat(when), text))
    rng = random.Random(seed)
    names = sorted(by_cascade)
    chosen = rng.sample(names, min(n_cascades, len(names)))
    span = days * DAY.total_seconds()
    staged: list[tuple[dt.datetime, float, str, str]] = []
    for name in chosen:
        posts = by_cascade[name]
        start = min(when for when, _ in posts)
        shift = _BASE_TIME + dt.timedelta(seconds=rng.uniform(0.0, span)) - start
        staged.extend(
            ((when + shift).astimezone(_BASE_TIME.tzinfo), rng.random(), text, name) for when, text in posts
        )
    staged.sort(key=lambda p: (p[0], p[1]))
    return [StreamPost(f"p{i:07d}", text, when, name) for i, (when, _, text, name) in enumerate(staged)]


# The dense protocol's domain filter, on the original post's text: hospitals, schools or food.
DOMAIN_RE = re.compile(
    r"医院|医生|护士|患者|病人|卫生院|诊所|学校|学生|老师|教师|小学|中学|大学|幼儿园|校长|高校"
    r"|食品|食物|餐厅|饭店|奶粉|地沟油|有毒|饮料|蔬菜|水果|猪肉"
)


def _story_labels(originals: dict[str, str], jaccard: float = 0.5) -> dict[str, str]:
    """Cascade -> story: cascades whose originals share character 4-grams with Jaccard >= ``jaccard``
    are one story (the same rumour posted by several accounts), merged transitively."""
    grams = {c: {t[i : i + 4] for i in range(len(t) - 3)} for c, t in originals.items()}
    parent = {c: c for c in originals}

    def find(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    names = sorted(originals)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ga, gb = grams[a], grams[b]
            if ga and gb and len(ga & gb) >= jaccard * len(ga | gb):
                parent[find(b)] = find(a)
    return {c: find(c) for c in names}


def dense_stream(
    path: str | Path,
    seed: int = 0,
    share: float = 0.65,
    min_chars: int = 15,
    hours: float = 24.0,
    domain: re.Pattern[str] = DOMAIN_RE,
) -> list[StreamPost]:
    """A same-domain, concurrent stream built like ``dense_dev.jsonl``: the cascades whose original
    (at least ``min_chars`` characters) matches ``domain``, of which a random ``share`` is kept
    (so that each seed mixes other cascades), each shifted so that its first post falls within the
    same ``hours``; posts with at least ``min_chars`` characters, text and time only, opaque ids
    in stream order, ties broken at random.  ``truth`` is the story (see ``_story_labels``)."""
    by_cascade: dict[str, list[tuple[dt.datetime, str]]] = {}
    originals: dict[str, str] = {}
    for row in _read_rows(path):
        text, when, cascade = row.get("text"), row.get("published_at"), str(row["cascade"])
        if row.get("kind") == "original" and isinstance(text, str):
            originals[cascade] = text.strip()
        if not isinstance(text, str) or len(text.strip()) < min_chars or not isinstance(when, str):
            continue
        by_cascade.setdefault(cascade, []).append((dt.datetime.fromisoformat(when), text))
    eligible = sorted(
        c for c, t in originals.items() if len(t) >= min_chars and domain.search(t) and c in by_cascade
    )
    rng = random.Random(seed)
    chosen = rng.sample(eligible, round(share * len(eligible)))
    story = _story_labels({c: originals[c] for c in chosen})
    span = hours * 3600.0
    staged: list[tuple[dt.datetime, float, str, str]] = []
    for name in chosen:
        posts = by_cascade[name]
        start = min(when for when, _ in posts)
        shift = _BASE_TIME + dt.timedelta(seconds=rng.uniform(0.0, span)) - start
        staged.extend(
            ((when + shift).astimezone(_BASE_TIME.tzinfo), rng.random(), text, story[name])
            for when, text in posts
        )
    staged.sort(key=lambda p: (p[0], p[1]))
    return [StreamPost(f"p{i:07d}", text, when, name) for i, (when, _, text, name) in enumerate(staged)]


def read_dense(path: str | Path, story_path: str | Path) -> list[StreamPost]:
    """A published dense stream (``dense_dev.jsonl``) with its story gold, in time order."""
    gold = orjson.loads(Path(story_path).read_bytes())
    rows = sorted(_read_rows(path), key=lambda r: str(r["published_at"]))
    return [
        StreamPost(
            str(r["id"]),
            str(r["text"]),
            dt.datetime.fromisoformat(str(r["published_at"])),
            gold[str(r["id"])],
        )
        for r in rows
    ]


def bcubed(assignments: Sequence[object], truth: Sequence[object]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering against the true classes (items weighted equally).

    Per item: precision = share of its cluster that has its class, recall = share of its class in its
    cluster; each averaged over items; F1 is their harmonic mean.
    """
    if len(assignments) != len(truth):
        raise ValueError("assignments and truth differ in length")
    n = len(truth)
    if n == 0:
        return 1.0, 1.0, 1.0
    pair = Counter(zip(assignments, truth, strict=True))
    cluster = Counter(assignments)
    klass = Counter(truth)
    # every item of a (cluster, class) cell of size m has m/|cluster| and m/|class|
    precision = sum(m * m / cluster[c] for (c, _), m in pair.items()) / n
    recall = sum(m * m / klass[k] for (_, k), m in pair.items()) / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# --------------------------------------------------------------------------------------------
# Baseline: TF-IDF character 1-2-gram single-pass clustering
# --------------------------------------------------------------------------------------------


def _char_grams(text: str) -> list[str]:
    """Character 1- and 2-grams of the lowercased text, whitespace runs folded to one space
    (what scikit-learn's ``analyzer="char", ngram_range=(1, 2)`` produces)."""
    s = " ".join(text.lower().split())
    return list(s) + [s[i : i + 2] for i in range(len(s) - 1)]


class TfidfSimilarity:
    """Exact cosines between the TF-IDF character 1-2-gram vectors of a fixed list of texts.

    IDF is ``ln((1 + n) / (1 + df)) + 1`` (scikit-learn's smooth IDF), vectors are L2-normalised.
    ``earlier(i)`` gives the cosines of text ``i`` with texts ``0..i-1`` from an inverted index
    sorted by text, so each gram contributes one slice.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        vocab: dict[str, int] = {}
        grams_per_text = [Counter(vocab.setdefault(g, len(vocab)) for g in _char_grams(t)) for t in texts]
        df = np.zeros(len(vocab), dtype=np.float64)
        for grams in grams_per_text:
            df[list(grams)] += 1.0
        idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        self.rows: list[tuple[I64Array, F64Array]] = []
        for grams in grams_per_text:
            idx = np.fromiter(grams.keys(), dtype=np.int64, count=len(grams))
            val = np.fromiter(grams.values(), dtype=np.float64, count=len(grams)) * idf[idx]
            norm = float(np.sqrt(val @ val)) or 1.0
            self.rows.append((idx, val / norm))
        all_idx = np.concatenate([r[0] for r in self.rows]) if self.rows else np.zeros(0, np.int64)
        all_val = np.concatenate([r[1] for r in self.rows]) if self.rows else np.zeros(0)
        owner = np.repeat(np.arange(len(self.rows)), [len(r[0]) for r in self.rows])
        order = np.argsort(all_idx, kind="stable")  # stable: postings stay sorted by text
        self._post_text = owner[order]
        self._post_val = all_val[order]
        self._bounds = np.searchsorted(all_idx[order], np.arange(len(vocab) + 1))

    def earlier(self, i: int) -> F64Array:
        idx, val = self.rows[i]
        parts_t: list[I64Array] = []
        parts_v: list[F64Array] = []
        for g, w in zip(idx.tolist(), val.tolist(), strict=True):
            lo = int(self._bounds[g])
            hi = lo + int(np.searchsorted(self._post_text[lo : self._bounds[g + 1]], i))
            if hi > lo:
                parts_t.append(self._post_text[lo:hi])
                parts_v.append(self._post_val[lo:hi] * w)
        if not parts_t:
            return np.zeros(i)
        sims = np.bincount(np.concatenate(parts_t), np.concatenate(parts_v), minlength=i)
        return cast(F64Array, sims)  # weighted bincount: float64


def baseline_cluster(
    stream: Sequence[StreamPost],
    threshold: float,
    window: dt.timedelta = dt.timedelta(hours=72),
    sims: TfidfSimilarity | None = None,
) -> list[int]:
    """Single-pass TF-IDF char 1-2-gram clustering: join the active cluster with the highest
    centroid cosine if it reaches ``threshold``, else start a cluster.  Returns a cluster per post."""
    sims = sims if sims is not None else TfidfSimilarity([p.text for p in stream])
    n = len(stream)
    labels = np.zeros(n, dtype=np.int64)
    norm2 = np.zeros(n, dtype=np.float64)  # squared norm of each cluster's sum of unit vectors
    last = np.zeros(n, dtype=np.float64)
    n_clusters = 0
    w = window.total_seconds()
    for i, post in enumerate(stream):
        t = post.published_at.timestamp()
        best = -1
        if n_clusters:
            dots = np.bincount(labels[:i], sims.earlier(i), minlength=n_clusters)
            cos = dots / np.sqrt(norm2[:n_clusters])
            cos[last[:n_clusters] < t - w] = -1.0
            cand = int(np.argmax(cos))
            if cos[cand] >= threshold:
                best = cand
                norm2[best] += 2.0 * dots[best] + 1.0
        if best < 0:
            best = n_clusters
            n_clusters += 1
            norm2[best] = 1.0
        labels[i] = best
        last[best] = t
    return labels.tolist()


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------

TUNE_SEEDS = (0, 1)
REPORT_SEEDS = (2, 3, 4)
BASELINE_THRESHOLDS = (0.08, 0.10, 0.12, 0.14, 0.16, 0.20)


@dataclass(frozen=True, slots=True)
class Result:
    seed: int
    method: str
    params: str
    precision: float
    recall: float
    f1: float
    posts_per_s: float
    events: int
    true_events: int
    # the largest event: its posts and how many true events they come from (a blob shows here)
    largest: str = "-"


def cluster_stream(stream: Sequence[StreamPost], clusterer: EventClusterer | None = None) -> list[str]:
    """Our clusterer on a stream: it is given each post's opaque id, text and time, nothing else.
    A post left without an event (never here: no post is ``join_only``) counts as one of its own."""
    engine = clusterer if clusterer is not None else EventClusterer()
    events = engine.add_many([Post(p.id, p.text, p.published_at) for p in stream])
    return [f"none:{p.id}" if e is None else e for p, e in zip(stream, events, strict=True)]


def _result(
    seed: int, method: str, params: str, stream: Sequence[StreamPost], labels: Sequence[object], secs: float
) -> Result:
    truth = [p.truth for p in stream]
    p, r, f = bcubed(labels, truth)
    rate = len(stream) / max(secs, 1e-9)
    [(biggest, size)] = Counter(labels).most_common(1) or [(None, 0)]
    mixed = len({t for t, label in zip(truth, labels, strict=True) if label == biggest})
    largest = f"{size:,} ({mixed})"
    return Result(seed, method, params, p, r, f, rate, len(set(labels)), len(set(truth)), largest)


def evaluate_seed(
    path: str | Path,
    seed: int,
    thresholds: Sequence[float],
    clusterer: Callable[[], EventClusterer] = EventClusterer,
    repeats: int = 3,
) -> list[Result]:
    """Our clusterer and the baseline at each threshold on the stream of one seed.

    Our speed is the best of ``repeats`` runs (the development machine is shared: other jobs slow
    single runs by up to a third); the baseline, much slower, runs once per threshold.
    """
    stream = build_stream(path, seed=seed)
    best = math.inf
    ours: list[str] = []
    for _ in range(repeats):
        start = time.perf_counter()
        ours = cluster_stream(stream, clusterer())
        best = min(best, time.perf_counter() - start)
    w = Weights()
    params = f"cosine >= {w.min_cosine:.2f} + {w.specific_words} specific words, 72 h"
    out = [_result(seed, "events (ours)", params, stream, ours, best)]
    start = time.perf_counter()
    sims = TfidfSimilarity([p.text for p in stream])
    setup = time.perf_counter() - start
    for th in thresholds:
        start = time.perf_counter()
        labels = baseline_cluster(stream, th, sims=sims)
        secs = time.perf_counter() - start + setup
        out.append(_result(seed, "TF-IDF char 1-2 baseline", f"cos >= {th:.2f}, 72 h", stream, labels, secs))
    return out


def format_results(rows: Sequence[Result]) -> str:
    head = ("seed", "method", "params", "B3 P", "B3 R", "B3 F1", "posts/s", "events (true)", "largest (true)")
    lines = [head] + [
        (
            str(r.seed),
            r.method,
            r.params,
            f"{r.precision:.3f}",
            f"{r.recall:.3f}",
            f"{r.f1:.3f}",
            f"{r.posts_per_s:,.0f}" if r.posts_per_s else "-",
            f"{r.events} ({r.true_events})" if r.events else "-",
            r.largest,
        )
        for r in rows
    ]
    widths = [max(len(line[c]) for line in lines) for c in range(len(head))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def _mean(rows: Sequence[Result], method: str, params: str) -> Result:
    return Result(
        -1,
        method,
        params,
        float(np.mean([r.precision for r in rows])),
        float(np.mean([r.recall for r in rows])),
        float(np.mean([r.f1 for r in rows])),
        float(np.mean([r.posts_per_s for r in rows])),
        0,
        0,
    )


def run(
    path: str | Path,
    tune_seeds: Sequence[int] = TUNE_SEEDS,
    report_seeds: Sequence[int] = REPORT_SEEDS,
    thresholds: Sequence[float] = BASELINE_THRESHOLDS,
) -> str:
    """The comparison table.

    On the tuning seeds (where our weights and rate were chosen) the baseline threshold is swept
    and the one with the best mean F1 is fixed; on the report seeds both methods run once, the
    baseline at that threshold and, as an upper bound for it, at its best threshold per seed.
    """
    tuning = [r for s in tune_seeds for r in evaluate_seed(path, s, thresholds)]
    base = [r for r in tuning if r.method != "events (ours)"]
    chosen = max(
        thresholds,
        key=lambda th: float(np.mean([r.f1 for r in base if r.params.startswith(f"cos >= {th:.2f}")])),
    )
    tag = f"cos >= {chosen:.2f}"
    out = [
        "Tuning seeds (our weights and rate, and the baseline threshold, chosen here):",
        format_results(tuning),
    ]
    report: list[Result] = []
    best_each: list[Result] = []
    for seed in report_seeds:
        rows = evaluate_seed(path, seed, thresholds)
        ours = [r for r in rows if r.method == "events (ours)"]
        fixed = [r for r in rows if r.params.startswith(tag)]
        top = max((r for r in rows if r.method != "events (ours)"), key=lambda r: r.f1)
        best_each.append(top)
        report += [
            *ours,
            *fixed,
            Result(
                seed,
                "baseline, best on this seed",
                top.params,
                top.precision,
                top.recall,
                top.f1,
                top.posts_per_s,
                top.events,
                top.true_events,
            ),
        ]
    ours_rows = [r for r in report if r.method == "events (ours)"]
    fixed_rows = [
        r
        for r in report
        if r.method != "events (ours)" and r.params.startswith(tag) and r.method.startswith("TF")
    ]
    means = [
        _mean(ours_rows, "events (ours)", "mean"),
        _mean(fixed_rows, "TF-IDF char 1-2 baseline", f"mean, {tag}"),
        _mean(best_each, "baseline, best on each seed", "mean"),
    ]
    ratio = means[0].f1 / means[1].f1 if means[1].f1 else math.inf
    out += [
        "",
        f"Report seeds (baseline threshold fixed at {chosen:.2f} from the tuning seeds):",
        format_results(report),
    ]
    out += ["", "Means over the report seeds (seed -1):", format_results(means)]
    out.append(f"F1 ratio ours / baseline: {ratio:.2f}")
    return "\n".join(out)


DENSE_TUNE_SEEDS = (0, 1, 2, 3)
DENSE_BASELINE_THRESHOLD = 0.12  # the baseline's best on the sparse tuning seeds (see ``run``)


def _dense_rows(name: str, stream: Sequence[StreamPost], threshold: float, repeats: int) -> list[Result]:
    best = math.inf
    ours: list[str] = []
    for _ in range(repeats):
        start = time.perf_counter()
        ours = cluster_stream(stream, EventClusterer())
        best = min(best, time.perf_counter() - start)
    start = time.perf_counter()
    labels = baseline_cluster(stream, threshold)
    secs = time.perf_counter() - start
    return [
        _result(-1, "events (ours)", name, stream, ours, best),
        _result(-1, "TF-IDF char 1-2 baseline", f"{name}, cos >= {threshold:.2f}", stream, labels, secs),
    ]


def dense_report(
    dense_path: str | Path,
    story_path: str | Path,
    ced_path: str | Path,
    seeds: Sequence[int] = DENSE_TUNE_SEEDS,
    threshold: float = DENSE_BASELINE_THRESHOLD,
    repeats: int = 2,
) -> str:
    """Ours against the TF-IDF baseline on dense same-domain streams: the published dev stream
    (scored against its story gold) and streams built by ``dense_stream`` from ``ced_path`` with
    ``seeds`` (on which our changes were tuned).  Events are counted against true stories."""
    rows = _dense_rows("dense_dev", read_dense(dense_path, story_path), threshold, repeats)
    built: list[Result] = []
    for seed in seeds:
        built += _dense_rows(f"ced seed {seed}", dense_stream(ced_path, seed=seed), threshold, repeats)
    means = [
        _mean([r for r in built if r.method == "events (ours)"], "events (ours)", "ced seeds, mean"),
        _mean(
            [r for r in built if r.method != "events (ours)"], "TF-IDF char 1-2 baseline", "ced seeds, mean"
        ),
    ]
    lines = format_results([*rows, *built, *means]).splitlines()
    # the seed column is meaningless here: the stream is named in params
    text = "\n".join(line.split("  ", 1)[1].lstrip() for line in lines)
    return "Dense same-domain streams (B-cubed against stories; events (true stories)):\n" + text


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m yuqing.analysis.cluster_eval CED.jsonl.gz``: print the comparison."""
    args = list(sys.argv[1:] if argv is None else argv)
    print(run(args[0] if args else "/work/shared/data/events/ced_dev.jsonl.gz"))


if __name__ == "__main__":
    main()
