"""Online event clustering of a post stream: each post joins an open event of its topic or starts one.

Order of evidence for a post (first that applies wins):

1. a platform link (``parent_id``, then ``root_id``) to a post whose event is open: join it,
   always;
2. a near-duplicate of an earlier post (given as ``duplicate_of`` or found by the built-in
   ``NearDuplicateIndex``) whose event is open: join it, unless the entities conflict (below);
3. a Weibo ``//@name:`` chain whose quoted part is the text of an earlier post: join its event
   (quoted text is text evidence, not a link field), unless the entities conflict;
4. a ``join_only`` post (the pipeline's posts matching no topic) that none of these placed gets
   no event (``None``): untopiced chatter never forms events of its own;
5. otherwise the candidate open events of the post's topic (those sharing an informative word
   with it, and those active in the last hour) are ranked by a linear score ``w . features``, and
   the best one *with specific text evidence* is joined: the post names at least
   ``specific_words`` (2) of the event's theme words (see below) that are specific (two
   characters or more, not common in everyday Weibo: ``common_words``; and either rare in the
   topic, IDF >= 4 there, or common in the topic because this event holds at least
   ``held_share`` (half) of the topic's posts naming them: a spreading story's own words), and
   they are at least ``specific_share`` (10 %) of the post's words of two characters or more
   that are not common in everyday Weibo (a roundup of seventeen products shares two words with
   the story of one of them), its cosine with the event's core is at least ``min_cosine``
   (0.05), and the main entities do not conflict;
6. otherwise the post starts an event if it has at least ``seed_words`` (3) informative words;
   a post with less (「太可怕了[蜡烛]」, 「@某某 @某某」) is left without an event (``None``).

An event's core is its first ``core_posts`` (30) posts: they alone make its centroid and its
theme words (the words of its first post, and those named by two core posts), so a large
event's words cannot drift into everyone's and a word one comment dropped in passing is no
evidence.

Why the evidence rule: a comment that repeats nothing of its story cannot be placed by its text,
and placing it by time and size alone builds one blob.  The rule before this one (join the best
score unless it fell below the 40 % quantile of recent best scores) reached B-cubed F1 0.40 on
``dense_dev`` by putting 10,509 of its 17,990 posts, from 181 of its 183 stories, into one event
and most others into singletons (on the sparse 200-cascade streams: 8,400 posts of 197
cascades): every hot event absorbed the chatter of the moment, grew hotter and absorbed more.
Such an event is graded on the sum of many incidents.  With the rule, events hold one story
(B-cubed precision 0.92-0.95; on ``dense_dev`` the largest event, 235 posts, is one story)
and most chatter has no event; B-cubed F1 falls to about 0.1 (the TF-IDF baseline's 0.13-0.15
comes at precision 0.3).  The ceiling for text and time here is low: with the true past known,
the best per-post choice of story (a smoothed word model times a time prior) is right for 46 %
of posts, and even words found in only 2-5 posts come from one story 54 % of the time.  In the
pipeline, posts that match no topic never start events, so a topic's events are what is seen
(on ``dense_dev`` with the hospital/school/food words as the topic: precision 0.91, the largest
events one story each, where the old rule made one event of 1,317 posts from 145 stories).

Entities (``entities.extract``: places, hospitals, schools, companies, offices, anonymised
people) are the strong evidence text similarity lacks: one template about three hospitals
(「患者家属投诉{医院}误诊…」) is three near-duplicates and three stories.  An event counts the
entities its posts name; its main ones (the 3 most named of each kind, and of each place level)
must not *conflict* with a post's (name only other specific entities of a kind) for a
near-duplicate, a quoted chain or the score to join it.  ``EventInfo.entities`` reports the 10
most named as ``{"kind", "name", "posts"}``.  On the dense streams (``cluster_eval``) this costs
0.004-0.010 B-cubed F1 (comments naming another city or hospital in passing are kept out of
their event) and about a fifth of the speed; it is kept for what the score cannot see.

Features of (post, event), which rank the candidates with evidence: ``max(log heat, log 1e-4)``
at three time scales (1 min, 30 min, 24 h; heat is the event's post count decayed
exponentially), ``log(size + 1)``, whether the previous post of the topic went to this event,
and the cosine of the post's TF-IDF vector (rjieba words without emoticons, IDF from the stream
so far with a prior of 1,000 unseen posts, so that in a young stream every word counts) with the
event's core centroid.  The weights were fitted as a conditional logit (softmax over the
candidates, true event as target) on the CED dev stream; the evidence thresholds were chosen on
the dense streams of ``cluster_eval`` seeds 0 and 1 (one specific word instead of two: precision
0.56; a core of 100 posts: the largest event mixes 45 stories).

Event ids are ``ev-`` and 12 hex digits of a random UUID: unique across clusterers, restarts
and workers.  ``EventInfo.first_seen``/``last_seen`` are the posts' true earliest and latest
times; a post older than the newest seen counts at the newest time only for the window.

Events idle longer than ``window`` (72 h) are closed: they attract no post and are evicted from
memory with their posts' ids.  Title: among the (up to) 8 most informative posts of an event (the
largest IDF mass, so full reports over short comments; a post linked to another, a repost or a
comment, counts 0.3 of its mass), the one with the highest cosine to the centroid times the
square root of that mass.  Keywords: the top centroid words.
``snapshot()``/``restore()`` use JSON and the near-duplicate index's own format (no pickle); a
snapshot from before entities and true times restores (those start empty, from the window times).

``assign_events(records)`` is the CLI's entry: CED-style dicts in, ``event_id`` added (``None``
for a ``join_only`` record that no link placed, and for a comment with nothing to place it by),
in ``published_at`` order; it never reads
``cascade``, ``rumor`` or ``kind``.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import gzip
import heapq
import math
import re
import struct
import uuid
from array import array
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson
import rjieba

from yuqing.analysis.entities import Entity, conflicts, extract, shares
from yuqing.ingest.neardup import NearDuplicateIndex

F64Array = npt.NDArray[np.float64]

DEFAULT_WINDOW = dt.timedelta(hours=72)
DEFAULT_TOPIC = ""
_TAUS = (60.0, 1800.0, 86400.0)  # heat time scales, seconds
_RECENT = 3600.0  # events idle longer compete only through shared words (1-6 h: same F1)
_MAX_CLOSED = 100_000
# Posts of closed events a late repost may still name as its root (newest first kept); a caller
# restores older ones from its store (`relink` with the event's topic).
_MAX_CLOSED_POSTS = 200_000
_TITLE_CANDIDATES = 8
_LINKED_TITLE_WEIGHT = 0.3  # a linked post's information, for choosing the title only
_QUOTED_TITLE_CHARS = 10  # a quoted original shorter than this (「转发微博」) names no event
# a post that opens with its own 【headline】 is a report that names itself: its information counts
# this many times for the title (twice in the final choice, which weighs its square root):
# 「太可怕了，今年3.15…」 titled an event holding 「【今年3.15又有17种“问题食品”曝光】…」
_HEADLINED_TITLE_WEIGHT = 4.0
_N_KEYWORDS = 10
_MAGIC = b"YQEVENTS1"
_MAX_REJECTED = 16  # candidates looked at past the best when the best names other entities
_MAIN_ENTITIES = 3  # an event's main entities: the most named of each kind (and place level)
_REPORTED_ENTITIES = 10
# A snapshot keeps each open event's newest posts (ids and quoted-text keys) only: saved with
# every batch, the whole lists would make a long-running event cost more per post as it grows.
# A link to an older post resolves after a restart when the caller relinks it (``relink``).
_SNAPSHOT_POSTS = 2000
# A word in more than 1 in 245 everyday Weibo posts (IDF below 5.5 in ``models/word_df.json.gz``,
# built by ``scripts/build_word_df.py``: 中国, 真是, 可能, 问题, 发生, 医生) is never specific
# evidence of a story: at the start of a stream every word is still rare in it.
_COMMON_IDF = 5.5
# A closed event that may flare up again (see ``EventClusterer._revive``): one of at least this
# many posts that names a unit or a place below a province among its main entities is kept,
# trimmed, for this long (the newest ``_MAX_DORMANT``: they are saved with every snapshot).
_MAX_DORMANT = 500
_DORMANT_MIN_POSTS = 3
# a closed story that names no unit or place is kept when it spread this far: its text posted
# again weeks later (a rumour going round again) reopens it
_DORMANT_COPY_MIN_POSTS = 20
# ... and so does a retelling that shares this many of its theme words, and this share of its own
# specific words (the core's centroid is mostly its reposts' words: no cosine tells it here)
_RETOLD_WORDS = 6
_RETOLD_SHARE = 0.4
_DORMANT_SECONDS = 400 * 86400.0
_DORMANT_WORDS = 32  # centroid words kept
_DORMANT_TITLES = 3  # title candidates kept
_REVIVE_KINDS = frozenset({"hospital", "school", "company", "office"})
_REVIVE_PLACE_LEVELS = frozenset({"city", "county", "town", "village"})
# (shared theme words, cosine with the core) of which one pair must be reached: with a unit
# named, and with a place only
_REVIVE_UNIT = ((3, 0.05), (2, 0.3))
_REVIVE_PLACE = ((4, 0.2),)
_MENTION_RE = re.compile(r"@[\w\-]{1,30}")


@functools.cache
def common_words() -> frozenset[str]:
    """Words too common in everyday Weibo to be specific evidence of one story."""
    raw = resources.files("yuqing.analysis").joinpath("models/word_df.json.gz").read_bytes()
    data = orjson.loads(gzip.decompress(raw))
    cut = data["docs"] / math.exp(_COMMON_IDF) - 1.0  # IDF ln(docs / (df + 1)) < 5.5
    return frozenset(w for w, n in data["df"].items() if n > cut)


# Words of a post's frame, not of its story: never shown as an event's keywords.
_FRAME_WORDS = frozenset(
    {"转发", "微博", "转发微博", "评论", "回复", "分享", "图片", "视频", "网页", "链接", "网页链接", "原文"}
    | {"配图", "长微博", "mark", "via", "http", "https", "cn"}
)
# A user name or an id left in a text (pilgrim2006, terrytan2012), a keyboard run (wwwwww).
_NOT_A_WORD_RE = re.compile(r"[a-z_]{3,}\d{2,}\w*|\w*(\w)\1{3,}\w*|[a-z]{1,2}|\d+|\w{16,}")


# Characters of the private use areas: the emoji of old phone keyboards (Softbank's U+E419…) that
# Weibo kept as they were; no font draws them, and a title showed them as boxes
_PRIVATE_USE_RE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
_BRACKETED = re.compile(r"【([^【】]{6,60})】")
_SENTENCE_END = re.compile(r"[。！？!?\n]")
HEADLINE_CHARS = 40
# A post's headline opens it (after its #hashtags#, an @account's name and the like); a 【…】 further
# on is a quote or a credit (「…求扩散！【来源：@请叫我陈博博】」 named the Mico missing-child event).
_HEADLINE_WITHIN = 20
_LEADING_MENTIONS = re.compile(r"^(?:@[^\s:：,，@]{1,30}\s*[:：,，]?\s*)+")
_CREDIT_RE = re.compile(r"【\s*(?:来源|转自|转载|原文|via|图|视频|摘自|出处)[^【】]{0,60}】")


def headline(text: str, limit: int = HEADLINE_CHARS) -> str:
    """A short name for an event from its best post, as a list or a report title reads it: the
    post's own 【headline】 when it has one, else its first sentence, clipped to `limit`
    characters with 「…」. The whole post stays on the event page."""
    text = _PRIVATE_USE_RE.sub("", _CREDIT_RE.sub("", text))
    flat = " ".join(text.split())
    found = _BRACKETED.search(flat)
    if found and found.start() <= _HEADLINE_WITHIN:
        return found.group(1).strip()
    # a post that opens by citing or addressing accounts (「@新浪早晚报：江西婺源…」) is named by
    # what it says
    opening = _LEADING_MENTIONS.sub("", text.strip()) or text.strip()
    first = " ".join(_SENTENCE_END.split(opening, 1)[0].split()) or flat
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def _opens_with_headline(text: str) -> bool:
    """Whether the post opens with a 【headline】 of its own (not a 【来源：…】 credit): what
    `headline` names it by."""
    if "【" not in text:
        return False
    found = _BRACKETED.search(" ".join(_CREDIT_RE.sub("", text).split()))
    return found is not None and found.start() <= _HEADLINE_WITHIN


def display_keywords(ranked: Sequence[str], limit: int = _N_KEYWORDS) -> list[str]:
    """The words an office reads as an event's keywords, from its centroid's strongest words:
    no single characters (的, 得, 沈), no words common in everyday Weibo (真是, 问题), no words
    of the post's frame (转发微博) and no user names or numbers."""
    common = common_words()
    shown: list[str] = []
    for word in ranked:
        if len(word) < 2 or word in common or word in _FRAME_WORDS or _NOT_A_WORD_RE.fullmatch(word):
            continue
        shown.append(word)
        if len(shown) == limit:
            break
    return shown


