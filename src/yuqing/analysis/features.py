"""Hashed character n-gram and emoticon features, shared by sentiment training and runtime.

The training script (``scripts/train_sentiment.py``) and :mod:`yuqing.analysis.sentiment` both call
this module, so a text is turned into exactly the same features in both places; the model file
only stores one weight row per hash bucket.

Pipeline for one text:

1. :func:`normalise` — traditional → simplified (OpenCC t2s), full-width ASCII → half-width, lower
   case, URLs and ``@user`` mentions folded to a placeholder, character runs longer than three
   shortened, Weibo emoticon tags (``[泪]``, ``[哈哈]``) taken out of the text into a separate list.
2. :func:`featurise` — for a whole batch at once, in numpy: every character 1…n-gram of the cleaned
   text and every emoticon name is hashed (FNV-style polynomial, then MurmurHash3's 64-bit
   finaliser) into ``2**bits`` buckets. Emoticons live in their own hash namespace, so ``[怒]`` and
   the character 怒 are different features.
3. Each occurrence carries the value ``1 / sqrt(number of features in the text)``: the L2 norm of
   the count vector when no feature repeats, cheap to compute without sorting, and exactly the
   same in training (sparse matrix) and at runtime (:meth:`FeatureBatch.dot`).

Why hashing: no vocabulary to ship or look up; the model is one dense matrix indexed by bucket.
Why numpy over the concatenated batch: a Python loop over n-grams would manage a few thousand
posts per second; vectorised, the batch is hashed at well over 20,000 ~100-character posts/s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import opencc

__all__ = ["FeatureBatch", "FeatureSpec", "featurise", "normalise"]

_T2S = opencc.OpenCC("t2s")

# A Weibo emoticon: a short bracketed name without spaces ([泪], [哈哈], [good], [给你小心心]).
EMOTICON = re.compile(r"\[([^\[\]\s]{1,8})\]")
_URL = re.compile(r"https?://[!-~]+|www\.[!-~]+")
# Mentions name people, not feelings: a user called 快乐小猪 should not make a post positive.
_MENTION = re.compile(r"@[^\s:：,，。@/)]{1,30}")
# Private-use characters stand for the folded URL and mention, so they never clash with text.
_URL_MARK = "\ue000"
_MENTION_MARK = "\ue001"

_SEP = 0  # NUL: separates texts in the concatenated batch
_SPACE = 0x20
_RUN = 3  # longest run of one character kept: 哈哈哈哈哈哈 / !!!!!!! → three
_U64 = np.uint64
_MUL = _U64(0x100000001B3)  # FNV-1a 64-bit prime, combines characters of an n-gram
_FMIX1 = _U64(0xFF51AFD7ED558CCD)
_FMIX2 = _U64(0xC4CEB9FE1A85EC53)
_EMOTICON_SALT = _U64(0x9E3779B97F4A7C15)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FeatureSpec:
    """What :func:`featurise` extracts; stored in the model file so runtime matches training."""

    bits: int = 19
    orders: tuple[int, ...] = (1, 2, 3)

    @property
    def n_buckets(self) -> int:
        """Number of hash buckets; weight matrices have one more row, the all-zero ``null`` row."""
        return 1 << self.bits


def normalise(text: str) -> tuple[str, list[str]]:
    """String-level cleaning of one text: the steps that need regular expressions.

    Returns the text with emoticon tags removed, and the emoticon names. Character-level folding
    (width, case, spaces, long runs) happens later on the whole batch in numpy, in
    :func:`featurise`, because per-character work in Python is what limits throughput.
    """
    text = _T2S.convert(text)
    # Cheap substring tests skip the regular expressions for most texts.
    if "\x00" in text:
        text = text.replace("\x00", " ")
    if "http" in text or "www." in text:
        text = _URL.sub(_URL_MARK, text)
    if "@" in text:
        text = _MENTION.sub(_MENTION_MARK, text)
    if "[" in text:
        emoticons = [e.lower() for e in EMOTICON.findall(text)]
        if emoticons:
            # A space keeps the words either side of the tag from forming n-grams together.
            text = EMOTICON.sub(" ", text)
        return text, emoticons
    return text, []


def _fold(cps: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Character folding over a NUL-separated batch: full-width ASCII → half-width, ASCII lower
    case, any whitespace or control character → one space, no space at either end of a text,
    runs of one character cut to ``_RUN``. Separators are never removed."""
    cps = cps.copy()
    full = (cps >= 0xFF01) & (cps <= 0xFF5E)
    cps[full] -= 0xFEE0
    upper = (cps >= 0x41) & (cps <= 0x5A)
    cps[upper] += 0x20
    blank = ((cps < 0x20) & (cps != _SEP)) | (cps == 0x7F) | (cps == 0x3000) | (cps == 0xA0)
    blank |= (cps >= 0x2000) & (cps <= 0x200B)
    cps[blank] = _SPACE
    drop = np.zeros(cps.size, dtype=np.bool_)
    is_space = cps == _SPACE
    is_sep = cps == _SEP
    # A space after a space or a separator (or at the very start), or before a separator.
    prev_blank = np.empty(cps.size, dtype=np.bool_)
    prev_blank[0] = True
    prev_blank[1:] = is_space[:-1] | is_sep[:-1]
    next_sep = np.empty(cps.size, dtype=np.bool_)
    next_sep[-1] = True
    next_sep[:-1] = is_sep[1:]
    drop |= is_space & (prev_blank | next_sep)
    if cps.size > _RUN:
        same = cps[_RUN:] == cps[:-_RUN]
        for k in range(1, _RUN):
            same &= cps[_RUN:] == cps[_RUN - k : -k]
        drop[_RUN:] |= same & ~is_sep[_RUN:]
    if drop.any():
        cps = cps[~drop]
    return cps


