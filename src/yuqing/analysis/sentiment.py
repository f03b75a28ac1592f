"""Sentiment of posts: negative / neutral / positive with a calibrated negative score, plus flags.

The model is trained by ``scripts/train_sentiment.py`` from ``../shared/data/sentiment/`` and
shipped as ``models/sentiment.npz`` next to this module. Inference is numpy only.

How a batch is scored (all heads are linear over the same hashed features, so one gather per
n-gram position scores every head at once, see :meth:`FeatureBatch.dot`):

* three **experts** give a negative-vs-not logit, each trained on one kind of text: ``review``
  (product, hotel, book and food-delivery reviews), ``weibo`` (Weibo posts whose label follows
  their emoticons) and ``smp`` (Weibo posts labelled by annotators, with neutral ones). Their
  sentiment cues differ — and the corpora conflict when pooled — so each keeps its own weights;
* a two-level **gate** says how much each expert applies to the text: ``s = σ(gate:social)``
  is the share of social media against reviews, ``w = σ(gate:weibo)`` the share of the weibo
  expert within social media; the experts get ``(1 - s, s·w, s·(1 - w))``;
* ``negative = (1 - s) · σ(a_r · logit_review + b_r) + s · social``, with ``a_r, b_r`` fitted on
  ChnSentiCorp dev (Platt scaling). ``social`` comes from the **social stacker**, a small logistic
  regression over the weibo and smp logits, ``w``, emoticon presence and their products, fitted
  on held-out training rows: weibo_senti and SMP are both Weibo posts, so ``w`` alone routes them
  poorly. (A model file without a stacker mixes all three calibrated experts by the gate:
  ``negative = Σ gate_e · σ(a_e · logit_e + b_e)``.)
* a **neutral** head gives P(neutral | not negative); ``neutral = (1 - negative) · σ(…)`` and
  ``positive`` takes the rest. The label is ``negative`` when ``negative ≥ 0.5``, otherwise the
  larger of ``neutral`` and ``positive``.

Then the sensitivity rule (:mod:`yuqing.analysis.sensitivity`): a post that raises any flag is
"negative for the unit" whatever its tone — its label becomes ``negative`` and its score
``max(negative, FLAG_FLOOR)`` with ``FLAG_FLOOR = 0.6``. :meth:`SentimentModel.polarity` gives the
scores before this rule, for evaluation against polarity labels.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from yuqing.analysis.features import FeatureSpec, featurise, normalise
from yuqing.analysis.sensitivity import matcher

__all__ = ["FLAG_FLOOR", "LABELS", "Label", "Polarity", "Sentiment", "SentimentModel"]

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, Label, Label] = ("negative", "neutral", "positive")
# A flagged post is reported negative with at least this score: above the 0.5 decision line so
# it sorts with the negatives, below the scores of posts that are negative in tone as well.
FLAG_FLOOR = 0.6
# Texts scored per numpy batch: large enough to amortise numpy calls, small enough that the
# gathered (positions × heads) array stays a few megabytes.
_CHUNK = 2048

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sentiment:
    """Sentiment of one text. ``negative`` is the probability that it is negative, 0…1."""

    label: Label
    negative: float
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Polarity:
    """Scores of a batch before the sensitivity rule; each array has one entry per text.

    ``negative + neutral + positive == 1``; ``experts`` holds the gate's weights (columns in
    the order of :attr:`SentimentModel.experts`).
    """

    negative: FloatArray
    neutral: FloatArray
    positive: FloatArray
    experts: FloatArray

    @property
    def labels(self) -> list[Label]:
        """Label per text: negative at ``negative ≥ 0.5``, else the larger of the other two."""
        out: list[Label] = []
        for neg, neu, pos in zip(self.negative, self.neutral, self.positive, strict=True):
            out.append("negative" if neg >= 0.5 else ("neutral" if neu > pos else "positive"))
        return out


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = (1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))).astype(np.float32)
    return out


_ONLY_MENTIONS = re.compile(r"(?:\s*(?://)?[@＠][^\s@＠:：,，。]{1,30}[:：,，。]?)+\s*")


class SentimentModel:
    """The shipped sentiment model. Build it with :meth:`load`; it is immutable and thread-safe."""

    def __init__(
        self,
        spec: FeatureSpec,
        weights: FloatArray,
        bias: FloatArray,
        meta: dict[str, Any],
    ) -> None:
        heads: list[str] = list(meta["heads"])
        if weights.shape != (spec.n_buckets + 1, len(heads)) or bias.shape != (len(heads),):
            raise ValueError("sentiment model: weight shape does not match its metadata")
        self.spec = spec
        self.meta = meta
        self.experts: tuple[str, ...] = tuple(meta["experts"])
        self._weights = weights
        self._bias = bias
        if self.experts != ("review", "weibo", "smp"):
            raise ValueError(f"sentiment model: unknown experts {self.experts}")
        self._expert_cols = np.array([heads.index(f"expert:{e}") for e in self.experts])
        self._gate_social = heads.index("gate:social")
        self._gate_weibo = heads.index("gate:weibo")
        self._neutral_col = heads.index("neutral")
        calibration = meta["calibration"]
        self._slope = np.array([calibration[e][0] for e in self.experts], dtype=np.float32)
        self._intercept = np.array([calibration[e][1] for e in self.experts], dtype=np.float32)
        self._neutral_cal = np.array(calibration["neutral"], dtype=np.float32)
        stacker = meta.get("social_stacker")
        self._stacker = None if stacker is None else np.array(stacker, dtype=np.float32)

    @classmethod
    def load(cls, path: str | Path | None = None) -> SentimentModel:
        """Load a model file; by default the one shipped in ``yuqing/analysis/models/``."""
        if path is None:
            data = resources.files("yuqing.analysis").joinpath("models/sentiment.npz").read_bytes()
            source: Any = io.BytesIO(data)
        else:
            source = Path(path)
        try:
            with np.load(source, allow_pickle=False) as npz:
                meta = json.loads(bytes(npz["meta"]).decode("utf-8"))
                quantised = npz["weights"]
                scale = npz["scale"].astype(np.float32)
                bias = npz["bias"].astype(np.float32)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a sentiment model file: {path or 'shipped model'}: {exc}") from exc
        spec = FeatureSpec(bits=int(meta["features"]["bits"]), orders=tuple(meta["features"]["orders"]))
        # Weights are stored as int8 with one scale per head; the extra last row (the bucket of
        # windows that cross a text boundary) must stay zero.
        weights = np.zeros((spec.n_buckets + 1, quantised.shape[1]), dtype=np.float32)
        weights[: quantised.shape[0]] = quantised.astype(np.float32) * scale
        weights[spec.n_buckets] = 0.0
        return cls(spec, weights, bias, meta)

    def logits(self, texts: Sequence[str]) -> FloatArray:
        """Raw head logits, shape ``(len(texts), heads)``, in the order of ``meta["heads"]``."""
        return self._logits([normalise(t) for t in texts])

    def _logits(self, normalised: Sequence[tuple[str, list[str]]]) -> FloatArray:
        parts = [
            featurise((), self.spec, normalised=normalised[i : i + _CHUNK]).dot(self._weights)
            for i in range(0, len(normalised), _CHUNK)
        ]
        if not parts:
            return np.zeros((0, self._bias.size), dtype=np.float32)
        out: FloatArray = np.concatenate(parts) + self._bias
        return out

    def _polarity(self, normalised: Sequence[tuple[str, list[str]]]) -> Polarity:
        z = self._logits(normalised)
        social = _sigmoid(z[:, self._gate_social])
        weibo = _sigmoid(z[:, self._gate_weibo])
        gate = np.stack([1.0 - social, social * weibo, social * (1.0 - weibo)], axis=1)
        expert_neg = _sigmoid(z[:, self._expert_cols] * self._slope + self._intercept)
        if self._stacker is None:
            negative = (gate * expert_neg).sum(axis=1).astype(np.float32)
        else:
            # Columns as in the training script's ``stack_design``.
            z_weibo = z[:, self._expert_cols[1]]
            z_smp = z[:, self._expert_cols[2]]
            emo = np.array([bool(e) for _, e in normalised], dtype=np.float32)
            coef = self._stacker
            stacked = (
                coef[0] * z_weibo
                + coef[1] * z_smp
                + coef[2] * weibo
                + coef[3] * weibo * z_weibo
                + coef[4] * (1.0 - weibo) * z_smp
                + emo * (coef[5] + coef[6] * z_weibo + coef[7] * z_smp)
                + coef[8]
            )
            negative = ((1.0 - social) * expert_neg[:, 0] + social * _sigmoid(stacked)).astype(np.float32)
        neutral_share = _sigmoid(z[:, self._neutral_col] * self._neutral_cal[0] + self._neutral_cal[1])
        neutral = ((1.0 - negative) * neutral_share).astype(np.float32)
        positive = np.maximum(1.0 - negative - neutral, 0.0).astype(np.float32)
        return Polarity(negative, neutral, positive, gate.astype(np.float32))

    def polarity(self, texts: Sequence[str]) -> Polarity:
        """Scores before the sensitivity rule: what to evaluate against polarity labels."""
        return self._polarity([normalise(t) for t in texts])

    def predict(self, texts: Sequence[str], *, apply_flags: bool = True) -> list[Sentiment]:
        """Sentiment of each text, with sensitivity flags; flagged texts become negative.

        ``apply_flags=False`` still reports the flags but leaves label and score as the
        polarity model gave them.
        """
        # a text of nothing but @accounts (「@新浪早晚报」, 「@张三 @李四」) says nothing of its own:
        # the model would read the accounts' names as words
        normalised = [normalise("" if _ONLY_MENTIONS.fullmatch(t) else t) for t in texts]
        scores = self._polarity(normalised)
        flag_sets = matcher().flags_many(t for t, _ in normalised)
        out: list[Sentiment] = []
        for label, negative, flags in zip(scores.labels, scores.negative.tolist(), flag_sets, strict=True):
            if flags and apply_flags:
                out.append(Sentiment("negative", max(negative, FLAG_FLOOR), flags))
            else:
                out.append(Sentiment(label, negative, flags))
        return out