# URLs, [emoticons] and runs of non-word characters become one space: an emoticon tells a mood
# (「[蜡烛]」 under every death), not a story, and as a word it tied unrelated comments together;
# an @mention is no word of the story either: its name tied comments to whoever they addressed, and
# showed among an event's keywords (「杨辰琳」「伊甸园」 from 「@杨辰琳她爸」「@erin伊甸园」); B-cubed
# precision went up by 0.005 on the CED streams and 0.008 on dense_dev, recall down by 0.001
_SPLIT_RE = re.compile(r"https?://[!-~]+|@[\w\-]{1,30}|\[[^\[\]\s]{1,10}\]|[^\w@]+|@")
_CHAIN_RE = re.compile(r"//\s*@[^:：\s]{1,30}\s*[:：]")
_KEY_DROP_RE = re.compile(r"https?://[!-~]+|@[\w\-]{1,30}|\[[^\[\]\s]{1,10}\]|[\W_]+")


@dataclass(frozen=True, slots=True)
class Weights:
    """Linear score of (post, event); see the module docstring for the features and the fit."""

    heat: tuple[float, float, float] = (0.238, 0.273, 0.330)
    log_size: float = 0.475
    previous: float = -0.167
    cosine: float = 6.532
    # Joining through the score needs specific text evidence (see the module docstring): the
    # cosine with the event's core at least ``min_cosine`` and at least ``specific_words`` shared
    # theme words, each of IDF ``specific_idf`` or more in the topic or held ``held_share`` by the
    # event; a post with none starts an event only when it has at least ``seed_words``
    # informative words.  An event's core is its first ``core_posts`` posts.  The shared theme
    # words must also be ``specific_share`` of the post's specific words: a roundup naming
    # seventeen products (「今年3.15又有17种问题食品：1兰州拉面…3来伊份…」) shares two words with
    # the story of one of them and is another story.
    min_cosine: float = 0.05
    specific_idf: float = 4.0
    specific_words: int = 2
    specific_share: float = 0.1
    seed_words: int = 3
    core_posts: int = 30
    held_share: float = 0.5


@dataclass(frozen=True, slots=True)
class Post:
    """What the clusterer needs of a post.  ``published_at`` must be timezone-aware."""

    id: str
    text: str
    published_at: dt.datetime
    topic: str | None = None
    root_id: str | None = None
    parent_id: str | None = None
    duplicate_of: str | None = None
    # join an event only through a link (parent, root, duplicate, quoted chain), else get none:
    # for posts that match no topic, so that untopiced chatter never forms events of its own
    join_only: bool = False


@dataclass(frozen=True, slots=True)
class EventInfo:
    """An event as reported: its representative post, top words, time span and posts."""

    id: str
    topic: str
    title: str
    title_post_id: str
    keywords: list[str]
    entities: list[dict[str, Any]]  # [{"kind", "name", "posts"}], most named first
    first_seen: dt.datetime
    last_seen: dt.datetime
    size: int
    post_ids: list[str]
    open: bool


