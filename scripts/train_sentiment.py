"""Train the shipped sentiment model from ``../shared/data/sentiment/``.

Run from the repository root::

    .venv/bin/python scripts/train_sentiment.py [--shared ../shared] [--out PATH] [--tune]

Needs the ``train`` dependency group (scikit-learn); the runtime model needs only numpy.

What it does:

1. Reads the training files, simplified with the same :func:`normalise` the runtime uses. The
   dev splits are ``chnsenticorp_dev``, ``smp2020_ewect_dev`` and — weibo_senti has no dev file —
   a deterministic 10% of ``weibo_senti_train`` (rows whose MD5 starts with a byte ≡ 0 mod 10),
   held out of training. Training rows whose text equals a dev text are dropped.
2. Hashes character 1–3-grams and emoticons (:mod:`yuqing.analysis.features`). A share of the
   Weibo training rows lose their emoticons (emoticon dropout), so the Weibo heads also learn
   from words and a post without emoticons is still classified.
3. Fits logistic regressions over NB-scaled features (each feature multiplied by a power of its
   naive-Bayes log-count ratio, which lets the model lean on strongly polar n-grams; the scale is
   folded into the weights, so runtime sees plain linear heads):
   three experts (review / weibo / smp, negative vs not), a neutral head (SMP neutral vs
   positive), and a two-level gate (review vs social, weibo_senti vs SMP). The review expert
   weights ChnSentiCorp's domains ``CHN_WEIGHT`` times (its own training rows and the hotel,
   book and computer reviews of online_shopping_10_cats): the other review corpora are much
   larger and their shopping / food-delivery wording would otherwise dominate.
4. Fits the **social stacker**: weibo_senti and SMP texts are both Weibo posts, so the gate
   cannot tell them apart well (labels follow emoticons in one, annotators in the other). A small
   logistic regression over the weibo and smp experts' logits, the weibo gate, emoticon presence
   and their products combines them instead. Its inputs come from heads refitted without a
   ``STACK_HOLDOUT`` share of the social training rows, and it is fitted on those held-out
   training rows (each corpus weighted equally), never on dev.
5. Calibrates each expert and the neutral head on its dev split (Platt scaling), quantises the
   weights to int8 per head, writes ``src/yuqing/analysis/models/sentiment.npz`` with its JSON
   metadata inside (and a readable copy beside it as ``sentiment.json``).
6. Loads the written file through :class:`yuqing.analysis.sentiment.SentimentModel` and reports
   dev figures and throughput, next to the TF-IDF character 1–3-gram logistic-regression anchor
   trained on the same rows and scored on the same dev splits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from yuqing.analysis.features import EMOTICON, FeatureSpec, featurise, normalise  # noqa: E402
from yuqing.analysis.sentiment import SentimentModel  # noqa: E402

DEFAULT_OUT = ROOT / "src" / "yuqing" / "analysis" / "models" / "sentiment.npz"
TRAIN_FILES = {
    "chnsenticorp_train.jsonl": "review",
    "online_shopping_10_cats.jsonl": "review",
    "waimai_10k.jsonl": "review",
    "weibo_senti_train.jsonl": "weibo",
    "smp2020_ewect_train.jsonl": "smp",
}
DEV_FILES = {"chnsenticorp": "chnsenticorp_dev.jsonl", "smp2020": "smp2020_ewect_dev.jsonl"}
EXPERTS = ("review", "weibo", "smp")
# Dev split of each expert: the one it is calibrated and tuned on.
EXPERT_DEV = {"review": "chnsenticorp", "weibo": "weibo_senti", "smp": "smp2020"}


@dataclass(frozen=True)
class HeadConfig:
    """Regularisation ``c`` of a logistic regression and the power of its NB feature scale."""

    c: float
    nb_power: float


# Chosen on the dev splits (``--tune`` reruns the search; see the report for what was tried).
DEFAULT_CONFIG: dict[str, HeadConfig] = {
    "review": HeadConfig(8.0, 1.0),
    "weibo": HeadConfig(1.0, 1.0),
    "smp": HeadConfig(8.0, 0.5),
    "neutral": HeadConfig(4.0, 0.5),
    "gate_social": HeadConfig(4.0, 0.0),
    "gate_weibo": HeadConfig(4.0, 0.5),
}
# Sample weight of rows from ChnSentiCorp's domains in the review expert (the rest weighs 1).
CHN_WEIGHT = 3.0
CHN_SOURCES = {
    "chnsenticorp_train.jsonl",
    "online_shopping_10_cats.jsonl/酒店",
    "online_shopping_10_cats.jsonl/书籍",
    "online_shopping_10_cats.jsonl/计算机",
}
# Share of social training rows held out of the heads that feed the stacker's training rows.
STACK_HOLDOUT = 0.2
TUNE_GRID: dict[str, list[HeadConfig]] = {
    "review": [HeadConfig(c, p) for c in (4.0, 8.0, 16.0) for p in (0.5, 1.0)],
    "weibo": [HeadConfig(c, p) for c in (0.5, 1.0, 4.0) for p in (0.5, 1.0)],
    "smp": [HeadConfig(c, p) for c in (4.0, 8.0, 16.0) for p in (0.5, 1.0)],
}


@dataclass
class Split:
    """Texts of one split with their normalised form and labels."""

    texts: list[str] = field(default_factory=list)
    polarity: list[str | None] = field(default_factory=list)
    domain: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    normalised: list[tuple[str, list[str]]] = field(default_factory=list)

    def add(self, text: str, polarity: str | None, domain: str, source: str = "") -> None:
        self.texts.append(text)
        self.polarity.append(polarity)
        self.domain.append(domain)
        self.source.append(source)

    def finish(self) -> None:
        self.normalised = [normalise(t) for t in self.texts]

    def negative(self) -> npt.NDArray[np.bool_]:
        return np.array([p == "negative" for p in self.polarity])


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]


def in_weibo_dev(text: str) -> bool:
    """The deterministic 10% of weibo_senti_train held out as its dev split."""
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()[0] % 10 == 0


def load_data(data_dir: Path) -> tuple[Split, dict[str, Split]]:
    train = Split()
    dev = {name: Split() for name in ("chnsenticorp", "weibo_senti", "smp2020")}
    for name, file in DEV_FILES.items():
        for row in read_jsonl(data_dir / file):
            dev[name].add(row["text"], row["polarity"], EXPERT_DEV_DOMAIN[name])
    held: list[tuple[str, str | None]] = []
    for file, domain in TRAIN_FILES.items():
        for row in read_jsonl(data_dir / file):
            if domain == "weibo" and in_weibo_dev(row["text"]):
                dev["weibo_senti"].add(row["text"], row["polarity"], "weibo")
                held.append((row["text"], row["polarity"]))
            else:
                source = f"{file}/{row['category']}" if row.get("category") else file
                train.add(row["text"], row["polarity"], domain, source)
    for split in dev.values():
        split.finish()
    # Compare on the cleaned text: a dev text that differs only in width or script is the same.
    dev_keys = {t for split in dev.values() for t, _ in split.normalised}
    train.finish()
    keep = [i for i, (t, _) in enumerate(train.normalised) if t and t not in dev_keys]
    dropped = len(train.texts) - len(keep)
    train.texts = [train.texts[i] for i in keep]
    train.polarity = [train.polarity[i] for i in keep]
    train.domain = [train.domain[i] for i in keep]
    train.source = [train.source[i] for i in keep]
    train.normalised = [train.normalised[i] for i in keep]
    print(f"training rows: {len(keep)} ({dropped} dropped: empty or equal to a dev text)")
    return train, dev


EXPERT_DEV_DOMAIN = {"chnsenticorp": "review", "smp2020": "smp", "weibo_senti": "weibo"}


def feature_matrix(
    normalised: list[tuple[str, list[str]]],
    spec: FeatureSpec,
    keep_emoticons: npt.NDArray[np.bool_] | None = None,
) -> sp.csr_matrix:
    blocks = []
    for i in range(0, len(normalised), 8192):
        keep = None if keep_emoticons is None else keep_emoticons[i : i + 8192]
        batch = featurise((), spec, keep, normalised=normalised[i : i + 8192])
        rows, cols, values = batch.to_coo()
        blocks.append(sp.csr_matrix((values, (rows, cols)), shape=(batch.n_docs, spec.n_buckets + 1)))
    matrix: sp.csr_matrix = sp.vstack(blocks).tocsr()
    matrix.sum_duplicates()
    return matrix


def nb_scale(x: sp.csr_matrix, y: npt.NDArray[np.bool_], power: float) -> npt.NDArray[np.float64]:
    """|log-count ratio|**power per feature (Wang & Manning's NBSVM), from binarised counts."""
    if power == 0.0:
        return np.ones(x.shape[1])
    present = x.copy()
    present.data = np.ones_like(present.data)
    pos = np.asarray(present[y].sum(axis=0)).ravel() + 1.0
    neg = np.asarray(present[~y].sum(axis=0)).ravel() + 1.0
    ratio = np.abs(np.log((pos / pos.sum()) / (neg / neg.sum())))
    ratio[-1] = 0.0  # the null bucket
    return np.asarray(ratio**power)


def fit_head(
    x: sp.csr_matrix,
    y: npt.NDArray[np.bool_],
    config: HeadConfig,
    sample_weight: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], float]:
    """Effective weights (NB scale folded in) and intercept of one binary head."""
    scale = nb_scale(x, y, config.nb_power)
    model = LogisticRegression(C=config.c, max_iter=3000)
    model.fit(x @ sp.diags(scale), y, sample_weight=sample_weight)
    return model.coef_.ravel() * scale, float(model.intercept_[0])


