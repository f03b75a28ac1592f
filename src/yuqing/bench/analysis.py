"""`yuqing bench analysis`: each analysis stage's own throughput, and its quality on the dev splits.

- topic rules: 5,000 rules against real 100-character posts, beside naive substring tests;
- sentiment: negative-vs-not accuracy (ChnSentiCorp dev) and macro-F1 (SMP2020-EWECT dev), and
  posts/s, beside the TF-IDF anchor figures the issue quotes for the held-out splits;
- events: B-cubed on streams of 200 concurrent CED cascades, beside the TF-IDF baseline;
- incidents: cross-validated P/R/F1 per flag and domain accuracy on the labelled CED posts, and
  posts/s, beside the sensitivity lexicon (:mod:`yuqing.analysis.incidents_eval`).
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


def _weibo_dev(sentiment_dir: Path) -> list[dict[str, object]]:
    """weibo_senti has no dev file: the training script holds out rows with md5(text)[0] % 10 == 0."""
    import hashlib

    path = sentiment_dir / "weibo_senti_train.jsonl"
    if not path.is_file():
        return []
    return [
        r
        for r in _read(path)
        if hashlib.md5(str(r.get("text") or "").encode(), usedforsecurity=False).digest()[0] % 10 == 0
    ]


def _score(predicted: list[bool], truth: list[bool], metric: str) -> str:
    pairs = list(zip(predicted, truth, strict=True))
    if metric == "accuracy":
        return f"{sum(p == t for p, t in pairs) / len(pairs):.1%}"
    neg = _f1(
        sum(p and t for p, t in pairs), sum(p and not t for p, t in pairs), sum(t and not p for p, t in pairs)
    )
    pos = _f1(
        sum(not p and not t for p, t in pairs),
        sum(not p and t for p, t in pairs),
        sum(p and not t for p, t in pairs),
    )
    return f"{(neg + pos) / 2:.3f}"


def sentiment_table(sentiment_dir: Path, *, baseline_texts: int = 300) -> str:
    """yuqing's model beside SnowNLP (the usual open-source choice) on each dev split.

    SnowNLP is slow (about 200 posts/s), so it scores the first ``baseline_texts`` of each split;
    yuqing's figure on that same subset is shown beside it.
    """
    from yuqing.analysis.sentiment import SentimentModel

    model = SentimentModel.load()
    splits: list[tuple[str, str, list[dict[str, object]]]] = []
    for name, metric in (("chnsenticorp_dev.jsonl", "accuracy"), ("smp2020_ewect_dev.jsonl", "macro-F1")):
        path = sentiment_dir / name
        splits.append((name, metric, _read(path) if path.is_file() else []))
    splits.insert(1, ("weibo_senti (10% held out)", "accuracy", _weibo_dev(sentiment_dir)))
    try:
        from snownlp import SnowNLP
    except ImportError:  # the baseline is a dev dependency
        SnowNLP = None
    rows: list[list[object]] = []
    for name, metric, data in splits:
        data = [r for r in data if r.get("text")]
        if not data:
            rows.append([name, metric, 0, "-", "-", "-", "-", "file not found"])
            continue
        texts = [str(r["text"]) for r in data]
        truth = [r.get("polarity") == "negative" for r in data]
        start = time.perf_counter()
        predicted = (model.polarity(texts).negative >= 0.5).tolist()
        seconds = time.perf_counter() - start
        subset = min(baseline_texts, len(texts))
        ours_subset = _score(predicted[:subset], truth[:subset], metric)
        if SnowNLP is not None:
            start = time.perf_counter()
            snow = [SnowNLP(t).sentiments < 0.5 for t in texts[:subset]]
            snow_speed = f"{subset / (time.perf_counter() - start):,.0f}"
            snow_score = _score(snow, truth[:subset], metric)
        else:
            snow_speed = snow_score = "not installed"
        rows.append(
            [
                name,
                metric,
                len(texts),
                _score(predicted, truth, metric),
                f"{len(texts) / seconds:,.0f}",
                f"{ours_subset} / {snow_score}",
                snow_speed,
                "",
            ]
        )
    return format_table(
        [
            "dev split",
            "metric",
            "texts",
            "yuqing",
            "yuqing posts/s",
            f"first {baseline_texts}: yuqing / SnowNLP",
            "SnowNLP posts/s",
            "",
        ],
        rows,
    )


# The extra labels the shipped model is trained with (as ``scripts/train_incidents.py``).
EXTRA_LABELS = (Path(__file__).resolve().parents[3] / "scripts" / "data" / "ced_incidents_extra.jsonl",)


def incident_table(incidents_path: Path, ced: Path | None = None) -> str:
    """The incident model beside the sensitivity lexicon, cross-validated on the labelled posts.

    Each fold's model is trained on the other folds (as ``scripts/train_incidents.py`` does, with
    the IDF of the CED originals when ``ced`` is given) and scores its own fold; posts/s is the
    prediction speed on the held-out folds. Needs scikit-learn (``uv sync --group train``).
    """
    if not incidents_path.is_file():
        return f"file not found: {incidents_path}"
    import importlib.util

    if importlib.util.find_spec("sklearn") is None:
        return "scikit-learn not installed (uv sync --group train): cross-validation skipped"
    from yuqing.analysis import incidents_eval as ev
    from yuqing.analysis.features import FeatureSpec, normalise
    from yuqing.analysis.sensitivity import flags_for

    rows = ev.read_labelled(incidents_path)
    params = ev.Params()
    idf = None
    extra: list[ev.Labelled] = []
    if ced is not None and ced.is_file():
        originals = {
            str(r["id"]): str(r["text"])
            for r in _read_gz(ced)
            if r.get("kind") == "original" and r.get("text")
        }
        idf = ev.idf_weights(list(originals.values()), FeatureSpec(bits=params.bits, orders=params.orders))
        # the labels made here against the same guide join every fold's training part, as in
        # scripts/train_incidents.py (a checkout has them; an installed package does not)
        files = [path for path in EXTRA_LABELS if path.is_file()]
        known = {**originals, **ev.corpus_texts(incidents_path.parent.parent, files)}
        labelled = {r.id for r in rows}
        extra = [r for path in files for r in ev.read_extra(path, known) if r.id not in labelled]
    model = ev.score(ev.cross_validate(rows, params, idf, extra=extra), rows)
    lexicon = ev.score(ev.lexicon_predictions(rows), rows)
    # Throughput of the shipped model on a larger batch (the folds are only ~200 posts each).
    from yuqing.analysis.incidents import IncidentModel

    shipped = IncidentModel.load()
    texts = [r.text for r in rows] * 20
    start = time.perf_counter()
    shipped.predict(texts)
    model_speed = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    flags_for([normalise(t)[0] for t in texts])
    lexicon_speed = len(texts) / (time.perf_counter() - start)
    table_rows: list[list[object]] = []
    for flag in ("incident", "casualties", "public_safety"):
        m, b = model.flags[flag], lexicon.flags[flag]
        table_rows.append([flag, *(f"{v:.3f}" for v in m), *(f"{v:.3f}" for v in b)])
    table_rows.append(
        ["domain accuracy", f"{model.domain_accuracy:.3f}", "", "", f"{lexicon.domain_accuracy:.3f}", "", ""]
    )
    table_rows.append(["posts/s", f"{model_speed:,.0f}", "", "", f"{lexicon_speed:,.0f}", "", ""])
    return format_table(
        ["", "model P", "model R", "model F1", "lexicon P", "lexicon R", "lexicon F1"], table_rows
    )


REPLY_LABELS = Path(__file__).resolve().parents[3] / "scripts" / "data" / "ced_reply_incidents.jsonl"


def reply_table(ced: Path, labels_path: Path = REPLY_LABELS) -> str:
    """Reposts and comments with words of their own, read as reports: the model alone against
    the pipeline's reading (`Incident.as_reply`), on the labelled CED reposts of
    ``scripts/data/ced_reply_incidents.jsonl`` (each weighted back to the score stratum it was
    drawn from). These posts were drawn among those the model calls incidents: recall is
    relative to the model's own."""
    import gzip

    from yuqing.analysis.incidents import IncidentModel

    if not labels_path.is_file() or not ced.is_file():
        return f"file not found: {labels_path if not labels_path.is_file() else ced}"
    labels = {str(r["id"]): r for r in _read(labels_path)}
    texts: dict[str, str] = {}
    with gzip.open(ced, "rb") as handle:
        for line in handle:
            row = orjson.loads(line)
            if str(row.get("id")) in labels:
                texts[str(row["id"])] = str(row.get("text") or "")
    ids = [i for i in labels if i in texts]
    raw = IncidentModel.load().predict([texts[i] for i in ids])
    read = [p.as_reply() for p in raw]
    weights = [float(str(labels[i].get("weight", 1.0))) for i in ids]

    def figures(pred: list[bool], head: str) -> list[str]:
        truth = [bool(labels[i][head]) for i in ids]
        tp = sum(w for w, p, t in zip(weights, pred, truth, strict=True) if p and t)
        fp = sum(w for w, p, t in zip(weights, pred, truth, strict=True) if p and not t)
        fn = sum(w for w, p, t in zip(weights, pred, truth, strict=True) if t and not p)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        return [f"{precision:.2f}", f"{recall:.2f}", f"{_f1_of(precision, recall):.2f}"]

    rows: list[list[object]] = []
    for head in ("incident", "casualties", "public_safety"):
        model = figures([bool(getattr(p, head)) for p in raw], head)
        pipeline = figures([bool(getattr(p, head)) for p in read], head)
        rows.append([head, *model, *pipeline])
    table = format_table(["", "model P", "model R", "model F1", "as read P", "as read R", "as read F1"], rows)
    return f"{len(ids)} labelled reposts and comments (weighted by score stratum)\n{table}"


def _f1_of(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _read_gz(path: Path) -> list[dict[str, object]]:
    import gzip

    with gzip.open(path, "rb") as handle:
        return [orjson.loads(line) for line in handle if b'"original"' in line]


def run(ced: Path, sentiment_dir: Path, *, rules: int, posts: int, incidents_path: Path | None = None) -> str:
    """Every section; ``incidents_path`` defaults to ``incidents/ced_incidents_dev.jsonl`` beside
    the ``sentiment`` directory."""
    from yuqing.analysis import cluster_eval, rules_bench

    if incidents_path is None:
        incidents_path = sentiment_dir.parent / "incidents" / "ced_incidents_dev.jsonl"

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
        "",
        "== Events on dense same-domain streams (dense_dev and streams built the same way; "
        "gold: stories; target B-cubed F1 >= 0.50)",
        cluster_eval.dense_report(ced.parent / "dense_dev.jsonl", ced.parent / "dense_dev.story.json", ced),
        "",
        "== Incident recognition (cross-validated dev figures)",
        incident_table(incidents_path, ced),
        "",
        "== Reposts and comments read as reports (labelled CED reposts the model calls incidents)",
        reply_table(ced),
    ]
    return "\n".join(parts)