@dataclass(slots=True)
class _Event:
    id: str
    topic: str
    first: float
    last: float
    heat: list[float]
    heat_at: float
    size: int = 0
    centroid: dict[str, float] = field(default_factory=dict)
    norm2: float = 0.0
    posts: list[str] = field(default_factory=list)
    # title candidates: (information, post id, text, vector)
    candidates: list[tuple[float, str, str, dict[str, float]]] = field(default_factory=list)
    # posts naming each entity, keyed "kind|level|name"; the true earliest and latest post times
    # (``first``/``last`` are on the clusterer's monotonic clock, for the window)
    entities: dict[str, int] = field(default_factory=dict)
    # the entities its first post names: main entities are these and those named by two posts, not
    # what one comment of hundreds names (None: restored from a snapshot older than this rule)
    seed_entities: list[str] | None = None
    seen_first: float | None = None
    seen_last: float | None = None
    # the story's words: posts of its core naming each word (the first post counts twice), so a
    # word counts as evidence when the first post or two core posts name it, not one comment
    theme: dict[str, int] = field(default_factory=dict)
    # posts of the whole event naming each theme word: a story's own words grow common in its
    # topic as it spreads, and stay evidence for it while it holds most of their posts
    hits: dict[str, int] = field(default_factory=dict)


def tokens(text: str) -> list[str]:
    """rjieba words of the lowercased text; URLs, punctuation, symbols and spaces dropped."""
    return [w for w in rjieba.cut(_SPLIT_RE.sub(" ", text.lower())) if w != " "]  # runs are one space


def quoted_texts(text: str) -> list[str]:
    """The texts quoted by a Weibo repost chain ``comment//@a: text of a//@b: text of b``, outermost first."""
    marks = list(_CHAIN_RE.finditer(text))
    return [text[m.end() :].strip() for m in marks if text[m.end() :].strip()]


def _text_key(text: str) -> str:
    """Key for exact quoted-text lookup: lowercased, URLs, @mentions, [emoticons], punctuation off."""
    return _KEY_DROP_RE.sub("", text.lower())


class _Bucket:
    """Postings of one word: (slot, centroid weight) pairs interleaved in one ``array`` buffer, so a
    post's postings are gathered with one ``extend`` per word (a dict per word made the gather
    three times slower: scattered memory; numpy arrays per word made each update a numpy call)."""

    __slots__ = ("pairs", "pos")

    def __init__(self) -> None:
        self.pos: dict[int, int] = {}  # slot -> index of its pair
        self.pairs = array("d")  # slot, weight, slot, weight, ... (slots are exact as doubles)

    def __len__(self) -> int:
        return len(self.pos)

    def set(self, slot: int, weight: float) -> None:
        p = self.pos.get(slot)
        if p is None:
            self.pos[slot] = len(self.pos)
            self.pairs.append(slot)
            self.pairs.append(weight)
        else:
            self.pairs[2 * p + 1] = weight

    def remove(self, slot: int) -> None:
        p = self.pos.pop(slot, None)
        if p is None:
            return
        weight, moved = self.pairs.pop(), self.pairs.pop()
        if p < len(self.pos):  # move the last pair into the hole
            self.pairs[2 * p] = moved
            self.pairs[2 * p + 1] = weight
            self.pos[int(moved)] = p


# rows of _Partition.time, one column per slot: for each time scale tau, log(heat) + heat_at / tau,
# so that max(log(heat * exp(-(t - heat_at) / tau)), log eps) = max(row - t / tau, log eps), then
# the weighted log size; the candidates' columns are gathered in one ``take`` (numpy fancy
# indexing is several times slower, and each numpy call costs about a microsecond here)
_SIZE_TERM = len(_TAUS)
_INV_TAUS_COL = 1.0 / np.array(_TAUS)[:, None]
_LOG_EPS = math.log(1e-4)


class _Partition:
    """The open events of one topic: arrays by slot for the time features and the centroid norms,
    and an inverted index word -> postings for the cosine."""

    def __init__(self, weights: Weights) -> None:
        self.events: list[_Event | None] = []
        self.free: list[int] = []
        self.postings: dict[str, _Bucket] = {}
        self.time = np.zeros((_SIZE_TERM + 1, 0))
        self.norm = np.ones(0)
        self.last = np.full(0, math.nan)  # last post time by slot, NaN for free slots
        self.prev = -1
        self.weights = weights
        self._heat_w = np.asarray(weights.heat, dtype=np.float64)
        # posts per word within the topic: a word common in the topic (学生 in a topic on schools)
        # is no evidence of one story in it, however rare it is in the whole stream
        self.df: Counter[str] = Counter()
        self.docs = 0.0

    def slot_for(self, event: _Event) -> int:
        if self.free:
            slot = self.free.pop()
            self.events[slot] = event
        else:
            slot = len(self.events)
            self.events.append(event)
            self.reserve(slot + 1)
        self.sync(slot)
        return slot

    def reserve(self, size: int) -> None:
        """Grow the arrays (doubling) to hold at least ``size`` slots."""
        if size > len(self.last):
            grow = max(64, len(self.last), size - len(self.last))
            self.time = np.pad(self.time, ((0, 0), (0, grow)))
            self.norm = np.pad(self.norm, (0, grow), constant_values=1.0)
            self.last = np.pad(self.last, (0, grow), constant_values=math.nan)

    def sync(self, slot: int) -> None:
        """Copy an event's counters into the arrays."""
        ev = self.events[slot]
        assert ev is not None
        log, at = math.log, ev.heat_at
        h0, h1, h2 = ev.heat  # 0 only for a slot restored empty
        self.time[:, slot] = (
            log(h0) + at / _TAUS[0] if h0 > 0.0 else -math.inf,
            log(h1) + at / _TAUS[1] if h1 > 0.0 else -math.inf,
            log(h2) + at / _TAUS[2] if h2 > 0.0 else -math.inf,
            self.weights.log_size * log(ev.size + 1.0),
        )
        self.norm[slot] = math.sqrt(ev.norm2) or 1.0
        self.last[slot] = ev.last

    def set_prev(self, slot: int) -> None:
        """Make ``slot`` the previous post's event: its size term carries the ``previous`` weight
        (kept in the arrays, so scoring needs no extra step)."""
        old, self.prev = self.prev, slot
        if old >= 0 and old != slot and self.events[old] is not None:
            self.sync(old)
        self.time[_SIZE_TERM, slot] += self.weights.previous

    def release(self, slot: int) -> _Event:
        ev = self.events[slot]
        assert ev is not None
        for w in ev.centroid:
            bucket = self.postings.get(w)
            if bucket is not None:
                bucket.remove(slot)
                if not bucket.pos:
                    del self.postings[w]
        self.events[slot] = None
        self.free.append(slot)
        self.last[slot] = math.nan  # free: neither a candidate (>=) nor idle (<)
        if self.prev == slot:
            self.prev = -1
        return ev

    def best(
        self,
        t: float,
        open_after: float,
        words: dict[str, float],
        reject: Callable[[int], bool] | None = None,
    ) -> tuple[int, float]:
        """Best open slot and its score (``-1, -inf`` when none is open).

        ``words``: informative word -> its weight in the post's unit TF-IDF vector.  ``reject``:
        slots that may not be chosen (events naming other entities than the post); the best
        of the others is returned.
        """
        n = len(self.events)
        if n == 0:
            return -1, -math.inf
        w = self.weights
        postings = self.postings
        last = self.last[:n]
        # candidates: events sharing an informative word, and events active in the last _RECENT
        # seconds (an event with neither scores far below those that are: its heat has decayed)
        cand_mask = last >= max(t - _RECENT, open_after)
        text: F64Array | None = None
        present = [word for word in words if word in postings]
        if present:
            buf = array("d")
            lengths: list[int] = []
            factors: list[float] = []
            for word in present:
                bucket = postings[word]
                buf.extend(bucket.pairs)
                lengths.append(len(bucket.pos))
                factors.append(w.cosine * words[word])
            pairs = np.frombuffer(buf, dtype=np.float64).reshape(-1, 2)
            slots = pairs[:, 0].astype(np.int64)
            contrib = pairs[:, 1] * np.repeat(factors, lengths) / self.norm.take(slots)
            text = cast(F64Array, np.bincount(slots, contrib, minlength=n))  # weighted: float64
            cand_mask |= text > 0.0  # may include events closed since the last sweep: see below
        cand = cand_mask.nonzero()[0]
        if len(cand) == 0:
            return -1, -math.inf
        st = self.time.take(cand, axis=1)
        score = np.dot(self._heat_w, np.maximum(st[:_SIZE_TERM] - t * _INV_TAUS_COL, _LOG_EPS))
        score += st[_SIZE_TERM]
        if text is not None:
            tc = text.take(cand)
            score += tc
            if w.min_cosine > 0.0:
                score[tc < w.cosine * w.min_cosine] = -math.inf
        elif w.min_cosine > 0.0:
            return -1, -math.inf
        i = int(np.argmax(score))
        if score[i] == -math.inf:
            return -1, -math.inf
        if last[cand[i]] < open_after:  # closed (idle past the window) but not swept yet
            score[last[cand] < open_after] = -math.inf
            i = int(np.argmax(score))
            if score[i] == -math.inf:
                return -1, -math.inf
        if reject is not None and reject(int(cand[i])):
            for j in np.argsort(-score)[1:_MAX_REJECTED].tolist():
                if score[j] == -math.inf:
                    break
                if not reject(int(cand[j])):
                    return int(cand[j]), float(score[j])
            return -1, -math.inf
        return int(cand[i]), float(score[i])


