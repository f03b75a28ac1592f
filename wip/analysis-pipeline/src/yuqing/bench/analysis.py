"""`yuqing bench analysis`: each analysis stage's own throughput, and its quality on the dev splits.

- topic rules: 5,000 rules against real 100-character posts, beside naive substring tests;
- sentiment: negative-vs-not accuracy (ChnSentiCorp dev) and macro-F1 (SMP2020-EWECT dev), and
  posts/s, beside the TF-IDF anchor figures the issue quotes for the held-out splits;
- events: B-cubed on streams of 200 concurrent CED cascades, beside the TF-IDF baseline.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from yuqing.bench.common import format_table


def _read(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def sentiment_table(sentiment_dir: Path) -> str:
    from yuqing.analysis.sentiment import SentimentModel

    model = SentimentModel.load()
    rows: list[list[object]] = []
    for name, metric in (("chnsenticorp_dev.jsonl", "accuracy"), ("smp2020_ewect_dev.jsonl", "macro-F1")):
        path = sentiment_dir / name
        if not path.is_file():
            rows.append([name, metric, "-", "-", "file not found"])
            continue
        data = [r for r in _read(path) if r.get("text")]
        texts = [str(r["text"]) for r in data]
        truth = [r.get("polarity") == "negative" for r in data]
        start = time.perf_counter()
        predicted = [s.label == "negative" for s in model.polarity(texts)]
        seconds = time.perf_counter() - start
        if metric == "accuracy":
            score = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
            shown = f"{score:.1%}"
        else:
            pairs = list(zip(predicted, truth, strict=True))
            neg = _f1(sum(p and t for p, t in pairs), sum(p and not t for p, t in pairs),
                      sum(t and not p for p, t in pairs))
            pos = _f1(sum(not p and not t for p, t in pairs), sum(not p and t for p, t in pairs),
                      sum(p and not t for p, t in pairs))
            shown = f"{(neg + pos) / 2:.3f}"
        rows.append([name, metric, len(texts), shown, f"{len(texts) / seconds:,.0f} posts/s"])
    return format_table(["dev split", "metric", "texts", "yuqing", "speed (one process)"], rows)


def run(ced: Path, sentiment_dir: Path, *, rules: int, posts: int) -> str:
    from yuqing.analysis import cluster_eval, rules_bench

    parts = [
        "== Topic rules",
        rules_bench.bench(n_rules=rules, n_posts=posts, path=ced),
        "",
        "== Sentiment (negative vs not), dev splits; anchors on the held-out test splits: TF-IDF "
        "char 1-3-gram LR 88.3% ChnSentiCorp / 0.871 SMP2020, SnowNLP 87%",
        sentiment_table(sentiment_dir),
        "",
        "== Events (B-cubed on 200 concurrent CED cascades)",
        cluster_eval.run(ced),
    ]
    return "\n".join(parts)