def _fmix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """MurmurHash3 64-bit finaliser: spreads the polynomial hash over all 64 bits (in place)."""
    h ^= h >> _U64(33)
    h *= _FMIX1
    h ^= h >> _U64(33)
    h *= _FMIX2
    h ^= h >> _U64(33)
    return h


def _codepoints(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


@dataclass(frozen=True)
class FeatureBatch:
    """Hashed features of a batch of texts.

    ``grams[k, i]`` is the bucket of the n-gram of order ``spec.orders[k]`` starting at position
    ``i`` of the concatenated batch, or ``n_buckets`` (the null row) where the window crosses a
    text boundary. Text ``d`` owns positions ``starts[d]`` up to the next start, always at least
    one (its trailing separator), so segment sums never see an empty segment. Emoticons are
    listed apart as ``(emo_docs, emo_buckets)`` pairs.
    """

    n_docs: int
    n_buckets: int
    grams: IntArray
    starts: IntArray
    emo_docs: IntArray
    emo_buckets: IntArray
    scale: FloatArray

    def dot(self, weights: npt.NDArray[np.float32]) -> FloatArray:
        """Linear scores: ``weights`` has shape ``(n_buckets + 1, heads)`` with a zero last row."""
        if self.n_docs == 0:
            return np.zeros((0, weights.shape[1]), dtype=np.float32)
        gathered = weights[self.grams[0]]
        for k in range(1, self.grams.shape[0]):
            gathered += weights[self.grams[k]]
        out: FloatArray = np.add.reduceat(gathered, self.starts, axis=0)
        if self.emo_docs.size:
            np.add.at(out, self.emo_docs, weights[self.emo_buckets])
        out *= self.scale[:, None]
        return out

    def to_coo(self) -> tuple[IntArray, IntArray, FloatArray]:
        """``(rows, cols, values)`` of the sparse feature matrix, for training with scipy/sklearn.

        Repeated ``(row, col)`` pairs are summed by scipy, which reproduces :meth:`dot` exactly.
        """
        length = self.grams.shape[1]
        doc_of = np.repeat(np.arange(self.n_docs, dtype=np.int64), np.diff(np.append(self.starts, length)))
        valid = self.grams < self.n_buckets
        rows = np.concatenate([np.broadcast_to(doc_of, self.grams.shape)[valid], self.emo_docs])
        cols = np.concatenate([self.grams[valid], self.emo_buckets])
        values = self.scale[rows]
        return rows, cols, values


def featurise(
    texts: Sequence[str],
    spec: FeatureSpec,
    keep_emoticons: npt.NDArray[np.bool_] | None = None,
    *,
    normalised: Sequence[tuple[str, list[str]]] | None = None,
) -> FeatureBatch:
    """Hash a batch of texts.

    ``keep_emoticons`` (one flag per text) drops the emoticons of texts flagged False: training
    uses it for emoticon dropout. ``normalised`` passes the output of :func:`normalise` when the
    caller has it already (training featurises the same rows several times).
    """
    if normalised is None:
        normalised = [normalise(t) for t in texts]
    n_docs = len(normalised)
    n_buckets = spec.n_buckets
    if n_docs == 0:
        empty = np.zeros(0, dtype=np.int64)
        grams0 = np.zeros((len(spec.orders), 0), dtype=np.int64)
        return FeatureBatch(0, n_buckets, grams0, empty, empty, empty, np.zeros(0, np.float32))
    shift = _U64(64 - spec.bits)
    folded = _fold(_codepoints("\x00".join([t for t, _ in normalised]) + "\x00"))
    cps = folded.astype(np.uint64)
    length = cps.size
    is_sep = folded == _SEP
    ends = np.flatnonzero(is_sep)  # one separator after each text
    starts = np.zeros(n_docs, dtype=np.int64)
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts
    # sep_before[i] = separators among positions < i; a window [i, i+n) is inside one text
    # when it holds no separator.
    sep_before = np.zeros(length + 1, dtype=np.int64)
    np.cumsum(is_sep, out=sep_before[1:])
    max_order = max(spec.orders)
    grams = np.full((len(spec.orders), length), n_buckets, dtype=np.int64)
    poly = cps.copy()
    for n in range(1, max_order + 1):
        if n > 1:
            # poly[i] = hash of cps[i : i + n], built from the (n-1)-gram hash at i.
            poly = poly[:-1] * _MUL + cps[n - 1 :]
        if n not in spec.orders:
            continue
        span = length - n + 1
        if span <= 0:
            continue
        ok = (sep_before[n : n + span] - sep_before[:span]) == 0
        hashed = _fmix(poly ^ _U64(n))
        grams[spec.orders.index(n), :span] = np.where(ok, (hashed >> shift).astype(np.int64), n_buckets)
    counts = np.zeros(n_docs, dtype=np.int64)
    for n in spec.orders:
        counts += np.maximum(lengths - n + 1, 0)
    emo_docs_list: list[int] = []
    emo_names: list[str] = []
    for d, (_, emoticons) in enumerate(normalised):
        if emoticons and (keep_emoticons is None or keep_emoticons[d]):
            emo_docs_list.extend([d] * len(emoticons))
            emo_names.extend(emoticons)
    emo_docs = np.asarray(emo_docs_list, dtype=np.int64)
    if emo_names:
        # Each name is hashed whole: polynomial over its characters, per name via a segment sum.
        name_lengths = np.fromiter((len(e) for e in emo_names), dtype=np.int64, count=len(emo_names))
        ecps = _codepoints("".join(emo_names))
        name_starts = np.zeros(len(emo_names), dtype=np.int64)
        name_starts[1:] = np.cumsum(name_lengths[:-1])
        offset = np.arange(ecps.size, dtype=np.int64) - np.repeat(name_starts, name_lengths)
        powers = np.cumprod(np.full(9, _MUL, dtype=np.uint64))
        terms = ecps * powers[offset]
        ehash = np.add.reduceat(terms, name_starts) ^ _EMOTICON_SALT
        emo_buckets = (_fmix(ehash) >> shift).astype(np.int64)
        counts += np.bincount(emo_docs, minlength=n_docs)
    else:
        emo_buckets = np.zeros(0, dtype=np.int64)
    scale = (1.0 / np.sqrt(np.maximum(counts, 1))).astype(np.float32)
    return FeatureBatch(n_docs, n_buckets, grams, starts, emo_docs, emo_buckets, scale)