class EventClusterer:
    """Online event clustering (see the module docstring).

    ``add(post)`` returns the event id of one post, ``add_many(posts)`` of each post in order
    (the same results; near-duplicates are then found in one batch, which is much faster).
    Posts must come in time order; a post older than the newest seen is treated as if it were
    at the newest time for the window.  ``window``: idle time after which an event closes.
    ``idf_min``: only words with at least this IDF are looked up in the inverted index; commoner
    words count in the vectors but would make every event a candidate (F1 is the same from 2
    to 2.5 and 0.003-0.005 lower at 3).  IDF is ``ln(docs + idf_prior_docs) - ln(df + 1)``.
    ``detect_duplicates``: run the built-in near-duplicate index (turn it off when the caller
    passes ``duplicate_of`` itself; per post ``add`` spends most of its time there); it keeps
    the newest ``max_duplicates`` texts.
    """

    def __init__(
        self,
        *,
        window: dt.timedelta = DEFAULT_WINDOW,
        weights: Weights | None = None,
        detect_duplicates: bool = True,
        idf_min: float = 2.0,
        idf_prior_docs: float = 1000.0,
        max_duplicates: int = 500_000,
    ) -> None:
        if window <= dt.timedelta(0):
            raise ValueError("window must be positive")
        self.window = window
        self._window_s = window.total_seconds()
        self.weights = weights if weights is not None else Weights()
        self.detect_duplicates = detect_duplicates
        self.idf_min = idf_min
        self.idf_prior_docs = idf_prior_docs
        # the oldest texts leave the near-duplicate index first (about 1.3 KB each)
        self._neardup = NearDuplicateIndex(max_items=max_duplicates) if detect_duplicates else None
        self._parts: dict[str, _Partition] = {}
        self._where: dict[str, tuple[str, int]] = {}  # open event id -> (topic, slot)
        self._post_event: dict[str, str] = {}  # post id -> event id, posts of open events only
        # post id -> (event id, topic) of closed events, for late reposts; and the posts that
        # joined one (see `joined_late`)
        self._closed_posts: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._late: set[str] = set()
        # posts that joined through a link and name only other units or places (see `tells_another_story`)
        self._other_story: set[str] = set()
        self._text_event: dict[str, str] = {}  # normalised text -> event id, open events only
        self._event_keys: dict[str, list[str]] = {}  # event id -> its normalised texts
        self._df: Counter[str] = Counter()
        self._docs = 0.0
        self._n_events = 0
        self._now = -math.inf
        self._closed: deque[_Event] = deque(maxlen=_MAX_CLOSED)  # the oldest are dropped past it
        self._sweep_at = -math.inf
        # closed events that may flare up again (`_revive`), trimmed, oldest first; and their
        # main entity keys -> event ids
        self._dormant: OrderedDict[str, _Event] = OrderedDict()
        self._dormant_keys: dict[str, set[str]] = {}
        # theme word -> kept closed events that name no unit or place (``_retold_dormant``)
        self._dormant_words: dict[str, set[str]] = {}

    # -- public API ---------------------------------------------------------------------------

    def add(self, post: Post) -> str | None:
        """Assign one post; returns its event id (``None`` for a ``join_only`` post with no link)."""
        dup: str | None = post.duplicate_of
        if dup is None and self._neardup is not None:
            match = self._neardup.query_and_add([post.id], [post.text])[0]
            dup = None if match is None else str(match[0])
        return self._assign(post, dup)

    def add_many(self, posts: Sequence[Post]) -> list[str | None]:
        """Assign posts in the given order (they should be in time order)."""
        dups: list[str | None] = [p.duplicate_of for p in posts]
        if self._neardup is not None:
            matches = self._neardup.query_and_add([p.id for p in posts], [p.text for p in posts])
            dups = [
                d if d is not None or m is None else str(m[0]) for d, m in zip(dups, matches, strict=True)
            ]
        return [self._assign(p, d) for p, d in zip(posts, dups, strict=True)]

    def events(self) -> list[EventInfo]:
        """The open events (as of the newest post seen), oldest first."""
        out = [self._info(self._event(eid), open_=True) for eid in self._where]
        return sorted(out, key=lambda e: (e.first_seen, e.id))

    def event(self, event_id: str, *, with_posts: bool = True) -> EventInfo | None:
        """An open event by id (closed events are evicted; see ``drain_closed``). Without
        ``with_posts`` its ``post_ids`` are left empty: what a pipeline asks for every batch
        costs the same for an event of 100,000 posts as for one of 10."""
        if event_id not in self._where:
            return None
        return self._info(self._event(event_id), open_=True, with_posts=with_posts)

    def is_open(self, event_id: str) -> bool:
        """Whether the event is open (a closed one that flared up again is open once more)."""
        return event_id in self._where

    def knows(self, post_id: str) -> bool:
        """Whether a link to this post resolves here (its event is open and the post is held)."""
        return post_id in self._post_event

    def relink(self, post_id: str, event_id: str, topic: str | None = None) -> bool:
        """Make a link to ``post_id`` lead to ``event_id`` again, if that event is still open: a
        caller that knows where the post went (its stored analysis) restores a link the snapshot
        left out (it keeps each event's newest posts only). Returns whether the link holds.

        Given the ``topic`` key of a closed event, a repost naming ``post_id`` as its root joins
        that closed event late (see :meth:`joined_late`)."""
        if event_id not in self._where:
            if topic is not None:
                self._remember_closed(post_id, event_id, topic)
            return False
        if self._post_event.get(post_id) != event_id:
            self._post_event[post_id] = event_id
            self._event(event_id).posts.append(post_id)  # so that closing it moves the link along
        return True

    def joined_late(self, post_id: str) -> bool:
        """Whether the last ``add`` of this post put it, through its platform link, in an event
        that had closed (or gone idle past the window): a repost of a story weeks after it went
        quiet is that story spreading again, not a new event. The clusterer no longer holds such
        an event: the caller stores the post in it. Asking forgets the answer."""
        if post_id in self._late:
            self._late.discard(post_id)
            return True
        return False

    def tells_another_story(self, post_id: str) -> bool:
        """Whether the last ``add`` of this post put it in its event through a platform link
        (a comment or repost follows its root) while its own words name only other hospitals,
        schools, places… than the event's main ones: a comment under the 广水 strike telling of
        临武's death. It is part of the event's spread; what it reports is another occurrence,
        and its names are not the event's. Asking forgets the answer."""
        if post_id in self._other_story:
            self._other_story.discard(post_id)
            return True
        return False

    def _remember_closed(self, post_id: str, event_id: str, topic: str) -> None:
        self._closed_posts[post_id] = (event_id, topic)
        self._closed_posts.move_to_end(post_id)
        while len(self._closed_posts) > _MAX_CLOSED_POSTS:
            self._closed_posts.popitem(last=False)

    def _late_event(self, linked: str, topic: str, open_after: float) -> str | None:
        """The closed (or idle) event of a linked post, if a post of ``topic`` may join it (one
        of the same scope: a platform link holds across topics)."""
        found = self._post_event.get(linked)
        if found is not None and found in self._where:
            ev = self._event(found)
            if ev.last >= open_after:
                return None  # open: not a late join (the topics differ)
            event_id, event_topic = found, ev.topic
        elif linked in self._closed_posts:
            event_id, event_topic = self._closed_posts[linked]
        else:
            return None
        return event_id if _may_join(event_topic, topic, link=True) else None

    def drain_closed(self) -> list[EventInfo]:
        """Events closed (and evicted) since the last call, for a pipeline to store (at most the
        last 100,000: drain regularly)."""
        out, self._closed = self._closed, deque(maxlen=_MAX_CLOSED)
        return [self._info(ev, open_=False) for ev in out]

    # -- assignment ---------------------------------------------------------------------------

    def _event(self, event_id: str) -> _Event:
        topic, slot = self._where[event_id]
        ev = self._parts[topic].events[slot]
        assert ev is not None
        return ev

    def _open_event(
        self, event_id: str | None, topic: str, open_after: float, *, link: bool = False
    ) -> str | None:
        """The linked event if a post of `topic` may join it: an open event of the same topic, or
        an open event of any topic in the same scope (a topic key's scope is what follows its `@`:
        the pipeline keeps each drill in a scope of its own) for a post with no topic of its own,
        like a repost that only says 「真的假的」, and for a platform `link` (a repost of the story,
        whatever other topic its comment matches: 「南京卫健委管管吧//@网友:宁波一医院…」)."""
        if event_id is None or event_id not in self._where:
            return None
        ev = self._event(event_id)
        if ev.last < open_after:
            return None
        return event_id if _may_join(ev.topic, topic, link) else None

    def _assign(self, post: Post, dup: str | None) -> str | None:
        if post.published_at.tzinfo is None:
            raise ValueError(f"post {post.id}: published_at must be timezone-aware")
        t = max(post.published_at.timestamp(), self._now)
        self._now = t
        open_after = t - self._window_s
        if t >= self._sweep_at:
            self._sweep(open_after)
            self._sweep_at = t + min(3600.0, self._window_s / 8)
        topic = post.topic if post.topic is not None else DEFAULT_TOPIC
        part = self._parts.get(topic)
        if part is None:
            part = self._parts[topic] = _Partition(self.weights)
        counts = Counter(tokens(post.text))
        idf_base = math.log(self._docs + self.idf_prior_docs)
        df_get, log = self._df.get, math.log
        idf: dict[str, float] = {}
        vec: dict[str, float] = {}
        sq = 0.0
        for word, c in counts.items():
            i = idf[word] = idf_base - log(df_get(word, 0) + 1.0)
            x = vec[word] = c * i
            sq += x * x
        inv = 1.0 / (math.sqrt(sq) or 1.0)
        for word in vec:
            vec[word] *= inv

        named = extract(post.text)
        target: str | None = None
        for linked in (post.parent_id, post.root_id):  # the platform's own links always hold
            if linked is not None and target is None:
                found = self._post_event.get(linked)
                if found is None and linked in self._closed_posts:  # its event may have flared up
                    found = self._closed_posts[linked][0]
                target = self._open_event(found, topic, open_after, link=True)
                late = None if target is not None else self._late_event(linked, topic, open_after)
                if late is not None:
                    self._count(part, counts.keys())
                    self._late.add(post.id)
                    return late
        by_link = target is not None
        # text evidence (a near-duplicate, a quoted chain) does not hold against a post naming
        # other hospitals, schools, places... than the event: a template about another unit
        if target is None and dup is not None:
            target = self._agreeing(self._open_event(self._post_event.get(dup), topic, open_after), named)
        if target is None:
            for quoted in quoted_texts(post.text):
                found = self._open_event(self._text_event.get(_text_key(quoted)), topic, open_after)
                target = self._agreeing(found, named)
                if target is not None:
                    break
        if target is None and post.join_only:
            return None
        slot = -1
        home = part
        if target is not None:
            # The linked event may live in another topic's partition (a topic-less repost).
            target_topic, slot = self._where[target]
            part = self._parts[target_topic]
        else:
            idf_min, w = self.idf_min, self.weights
            part_df, common = part.df, common_words()
            cut = math.log(part.docs + self.idf_prior_docs) - w.specific_idf  # ln(df + 1) at most
            # a word may be evidence when it is not common in everyday posts; it is when it is
            # rare in the topic, or when the event holds most of the topic's posts naming it
            candidates = [
                (word, part_df.get(word, 0)) for word in idf if len(word) >= 2 and word not in common
            ]
            specific = [(word, 0 if log(n + 1.0) <= cut else n) for word, n in candidates]
            anchor = _Anchor.of(post.text, named, vec, [word for word, _ in candidates]) if named else None
            best, _ = part.best(
                t,
                open_after,
                {word: vec[word] for word, v in idf.items() if v >= idf_min},
                self._evidence_rejecter(part.events, named, specific, anchor),
            )
            slot = best
            if slot < 0 and self._dormant_keys:
                slot = self._revive(part, topic, anchor)
            if slot < 0:
                copied = self._copied_dormant(dup, topic, named)
                if copied is None and self._dormant_words:
                    copied = self._retold_dormant(topic, named, [word for word, _ in candidates])
                if copied is not None:
                    slot = self._reopen(part, topic, copied)
        if slot < 0:
            if sum(1 for v in idf.values() if v >= self.idf_min) < self.weights.seed_words:
                # chatter with nothing to tell (「太可怕了」, 「@某某」): counted, never an event
                self._count(part, counts.keys())
                return None
            slot = self._new_event(part, topic, t)
        ev = part.events[slot]
        assert ev is not None
        if by_link and named and _tells_another_story(named, ev):
            self._other_story.add(post.id)
            named = ()  # its names are another story's, not this event's
        self._update(part, slot, ev, post, t, vec, idf)
        keys = list(dict.fromkeys(f"{e.kind}|{e.level}|{e.name}" for e in named))
        if ev.size == 1:  # its first post
            ev.seed_entities = keys
        named_counts = ev.entities
        for key in keys:
            named_counts[key] = named_counts.get(key, 0) + 1
        when = post.published_at.timestamp()
        ev.seen_first = when if ev.seen_first is None else min(ev.seen_first, when)
        ev.seen_last = when if ev.seen_last is None else max(ev.seen_last, when)
        self._count(home, counts.keys())
        return ev.id

    def _count(self, part: _Partition, words: Iterable[str]) -> None:
        """A post's words in the stream's and its topic's document frequencies."""
        words = list(words)
        self._df.update(words)  # Counter.update: a C loop
        self._docs += 1.0
        part.df.update(words)
        part.docs += 1.0

    def _evidence_rejecter(
        self,
        events: list[_Event | None],
        named: Sequence[Entity],
        specific: Sequence[tuple[str, int]],
        anchor: _Anchor | None = None,
    ) -> Callable[[int], bool]:
        """Events a post may not join through the score: those naming other entities, and those
        whose core shares fewer than ``specific_words`` of the post's specific words (or fewer
        than ``specific_share`` of them), unless the
        post is anchored in the event by its main entity (``_Anchor``): the story's words grow
        common in its topic while it runs for weeks, and a report naming its hospital again
        must still find it."""
        conflict = _rejecter(events, named) if named else None
        w = self.weights
        need, share = max(w.specific_words, w.specific_share * len(specific)), w.held_share

        def reject(slot: int) -> bool:
            ev = events[slot]
            if ev is None or (conflict is not None and conflict(slot)):
                return True
            theme, hits = ev.theme, ev.hits
            found = 0
            for word, common_in_topic in specific:
                if theme.get(word, 0) >= 2 and (
                    not common_in_topic or hits.get(word, 0) >= share * common_in_topic
                ):
                    found += 1
                    if found >= need:
                        return False
            return anchor is None or anchor.strength(ev) < 0.0

        return reject

    def _agreeing(self, event_id: str | None, named: Sequence[Entity]) -> str | None:
        """The event, unless the post names other specific entities than its main ones."""
        if event_id is None or not named:
            return event_id
        ev = self._event(event_id)
        return None if _contradicts(named, ev) else event_id

    def _revive(self, part: _Partition, topic: str, anchor: _Anchor | None) -> int:
        """Reopen a closed event of ``topic`` that this post reports again, and return its slot
        (-1: none).  The same incident resurfaces weeks or months later: an account posts the old
        report again (「换个国家，这件事大概能拉下一个总统…宁波妇幼医院一妇女…跳楼」), a paper
        follows it up.  Starting a new event would grade it again from nothing and alert as if
        it were a new incident; it is the old one flaring up (the plan's 反弹), with its history,
        its case and its alert.

        Evidence: ``_Anchor`` (the incident's own hospital, school, company, office or place and
        its words); the best such event by cosine wins."""
        if anchor is None:
            return -1
        found = set().union(*(self._dormant_keys.get(key, ()) for key in anchor.keys))
        best: _Event | None = None
        best_cos = 0.0
        for event_id in found:
            ev = self._dormant[event_id]
            cos = anchor.strength(ev) if ev.topic == topic else -1.0
            if cos > best_cos:
                best, best_cos = ev, cos
        return -1 if best is None else self._reopen(part, topic, best)

    def _copied_dormant(self, dup: str | None, topic: str, named: Sequence[Entity]) -> _Event | None:
        """The kept closed event whose post this post nearly copies, if it may reopen it: the same
        text posted again weeks later (「【太活跃的鱼千万别买】去买鱼…」 went round three times in
        five months) is the story flaring up, not a new one, unless it names other units."""
        if dup is None or not self._dormant:
            return None
        closed = self._closed_posts.get(dup)
        if closed is None or closed[1] != topic:
            return None
        ev = self._dormant.get(closed[0])
        if ev is None or _contradicts(named, ev):
            return None
        return ev

    def _retold_dormant(self, topic: str, named: Sequence[Entity], words: list[str]) -> _Event | None:
        """The kept closed story naming no unit or place that this post tells again in other words
        (「各位粑粑麻麻们注意啦焦点访谈已播出，可口可乐承认旗下(果粒橙)含有…多菌灵」, months later
        「i各位，中央电视台《焦点访谈》已经播出，可口可乐承认旗下(果粒橙)…」): it shares at least
        ``_RETOLD_WORDS`` of the story's theme words, and they are ``_RETOLD_SHARE`` of its own
        specific words; the story sharing most wins."""
        own = set(words)
        hits: Counter[str] = Counter()
        for word in own:
            hits.update(self._dormant_words.get(word, ()))
        need = max(_RETOLD_WORDS, _RETOLD_SHARE * len(own))
        for event_id, shared in hits.most_common():
            if shared < need:
                break
            ev = self._dormant[event_id]
            if ev.topic == topic and not _contradicts(named, ev):
                return ev
        return None

    def _reopen(self, part: _Partition, topic: str, best: _Event) -> int:
        """Put a kept closed event back among the open ones of ``part``; its slot."""
        self._forget_dormant(best.id)
        slot = part.slot_for(best)
        self._where[best.id] = (topic, slot)
        self._event_keys[best.id] = []
        postings = part.postings
        for word, weight in best.centroid.items():
            bucket = postings.get(word)
            if bucket is None:
                bucket = postings[word] = _Bucket()
            bucket.set(slot, weight)
        return slot

    def _keep_dormant(self, ev: _Event) -> None:
        """Keep a closed event, trimmed, if it may flare up again (see ``_revive``)."""
        if ev.size < _DORMANT_MIN_POSTS:
            return
        keys = _revival_keys(_main_entities(ev))
        if not keys and ev.size < _DORMANT_COPY_MIN_POSTS:
            return  # a story naming no unit or place comes back only as a copy (``_copied_dormant``)
        # its strongest words and its theme words: a report again is scored against the story
        theme = {word: n for word, n in ev.theme.items() if n >= 2}
        centroid = dict(heapq.nlargest(_DORMANT_WORDS, ev.centroid.items(), key=lambda kv: kv[1]))
        centroid.update((word, ev.centroid[word]) for word in theme if word in ev.centroid)
        kept = replace(
            ev,
            centroid=centroid,
            norm2=sum(v * v for v in centroid.values()),
            posts=[],
            candidates=list(ev.candidates[:_DORMANT_TITLES]),
            theme=theme,
            hits={word: n for word, n in ev.hits.items() if word in theme},
            entities=dict(ev.entities),
        )
        self._forget_dormant(ev.id)
        self._dormant[ev.id] = kept
        self._index_dormant(kept, keys)
        while len(self._dormant) > _MAX_DORMANT:
            self._forget_dormant(next(iter(self._dormant)))

    def _index_dormant(self, ev: _Event, keys: list[str]) -> None:
        """Index a kept closed event by its main entities, or, naming none, by its theme words."""
        for key in keys:
            self._dormant_keys.setdefault(key, set()).add(ev.id)
        if not keys:
            for word in ev.theme:
                self._dormant_words.setdefault(word, set()).add(ev.id)

    def _forget_dormant(self, event_id: str) -> None:
        ev = self._dormant.pop(event_id, None)
        if ev is None:
            return
        for index, keys in ((self._dormant_keys, ev.entities), (self._dormant_words, ev.theme)):
            for key in keys:
                ids = index.get(key)
                if ids is not None:
                    ids.discard(event_id)
                    if not ids:
                        del index[key]

    def _new_event(self, part: _Partition, topic: str, t: float) -> int:
        self._n_events += 1
        # globally unique: ids of several clusterers (restarts, drills, workers) never collide
        ev = _Event(f"ev-{uuid.uuid4().hex[:12]}", topic, t, t, [0.0] * len(_TAUS), t)
        slot = part.slot_for(ev)
        self._where[ev.id] = (topic, slot)
        self._event_keys[ev.id] = []
        return slot

    def _update(
        self,
        part: _Partition,
        slot: int,
        ev: _Event,
        post: Post,
        t: float,
        vec: dict[str, float],
        idf: dict[str, float],
    ) -> None:
        idle, exp = ev.heat_at - t, math.exp
        h0, h1, h2 = ev.heat
        ev.heat = [
            h0 * exp(idle / _TAUS[0]) + 1.0,
            h1 * exp(idle / _TAUS[1]) + 1.0,
            h2 * exp(idle / _TAUS[2]) + 1.0,
        ]
        ev.heat_at = t
        ev.last = max(ev.last, t)
        ev.size += 1
        centroid, postings = ev.centroid, part.postings
        idf_min = self.idf_min
        dot = 0.0
        core = self.weights.core_posts
        in_core = not core or ev.size <= core
        theme, hits = ev.theme, ev.hits
        if in_core:
            count = 2 if ev.size == 1 else 1  # the first post's words: its story
            for word in vec:
                theme[word] = theme.get(word, 0) + count
        for word in vec:
            if word in theme:
                hits[word] = hits.get(word, 0) + 1
        for word, v in vec.items() if in_core else ():
            old = centroid.get(word, 0.0)
            dot += old * v
            centroid[word] = old + v
            # only words that could be looked up are posted (most tokens are common words); a
            # posting keeps the centroid weight of the last time its word was informative
            if idf[word] >= idf_min:
                bucket = postings.get(word)
                if bucket is None:
                    bucket = postings[word] = _Bucket()
                bucket.set(slot, old + v)
        if in_core:
            ev.norm2 += 2.0 * dot + 1.0
        ev.posts.append(post.id)
        self._post_event[post.id] = ev.id
        key = _text_key(post.text)
        if len(key) >= 10:  # shorter texts are stock phrases that unrelated posts share
            self._text_event[key] = ev.id
            self._event_keys[ev.id].append(key)
        info = sum(idf.values())
        title_text = post.text
        if post.root_id is not None or post.parent_id is not None:
            # a repost or comment quotes its original and adds a remark: long, but the original
            # report is the better title (「其实这样的女生…推荐…的帖子《高校又出凶杀案…》」 was one)
            info *= _LINKED_TITLE_WEIGHT
        if _opens_with_headline(title_text):
            info *= _HEADLINED_TITLE_WEIGHT
        if "//" in title_text:
            # a repost chain's title is the report it quotes, not the remark in front
            # (「不论真假，大家都要注意就是了…//@原帖作者:永康中医院，今天死亡一例…」 named a drill event)
            quoted = quoted_texts(title_text)
            if quoted and len(quoted[-1]) >= _QUOTED_TITLE_CHARS:
                title_text = quoted[-1]
        cands = ev.candidates
        if len(cands) < _TITLE_CANDIDATES or info > cands[-1][0]:
            cands.append((info, post.id, title_text, vec))
            cands.sort(key=lambda c: -c[0])
            del cands[_TITLE_CANDIDATES:]
        part.sync(slot)
        part.set_prev(slot)

    def _sweep(self, open_after: float) -> None:
        """Close and evict events idle since before ``open_after``; forget closed events that
        went quiet too long ago to flare up."""
        dormant = self._dormant
        while dormant:
            oldest = next(iter(dormant.values()))
            if oldest.last >= open_after - _DORMANT_SECONDS:
                break
            self._forget_dormant(oldest.id)
        for part in self._parts.values():
            idle = np.flatnonzero(part.last[: len(part.events)] < open_after)
            for slot in idle.tolist():
                if part.events[slot] is None:
                    continue
                ev = part.release(slot)
                self._closed.append(ev)  # reported by drain_closed: most callers drain rarely
                self._keep_dormant(ev)
                del self._where[ev.id]
                for pid in ev.posts:
                    if self._post_event.get(pid) == ev.id:
                        del self._post_event[pid]
                        self._remember_closed(pid, ev.id, ev.topic)
                for key in self._event_keys.pop(ev.id, []):
                    if self._text_event.get(key) == ev.id:
                        del self._text_event[key]

    def _info(self, ev: _Event, *, open_: bool, with_posts: bool = True) -> EventInfo:
        norm = math.sqrt(ev.norm2) or 1.0
        # cosine to the centroid alone favours a short comment repeating the top words; weighting
        # by the square root of the IDF mass prefers the full report that covers them
        best = max(
            ev.candidates,
            key=lambda c: math.sqrt(c[0]) * sum(v * ev.centroid.get(w, 0.0) for w, v in c[3].items()) / norm,
        )
        keywords = display_keywords(heapq.nlargest(4 * _N_KEYWORDS, ev.centroid, key=ev.centroid.__getitem__))
        tz = dt.UTC
        named = heapq.nlargest(_REPORTED_ENTITIES, ev.entities.items(), key=lambda kv: kv[1])
        entities: list[dict[str, Any]] = []
        for key, n in named:
            kind, _level, name = key.split("|", 2)
            entities.append({"kind": kind, "name": name, "posts": n})
        return EventInfo(
            id=ev.id,
            topic=ev.topic,
            title=best[2],
            title_post_id=best[1],
            keywords=keywords,
            entities=entities,
            first_seen=dt.datetime.fromtimestamp(ev.first if ev.seen_first is None else ev.seen_first, tz),
            last_seen=dt.datetime.fromtimestamp(ev.last if ev.seen_last is None else ev.seen_last, tz),
            size=ev.size,
            post_ids=list(ev.posts) if with_posts else [],
            open=open_,
        )

    # -- snapshot -----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole state: magic, JSON length, JSON, then the near-duplicate index snapshot."""
        parts = {
            topic: {
                "prev": part.prev,
                "free": part.free,
                "events": [None if ev is None else _event_to_json(ev, _SNAPSHOT_POSTS) for ev in part.events],
                "postings": _postings_to_json(part.postings),
                "df": part.df,
                "docs": part.docs,
            }
            for topic, part in self._parts.items()
        }
        state = {
            "window": self.window.total_seconds(),
            "weights": {f: getattr(self.weights, f) for f in Weights.__dataclass_fields__},
            "detect_duplicates": self.detect_duplicates,
            "idf_min": self.idf_min,
            "idf_prior_docs": self.idf_prior_docs,
            "df": self._df,
            "docs": self._docs,
            "n_events": self._n_events,
            "now": _finite(self._now),
            "sweep_at": _finite(self._sweep_at),
            "parts": parts,
            "event_keys": {eid: keys[-_SNAPSHOT_POSTS:] for eid, keys in self._event_keys.items()},
            "closed": [_event_to_json(ev) for ev in self._closed],
            "dormant": [_event_to_json(ev) for ev in self._dormant.values()],
        }
        body = orjson.dumps(state)
        dup = self._neardup.snapshot() if self._neardup is not None else b""
        return _MAGIC + struct.pack("<Q", len(body)) + body + dup

    @classmethod
    def restore(cls, data: bytes, weights: Weights | None = None) -> EventClusterer:
        """A clusterer continuing exactly where ``snapshot()`` left off (with ``weights``, or the
        default ones: a snapshot's saved weights are informative only)."""
        if not data.startswith(_MAGIC):
            raise ValueError("not an EventClusterer snapshot")
        (size,) = struct.unpack_from("<Q", data, len(_MAGIC))
        start = len(_MAGIC) + 8
        state = orjson.loads(data[start : start + size])
        # the weights are the code's, not the snapshot's: an upgrade's rules apply on restart
        self = cls(
            window=dt.timedelta(seconds=state["window"]),
            weights=weights,
            detect_duplicates=False,
            idf_min=state["idf_min"],
            idf_prior_docs=state["idf_prior_docs"],
        )
        if state["detect_duplicates"]:
            self.detect_duplicates = True
            self._neardup = NearDuplicateIndex.restore(data[start + size :])
        self._df = Counter(state["df"])
        self._docs = state["docs"]
        self._n_events = state["n_events"]
        self._now = _infinite(state["now"])
        self._sweep_at = _infinite(state["sweep_at"])
        self._event_keys = state["event_keys"]
        self._closed = deque((_event_from_json(e) for e in state["closed"]), maxlen=_MAX_CLOSED)
        for raw in state.get("dormant", []):  # a snapshot from before flare-ups: none
            ev = _event_from_json(raw)
            self._dormant[ev.id] = ev
            self._index_dormant(ev, _revival_keys(_main_entities(ev)))
        for topic, saved in state["parts"].items():
            part = self._parts[topic] = _Partition(self.weights)
            for slot, raw in enumerate(saved["events"]):
                if raw is None:
                    part.events.append(None)
                    continue
                ev = _event_from_json(raw)
                part.slot_for(ev)
                self._where[ev.id] = (topic, slot)
                for pid in ev.posts:
                    self._post_event[pid] = ev.id
            part.reserve(len(part.events))  # free slots at the end
            for word, (slots, posted_weights) in _postings_from_json(saved["postings"]):
                bucket = part.postings[word] = _Bucket()
                for posted, weight in zip(slots, posted_weights, strict=True):
                    bucket.set(int(posted), weight)
            part.free = list(saved["free"])
            part.df = Counter(saved.get("df", {}))  # a snapshot from before topic counts: empty
            part.docs = float(saved.get("docs", 0.0))
            if saved["prev"] >= 0:
                part.set_prev(saved["prev"])
        for eid, keys in self._event_keys.items():
            for key in keys:
                self._text_event[key] = eid
        return self