def platt(z: npt.NDArray[np.float64], y: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """Slope and intercept mapping a logit to a calibrated probability on held-out rows."""
    model = LogisticRegression(C=1e4, max_iter=1000).fit(z.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def macro_f1(y: npt.NDArray[np.bool_], pred: npt.NDArray[np.bool_]) -> float:
    return float(f1_score(y, pred, average="macro"))


@dataclass
class Trained:
    weights: npt.NDArray[np.float32]  # (n_buckets + 1, heads), null row zero
    bias: npt.NDArray[np.float32]
    calibration: dict[str, list[float]]
    stacker: list[float]  # social stacker: coefficients of stack_design's columns, then intercept
    config: dict[str, HeadConfig]
    tuning: list[str]


HEADS = ["expert:review", "expert:weibo", "expert:smp", "neutral", "gate:social", "gate:weibo"]


def sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
    return out


def stack_design(
    z_weibo: npt.NDArray[np.float64],
    z_smp: npt.NDArray[np.float64],
    z_gate: npt.NDArray[np.float64],
    has_emoticon: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """Columns of the social stacker; :mod:`yuqing.analysis.sentiment` builds the same ones."""
    w = sigmoid(z_gate)
    e = has_emoticon.astype(np.float64)
    return np.stack([z_weibo, z_smp, w, w * z_weibo, (1.0 - w) * z_smp, e, e * z_weibo, e * z_smp], axis=1)


def fit_stacker(
    x: sp.csr_matrix,
    y: npt.NDArray[np.bool_],
    domain: npt.NDArray[np.str_],
    has_emoticon: npt.NDArray[np.bool_],
    config: dict[str, HeadConfig],
    seed: int,
) -> list[float]:
    """Fit the social stacker on held-out social training rows (see the module docstring)."""
    rng = np.random.default_rng(seed + 1)
    social = domain != "review"
    hold = social & (rng.random(domain.size) < STACK_HOLDOUT)
    fit_rows = social & ~hold
    heads = {}
    for expert in ("weibo", "smp"):
        mask = fit_rows & (domain == expert)
        heads[expert] = fit_head(x[mask], y[mask], config[expert])
    heads["gate"] = fit_head(x[fit_rows], domain[fit_rows] == "weibo", config["gate_weibo"])
    xh = x[hold]
    z = {k: xh @ w + b for k, (w, b) in heads.items()}
    design = stack_design(z["weibo"], z["smp"], z["gate"], has_emoticon[hold])
    # Each corpus counts equally, whatever its size.
    dh = domain[hold]
    counts = {d: int((dh == d).sum()) for d in ("weibo", "smp")}
    weight = np.array([len(dh) / (2.0 * counts[d]) for d in dh])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(design, y[hold], sample_weight=weight)
    coefficients = np.round(model.coef_.ravel(), 2).tolist()
    print(f"stacker: {int(hold.sum())} held-out rows, coefficients {coefficients}")
    return [float(c) for c in model.coef_.ravel()] + [float(model.intercept_[0])]


def train_model(
    train: Split, dev: dict[str, Split], spec: FeatureSpec, dropout: float, seed: int, tune: bool
) -> Trained:
    domain = np.array(train.domain)
    polarity = np.array([str(p) for p in train.polarity])
    y = train.negative()
    rng = np.random.default_rng(seed)
    # Emoticon dropout: these Weibo rows train without their [emoticon] tags.
    keep = ~((domain != "review") & (rng.random(domain.size) < dropout))
    t0 = time.perf_counter()
    x = feature_matrix(train.normalised, spec, keep)
    has_emoticon = np.array([bool(e) for _, e in train.normalised]) & keep
    review_weight = np.where(np.isin(train.source, list(CHN_SOURCES)), CHN_WEIGHT, 1.0)
    print(f"review rows weighted {CHN_WEIGHT:g}: {int((review_weight > 1).sum())}")
    dev_x = {name: feature_matrix(split.normalised, spec) for name, split in dev.items()}
    print(f"features: {x.shape[0]} × {x.shape[1]}, {x.nnz} non-zeros, {time.perf_counter() - t0:.1f}s")
    columns: dict[str, tuple[npt.NDArray[np.float64], float]] = {}
    config = dict(DEFAULT_CONFIG)
    tuning: list[str] = []
    for expert in EXPERTS:
        mask = domain == expert
        dev_name = EXPERT_DEV[expert]
        dev_y = dev[dev_name].negative()
        candidates = TUNE_GRID[expert] if tune else [config[expert]]
        best: tuple[float, HeadConfig, tuple[npt.NDArray[np.float64], float]] | None = None
        for candidate in candidates:
            t0 = time.perf_counter()
            weight = review_weight[mask] if expert == "review" else None
            head = fit_head(x[mask], y[mask], candidate, weight)
            z = dev_x[dev_name] @ head[0] + head[1]
            # The SMP target is macro-F1 of negative vs not; the binary corpora use accuracy.
            score = macro_f1(dev_y, z > 0) if expert == "smp" else float(accuracy_score(dev_y, z > 0))
            line = f"{expert:7s} C={candidate.c:<5g} nb^{candidate.nb_power:<4g} dev {score:.4f}"
            tuning.append(line)
            print(f"  {line}  ({time.perf_counter() - t0:.0f}s)")
            if best is None or score > best[0]:
                best = (score, candidate, head)
        assert best is not None
        config[expert] = best[1]
        columns[f"expert:{expert}"] = best[2]
    # Neutral head: P(neutral | not negative), from SMP's neutral and positive posts.
    mask = (domain == "smp") & np.isin(polarity, ["neutral", "positive"])
    columns["neutral"] = fit_head(x[mask], polarity[mask] == "neutral", config["neutral"])
    # Gate: which expert's training data a text resembles.
    columns["gate:social"] = fit_head(x, domain != "review", config["gate_social"])
    mask = domain != "review"
    columns["gate:weibo"] = fit_head(x[mask], domain[mask] == "weibo", config["gate_weibo"])
    weights = np.zeros((spec.n_buckets + 1, len(HEADS)), dtype=np.float32)
    bias = np.zeros(len(HEADS), dtype=np.float32)
    for j, name in enumerate(HEADS):
        weights[:, j], bias[j] = columns[name]
    weights[-1] = 0.0
    # Platt scaling of each expert on its own dev split, and of the neutral head on SMP dev.
    calibration: dict[str, list[float]] = {}
    for expert in EXPERTS:
        dev_name = EXPERT_DEV[expert]
        col = HEADS.index(f"expert:{expert}")
        z = dev_x[dev_name] @ weights[:, col] + bias[col]
        calibration[expert] = list(platt(z, dev[dev_name].negative()))
    smp_pol = np.array([str(p) for p in dev["smp2020"].polarity])
    mask = np.isin(smp_pol, ["neutral", "positive"])
    z = dev_x["smp2020"][mask] @ weights[:, 3] + bias[3]
    calibration["neutral"] = list(platt(z, smp_pol[mask] == "neutral"))
    stacker = fit_stacker(x, y, domain, has_emoticon, config, seed)
    return Trained(weights, bias, calibration, stacker, config, tuning)


def quantise(weights: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """int8 per head, scaled so the largest weight maps to ±127."""
    scale = (np.abs(weights).max(axis=0) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    return np.round(weights / scale).astype(np.int8), scale


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_model(path: Path, spec: FeatureSpec, trained: Trained, meta: dict[str, Any]) -> None:
    q, scale = quantise(trained.weights[:-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    np.savez_compressed(path, weights=q, scale=scale, bias=trained.bias, meta=blob)


def strip_emoticons(text: str) -> str:
    return EMOTICON.sub("", text)


def evaluate(model: SentimentModel, dev: dict[str, Split]) -> dict[str, float]:
    """Dev figures of a loaded model: polarity alone, and with the sensitivity rule applied."""
    figures: dict[str, float] = {}
    for name, split in dev.items():
        y = split.negative()
        scores = model.polarity(split.texts)
        pred = scores.negative >= 0.5
        figures[f"{name}.accuracy"] = float(accuracy_score(y, pred))
        figures[f"{name}.macro_f1"] = macro_f1(y, pred)
        # Expected calibration error of the negative score, ten equal-width bins.
        bins = np.minimum((scores.negative * 10).astype(int), 9)
        ece = sum(
            abs(float(scores.negative[bins == b].mean()) - float(y[bins == b].mean())) * (bins == b).mean()
            for b in range(10)
            if (bins == b).any()
        )
        figures[f"{name}.ece"] = float(ece)
        expert = EXPERTS.index(EXPERT_DEV_DOMAIN[name])
        figures[f"{name}.gate_to_own_expert"] = float((scores.experts.argmax(axis=1) == expert).mean())
        results = model.predict(split.texts)
        flagged = np.array([bool(r.flags) for r in results])
        with_flags = np.array([r.label == "negative" for r in results])
        figures[f"{name}.flagged_share"] = float(flagged.mean())
        figures[f"{name}.accuracy_with_flags"] = float(accuracy_score(y, with_flags))
        figures[f"{name}.macro_f1_with_flags"] = macro_f1(y, with_flags)
        if name == "weibo_senti":
            bare = model.polarity([strip_emoticons(t) for t in split.texts]).negative >= 0.5
            figures[f"{name}.accuracy_without_emoticons"] = float(accuracy_score(y, bare))
        if name == "smp2020":
            polarity = np.array([str(p) for p in split.polarity])
            labelled = polarity != "None"
            labels = np.array(scores.labels)
            figures[f"{name}.three_way_macro_f1"] = float(
                f1_score(polarity[labelled], labels[labelled], average="macro")
            )
    for name in ("chnsenticorp", "weibo_senti"):
        labels = np.array(model.polarity(dev[name].texts).labels)
        positive = dev[name].negative() == 0
        figures[f"{name}.positives_called_neutral"] = float((labels[positive] == "neutral").mean())
    return figures


@dataclass
class Anchor:
    vectoriser: TfidfVectorizer
    model: LogisticRegression

    def negative(self, texts: list[str]) -> npt.NDArray[np.float64]:
        proba: npt.NDArray[np.float64] = self.model.predict_proba(self.vectoriser.transform(texts))[:, 1]
        return proba


def train_anchor(train: Split) -> Anchor:
    """The issue's anchor: TF-IDF character 1-3-grams, logistic regression, all training rows."""
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    x = vectoriser.fit_transform(train.texts)
    model = LogisticRegression(C=4.0, max_iter=3000).fit(x, train.negative())
    return Anchor(vectoriser, model)


def evaluate_anchor(anchor: Anchor, dev: dict[str, Split]) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, split in dev.items():
        y = split.negative()
        pred = anchor.negative(split.texts) >= 0.5
        figures[f"{name}.accuracy"] = float(accuracy_score(y, pred))
        figures[f"{name}.macro_f1"] = macro_f1(y, pred)
    return figures


def bench_texts(dev: dict[str, Split], count: int = 20000) -> list[str]:
    """Dev posts of 80–130 characters (about 100), repeated up to ``count``."""
    pool = [t for split in dev.values() for t in split.texts if 80 <= len(t) <= 130]
    return [pool[i % len(pool)] for i in range(count)]


def throughput(fn: Any, texts: list[str], repeats: int = 3) -> float:
    """Posts per second, best of ``repeats`` runs over ``texts`` (one thread)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def print_table(ours: dict[str, float], anchor: dict[str, float], speed: dict[str, float]) -> None:
    rows = [
        ("ChnSentiCorp dev accuracy", "chnsenticorp.accuracy", "91% (test)"),
        ("weibo_senti dev (10% held out) accuracy", "weibo_senti.accuracy", "97% (test)"),
        ("SMP2020-EWECT dev neg-vs-not macro-F1", "smp2020.macro_f1", "0.88 (test)"),
        ("SMP2020-EWECT dev neg-vs-not accuracy", "smp2020.accuracy", ""),
    ]
    print()
    print(f"{'dev figure':44s} {'model':>8s} {'anchor':>8s}  target")
    for label, key, target in rows:
        print(f"{label:44s} {ours[key]:8.4f} {anchor[key]:8.4f}  {target}")
    print(f"{'posts/s (~100 chars, one core)':44s} {speed['model']:8.0f} {speed['anchor']:8.0f}  20000")
    print()
    print("model only:")
    extra = [
        "weibo_senti.accuracy_without_emoticons",
        "smp2020.three_way_macro_f1",
        "chnsenticorp.accuracy_with_flags",
        "weibo_senti.accuracy_with_flags",
        "smp2020.macro_f1_with_flags",
        "chnsenticorp.flagged_share",
        "weibo_senti.flagged_share",
        "smp2020.flagged_share",
        "chnsenticorp.ece",
        "weibo_senti.ece",
        "smp2020.ece",
        "chnsenticorp.gate_to_own_expert",
        "weibo_senti.gate_to_own_expert",
        "smp2020.gate_to_own_expert",
        "chnsenticorp.positives_called_neutral",
        "weibo_senti.positives_called_neutral",
    ]
    for key in extra:
        print(f"  {key:44s} {ours[key]:.4f}")
    print(f"  {'posts/s polarity only (no lexicon)':44s} {speed['polarity']:.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=None, help="shared directory (env YUQING_SHARED)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model file to write")
    parser.add_argument("--bits", type=int, default=20, help="hash buckets = 2**bits")
    parser.add_argument("--dropout", type=float, default=0.3, help="share of Weibo rows without emoticons")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--tune", action="store_true", help="grid-search each expert on its dev split")
    parser.add_argument("--no-anchor", action="store_true", help="skip the TF-IDF anchor")
    args = parser.parse_args(argv)
    shared = args.shared or Path(os.environ.get("YUQING_SHARED", ROOT.parent / "shared"))
    data_dir = shared / "data" / "sentiment"
    if not data_dir.is_dir():
        parser.error(f"no sentiment data in {data_dir}")
    started = time.perf_counter()
    train, dev = load_data(data_dir)
    spec = FeatureSpec(bits=args.bits, orders=(1, 2, 3))
    trained = train_model(train, dev, spec, args.dropout, args.seed, args.tune)
    files = sorted([*TRAIN_FILES, *DEV_FILES.values()])
    meta: dict[str, Any] = {
        "format": 1,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "script": "scripts/train_sentiment.py",
        "features": {"bits": spec.bits, "orders": list(spec.orders)},
        "heads": HEADS,
        "experts": list(EXPERTS),
        "calibration": trained.calibration,
        "social_stacker": trained.stacker,
        "chnsenticorp_weight": {"weight": CHN_WEIGHT, "sources": sorted(CHN_SOURCES)},
        "stack_holdout": STACK_HOLDOUT,
        "config": {k: {"C": v.c, "nb_power": v.nb_power} for k, v in trained.config.items()},
        "emoticon_dropout": args.dropout,
        "seed": args.seed,
        "data_files": {f: file_digest(data_dir / f) for f in files},
        "weibo_dev": "weibo_senti_train rows with md5(text)[0] % 10 == 0",
        "training_rows": len(train.texts),
    }
    write_model(args.out, spec, trained, meta)
    model = SentimentModel.load(args.out)
    ours = evaluate(model, dev)
    texts = bench_texts(dev)
    speed = {
        "model": throughput(model.predict, texts),
        "polarity": throughput(model.polarity, texts),
    }
    if args.no_anchor:
        anchor_figures = {k: float("nan") for k in ours}
        speed["anchor"] = float("nan")
    else:
        anchor = train_anchor(train)
        anchor_figures = evaluate_anchor(anchor, dev)
        speed["anchor"] = throughput(anchor.negative, texts, repeats=1)
    meta["dev"] = {k: round(v, 4) for k, v in ours.items()}
    meta["anchor_dev"] = {k: round(v, 4) for k, v in anchor_figures.items() if not np.isnan(v)}
    meta["posts_per_second"] = {k: round(v) for k, v in speed.items() if not np.isnan(v)}
    meta["tuning"] = trained.tuning
    write_model(args.out, spec, trained, meta)
    args.out.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    print_table(ours, anchor_figures, speed)
    size = args.out.stat().st_size
    print(f"\nwrote {args.out} ({size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