def _may_join(event_topic: str, topic: str, link: bool) -> bool:
    """Whether a post of partition ``topic`` may join an event of ``event_topic``: the same
    partition; or the same scope (drill or real) for a post of no topic, or through a link."""
    if event_topic == topic:
        return True
    own, _, scope = topic.partition("@")
    return (link or not own) and event_topic.partition("@")[2] == scope


def _rejecter(events: list[_Event | None], named: Sequence[Entity]) -> Callable[[int], bool]:
    """Slots whose event's main entities conflict with the post's."""

    def reject(slot: int) -> bool:
        ev = events[slot]
        return ev is not None and _contradicts(named, ev)

    return reject


@dataclass(frozen=True, slots=True)
class _Anchor:
    """What ties a post to an event by the incident's own entity: the post names a main entity of
    the event — a hospital, school, company or office, or else a place below a province — and
    none that conflicts with its main entities, and it shares enough of the event's theme words
    (specific words named twice in its core), not counting the words of the names (「宁波」「妇儿」
    prove nothing twice) or of @mentions, at a high enough cosine with its core: 3 words at 0.05
    or 2 at 0.3 with a unit named, 4 at 0.2 with a place only (``_REVIVE_UNIT``,
    ``_REVIVE_PLACE``; on the CED dev file, 41 flare-ups, 8 of them wrong with looser rules, of
    which these keep 2)."""

    named: Sequence[Entity]
    keys: dict[str, bool]  # revival key -> whether it names a unit (not a place)
    own: list[str]  # the post's specific words outside names and @mentions
    vec: dict[str, float]

    @classmethod
    def of(
        cls, text: str, named: Sequence[Entity], vec: dict[str, float], words: list[str]
    ) -> _Anchor | None:
        keys = {key: key.split("|", 1)[0] in _REVIVE_KINDS for key in _revival_keys(named)}
        if not keys:
            return None
        names = [e.name for e in named]
        mentioned = set(tokens(" ".join(_MENTION_RE.findall(text)))) if "@" in text else set()
        own = [word for word in words if word not in mentioned and not any(word in name for name in names)]
        return cls(named, keys, own, vec)

    def strength(self, ev: _Event) -> float:
        """The post's cosine with the event's core when the evidence is enough, else -1."""
        main = _main_entities(ev)
        shared_keys = [self.keys[key] for key in _revival_keys(main) if key in self.keys]
        if not shared_keys or conflicts(self.named, main):
            return -1.0
        theme = ev.theme
        shared = sum(1 for word in self.own if theme.get(word, 0) >= 2)
        centroid = ev.centroid
        cos = sum(v * centroid.get(word, 0.0) for word, v in self.vec.items()) / (math.sqrt(ev.norm2) or 1.0)
        rules = _REVIVE_UNIT if any(shared_keys) else _REVIVE_PLACE
        return cos if any(shared >= n and cos >= c for n, c in rules) else -1.0


def _revival_keys(entities: Iterable[Entity]) -> list[str]:
    """Keys (``kind|level|name``) of the entities by which a closed event may flare up again."""
    return [
        f"{e.kind}|{e.level}|{e.name}"
        for e in entities
        if e.kind in _REVIVE_KINDS or (e.kind == "place" and e.level in _REVIVE_PLACE_LEVELS)
    ]


def _contradicts(named: Sequence[Entity], ev: _Event) -> bool:
    """Whether a post naming ``named`` names other specific entities than the event's main ones."""
    return bool(ev.entities) and conflicts(named, _main_entities(ev))


def _tells_another_story(named: Sequence[Entity], ev: _Event) -> bool:
    """Whether a post linked into ``ev`` names only other entities than its main ones: some kind
    differs and none is shared (「…在深圳爱绿双语幼儿园门口被抢走」 under a story its comments
    placed in 潮州 shares the kindergarten: the same story, told better)."""
    if not _contradicts(named, ev):
        return False
    return not shares(named, _main_entities(ev))


def _main_entities(ev: _Event) -> list[Entity]:
    """The event's most named entities of each kind (and place level), among those its first post
    names or two of its posts name: one comment's 「小学初中」 or 「临武县政府」 is no main entity
    of a story (it made the 新沂 school killing two events)."""
    by_kind: dict[str, list[tuple[int, str]]] = {}
    seed = ev.seed_entities
    for key, n in ev.entities.items():
        if seed is not None and n < 2 and key not in seed:
            continue
        kind, level, name = key.split("|", 2)
        by_kind.setdefault(f"{kind}|{level}", []).append((n, name))
    out: list[Entity] = []
    for group, items in by_kind.items():
        kind, level = group.split("|")
        items.sort(key=lambda x: -x[0])
        out.extend(Entity(kind, name, level) for _n, name in items[:_MAIN_ENTITIES])
    return out


def _postings_to_json(postings: dict[str, _Bucket]) -> dict[str, Any]:
    """A partition's inverted index as its words, their posting counts and every (slot, weight)
    pair in one base64 block: a snapshot is written with every batch, and number lists per word
    made its cost grow with the vocabulary of the open events."""
    words = list(postings)
    blocks = [postings[w].pairs.tobytes() for w in words]
    return {
        # keys no word can be (words have no punctuation), so the older {word: ...} form is told apart
        "#words": words,
        "#sizes": [len(b) // 16 for b in blocks],
        "#pairs": base64.b64encode(b"".join(blocks)).decode("ascii"),
    }


def _postings_from_json(saved: dict[str, Any]) -> Iterator[tuple[str, tuple[list[float], list[float]]]]:
    """(word, (slots, weights)) from `_postings_to_json`, or from the older {word: [slots, weights]}."""
    if "#pairs" not in saved:
        yield from ((w, (pair[0], pair[1])) for w, pair in saved.items())
        return
    flat = array("d")
    flat.frombytes(base64.b64decode(saved["#pairs"]))
    start = 0
    for word, size in zip(saved["#words"], saved["#sizes"], strict=True):
        chunk = flat[2 * start : 2 * (start + size)]
        yield word, (chunk[0::2].tolist(), chunk[1::2].tolist())
        start += size


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _infinite(x: float | None) -> float:
    return -math.inf if x is None else x


def _event_to_json(ev: _Event, newest: int | None = None) -> dict[str, object]:
    out = {f: getattr(ev, f) for f in _Event.__dataclass_fields__}
    if newest is not None:
        out["posts"] = ev.posts[-newest:]
    return out


def _event_from_json(raw: dict[str, Any]) -> _Event:
    raw["candidates"] = [tuple(c) for c in raw["candidates"]]
    return _Event(**raw)


# --------------------------------------------------------------------------------------------
# JSON records (the CLI's ``yuqing analyze events``)
# --------------------------------------------------------------------------------------------

_CHINA_TZ = dt.timezone(dt.timedelta(hours=8))


def _parse_time(value: object, default_tz: dt.tzinfo) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str) and value.strip():
        try:
            when = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=default_tz)


def assign_events(
    records: Iterable[dict[str, Any]],
    *,
    clusterer: EventClusterer | None = None,
    default_tz: dt.tzinfo = _CHINA_TZ,
) -> Iterator[dict[str, Any]]:
    """Add ``event_id`` to each record (in place) and yield them in ``published_at`` order.

    Reads only ``id``, ``text``, ``published_at`` and, when present, ``topic``, ``root_id``,
    ``parent_id`` / ``parent``, ``duplicate_of`` and ``join_only``; never ``cascade``, ``rumor`` or ``kind``
    (labels).  Links resolve only to another record's exact ``id``.  Records without a usable
    ``published_at`` come last, at the newest time seen; the sort is stable, so equal times keep
    the input order.  Naive times are taken in ``default_tz`` (UTC+8: Weibo's).  The whole
    input is read before the first record is yielded (sorting needs it).
    """
    items: list[tuple[dict[str, Any], dt.datetime | None]] = [
        (rec, _parse_time(rec.get("published_at"), default_tz)) for rec in records
    ]
    order = sorted(range(len(items)), key=lambda i: (items[i][1] is None, items[i][1] or _EPOCH, i))
    engine = clusterer if clusterer is not None else EventClusterer()
    latest = _EPOCH
    batch: list[Post] = []
    for n, i in enumerate(order):
        rec, when = items[i]
        latest = when if when is not None else latest
        raw_id = rec.get("id")
        batch.append(
            Post(
                id=str(raw_id) if raw_id is not None else f"#{i}",
                text=_str_or_empty(rec.get("text")),
                published_at=latest,
                topic=_str_or_none(rec.get("topic")),
                root_id=_str_or_none(rec.get("root_id")),
                parent_id=_str_or_none(rec.get("parent_id", rec.get("parent"))),
                duplicate_of=_str_or_none(rec.get("duplicate_of")),
                join_only=bool(rec.get("join_only", False)),
            )
        )
        if len(batch) == _BATCH or n == len(order) - 1:
            start = n + 1 - len(batch)
            for j, event_id in zip(order[start : n + 1], engine.add_many(batch), strict=True):
                items[j][0]["event_id"] = event_id
                yield items[j][0]
            batch = []


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_BATCH = 4096  # posts per near-duplicate batch: large enough to amortise, small enough to stream


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _str_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""
