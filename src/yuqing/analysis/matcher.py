"""Match many topic rules against posts: one Aho-Corasick pass, then only the rules that can match.

How a post is matched:

1. The text is lower-cased (case-insensitive ASCII; texts are simplified Chinese already) and one
   Aho-Corasick automaton over every distinct word of every rule reports all occurrences,
   overlapping ones included (MatchKind.Standard). Pattern ``p`` fires substring term ``p``; if
   the same text is also used whole-word (``[市长]``), term ``p + n_patterns`` fires *tentatively*.
2. Each rule is indexed under the words of ONE required clause — a top-level ``+`` item, or the
   whole rule — chosen as the one whose words are rarest (jieba dictionary frequencies by default).
   A rule can only hold if that clause does, so rules none of whose trigger words occurred are
   never looked at. Indexing under every word would evaluate, for each post mentioning 南京, every
   rule of every unit whose region group contains 南京.
3. The rules indexed under a word are compiled into one generated Python function per word (one
   call evaluates all of them: set-membership tests on the fired ids, no tree walk, no call per
   rule). The generated source holds only integers and names made here, never user text.
4. A whole-word term is confirmed only when a rule's test reaches it: an occurrence counts if it
   starts and ends on boundaries of the jieba segmentation (rjieba plus the unit's own words).
   Segmentation is the expensive step (~0.4 µs per character), so only the run of text between
   punctuation around the occurrence is segmented, and each distinct run once per segmenter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import ahocorasick_rs
import rjieba

from yuqing.analysis.rules import AllOf, AnyOf, Group, Node, Rule, RuleSyntaxError, Term, parse_rule

K = TypeVar("K", bound=Hashable)

Groups = Mapping[str, Sequence[str]]
RuleSpec = str | tuple[str, Groups] | Rule
# fired ids, append(rule number), whole-word confirmer
_Bucket = Callable[[set[int], Callable[[int], None], "_WholeWords | None"], None]

# Characters jieba never puts inside a word: whitespace and punctuation outside its word-block
# class ([Han a-zA-Z0-9+#&._%-]). jieba splits on them itself, so segmenting the run between two
# of them gives exactly the boundaries the full-text segmentation has there, for a fraction of
# the cost (checked on 28k CED posts: identical).
_PUNCT: Final = "，。！？、；：“”‘’（）《》〈〉【】「」『』…—～·,!?;:'\"()[]<>{}@/\\|~^*=$`"
_SEPARATORS: Final = frozenset(_PUNCT)
_RUN: Final = re.compile("[^\\s" + re.escape(_PUNCT) + "]*")
_RUN_CACHE_SIZE: Final = 100_000  # distinct runs remembered per segmenter (reposts repeat them)
_BUCKETS_PER_COMPILE: Final = 400  # keeps each generated module small


@dataclass(frozen=True, slots=True)
class TopicMatch(Generic[K]):
    """A topic whose rule held, with the rule's positive terms found in the post (rule order)."""

    topic_id: K
    fired_terms: tuple[str, ...]


class Segmenter:
    """jieba word boundaries of text runs, with the unit's words, remembered per distinct run."""

    def __init__(self, unit_words: Iterable[str] = ()) -> None:
        self.jieba = rjieba.Jieba()
        for word in unit_words:
            # freq None: rjieba picks a frequency high enough for the word to be kept whole.
            self.jieba.add_word(word, None, None)
        self._runs: dict[str, frozenset[int]] = {}

    def forget(self) -> None:
        """Drop the remembered runs (benchmarks measure a cold start with this)."""
        self._runs.clear()

    def boundaries(self, run: str) -> frozenset[int]:
        """Offsets in ``run`` where words start, plus ``len(run)``."""
        bounds = self._runs.get(run)
        if bounds is None:
            bounds = frozenset([*(start for _, start, _ in self.jieba.tokenize(run)), len(run)])
            if len(self._runs) >= _RUN_CACHE_SIZE:
                self._runs.clear()  # crude but bounded; runs recur mostly within hours
            self._runs[run] = bounds
        return bounds

    def is_boundary(self, text: str, pos: int, reversed_text: str | None = None) -> bool:
        """Would the jieba segmentation of ``text`` put a word boundary at ``pos``?
        ``reversed_text`` (``text[::-1]``) saves recomputing it when asking about one text often."""
        n = len(text)
        if pos <= 0 or pos >= n:
            return True
        before, after = text[pos - 1], text[pos]
        if before in _SEPARATORS or after in _SEPARATORS or before.isspace() or after.isspace():
            return True
        # The run around pos: scanned forward in the text and backward in the reversed text.
        back = _RUN.match(text[::-1] if reversed_text is None else reversed_text, n - pos)
        fore = _RUN.match(text, pos)
        start = n - back.end() if back else 0
        end = fore.end() if fore else n
        return pos - start in self.boundaries(text[start:end])


@functools.lru_cache(maxsize=16)
def segmenter(unit_words: tuple[str, ...] = ()) -> Segmenter:
    """A shared segmenter per set of unit words. A jieba dictionary costs ~0.1 s and ~25 MB, and
    a unit recompiles its matcher whenever a rule changes. Never the module-level rjieba instance,
    which other code may add words to."""
    return Segmenter(unit_words)


class _WholeWords:
    """Confirms tentative whole-word ids for one post, each at most once. Made for every post in
    which a whole-word pattern occurs, but used only when a rule's test gets that far, so all
    work waits for the first question."""

    __slots__ = ("_data", "_done", "_fired", "_found", "_n", "_reversed", "_segmenter", "_text")

    def __init__(
        self, data: bytes, found: list[tuple[int, int, int]], fired: set[int], n: int, seg: Segmenter
    ) -> None:
        self._data, self._found, self._fired, self._n, self._segmenter = data, found, fired, n, seg
        self._text = ""
        self._reversed = ""
        self._done: dict[int, bool] = {}

    def one(self, tid: int) -> bool:
        ok = self._done.get(tid)
        if ok is None:
            if not self._text:
                self._text = self._data.decode()
                self._reversed = self._text[::-1]
            pid, data, text, rev, seg = tid - self._n, self._data, self._text, self._reversed, self._segmenter
            # Offsets from the automaton are in UTF-8 bytes; the segmentation counts characters.
            ok = any(
                p == pid
                and seg.is_boundary(text, len(data[:start].decode()), rev)
                and seg.is_boundary(text, len(data[:end].decode()), rev)
                for p, start, end in self._found
            )
            self._done[tid] = ok
            if not ok:
                self._fired.discard(tid)
        return ok

    def any(self, tids: frozenset[int]) -> bool:
        return any(self.one(tid) for tid in sorted(tids & self._fired))


def dictionary_frequency(seg: Segmenter) -> Callable[[str], float]:
    """Estimated frequency of a term: its jieba dictionary count, or for a phrase the count jieba
    derives from its parts. Used only to choose the rarest clause to index a rule under."""
    return lambda term: float(seg.jieba.suggest_freq(term))


class TopicMatcher(Generic[K]):
    """Many topic rules compiled into one matcher.

    ``rules`` maps a topic id to a rule text (parsed with ``groups``), a ``(text, groups)`` pair
    (its groups override ``groups``) or a parsed ``Rule``. ``unit_words`` are extra dictionary
    words for the segmentation that whole-word terms are checked against. ``term_frequency``
    replaces the dictionary estimate used to pick each rule's trigger words (e.g. counts from the
    unit's recent posts). A rule that does not parse raises ``RuleSyntaxError`` with ``topic_id``.
    """

    def __init__(
        self,
        rules: Mapping[K, RuleSpec],
        *,
        groups: Groups | None = None,
        unit_words: Iterable[str] = (),
        short_whole_word: int = 0,
        term_frequency: Callable[[str], float] | None = None,
    ) -> None:
        # Texts are lower-cased before segmentation, so the unit's words are too.
        self._segmenter = segmenter(tuple(sorted({w.strip().lower() for w in unit_words if w.strip()})))
        frequency = term_frequency or dictionary_frequency(self._segmenter)
        self.rules: dict[K, Rule] = {}
        for topic_id, spec in rules.items():
            try:
                self.rules[topic_id] = _to_rule(spec, groups, short_whole_word)
            except RuleSyntaxError as exc:
                exc.topic_id = topic_id
                raise
        self._topics: list[K] = list(self.rules)

        patterns: dict[str, int] = {}
        for rule in self.rules.values():
            for term in rule.terms():
                patterns.setdefault(term.text.lower(), len(patterns))
        n = self._n = len(patterns)
        self._whole_word_pids = frozenset(
            patterns[t.text.lower()] for r in self.rules.values() for t in r.terms() if t.whole_word
        )
        codegen = _Codegen(lambda t: patterns[t.text.lower()] + (n if t.whole_word else 0), n)
        self._positive: list[tuple[tuple[int, str], ...]] = []
        for rule_no, rule in enumerate(self.rules.values()):
            codegen.add_rule(rule_no, rule.root, frequency)
            positive = {codegen.term_id(t): t.text for t in rule.positive_terms()}
            self._positive.append(tuple(positive.items()))
        buckets = codegen.compile()
        # A list indexed by term id: cheaper than dict.get in the per-post loop.
        self._buckets: list[_Bucket | None] = [buckets.get(tid) for tid in range(2 * n)]
        # Matching UTF-8 bytes is ~25% faster than str (no byte-to-character offset mapping); a
        # valid UTF-8 pattern can only match at character boundaries of valid UTF-8 text.
        self._automaton = (
            ahocorasick_rs.BytesAhoCorasick(
                [p.encode() for p in patterns], matchkind=ahocorasick_rs.MatchKind.Standard
            )
            if patterns
            else None
        )
        self._stats = {
            "rules": len(self._topics),
            "patterns": n,
            "whole_word_patterns": len(self._whole_word_pids),
            "trigger_words": len(buckets),
            "index_entries": codegen.entries,
        }

    def __len__(self) -> int:
        return len(self._topics)

    def stats(self) -> dict[str, int]:
        """Sizes: rules, distinct words, whole-word words, trigger words, (word, rule) entries."""
        return dict(self._stats)

    def match(self, text: str) -> list[TopicMatch[K]]:
        """Topics whose rules hold for ``text``, in the order the rules were given."""
        if self._automaton is None:
            return []
        data = text.lower().encode()
        found = self._automaton.find_matches_as_indexes(data, overlapping=True)
        if not found:
            return []
        fired = {pid for pid, _, _ in found}
        whole: _WholeWords | None = None
        if not fired.isdisjoint(self._whole_word_pids):
            n = self._n
            fired.update([pid + n for pid in fired & self._whole_word_pids])
            whole = _WholeWords(data, found, fired, n, self._segmenter)
        hits: list[int] = []
        append = hits.append
        # With whole-word ids, over a copy: confirming one may discard it from `fired`.
        for bucket in filter(None, map(self._buckets.__getitem__, fired if whole is None else tuple(fired))):
            bucket(fired, append, whole)
        if not hits:
            return []
        n, positive, out = self._n, self._positive, []
        for rule_no in sorted(set(hits)):
            # Positive terms present; whole-word ones the test did not need are confirmed here.
            terms = [
                word
                for tid, word in positive[rule_no]
                if tid in fired and (tid < n or (whole is not None and whole.one(tid)))
            ]
            out.append(TopicMatch(self._topics[rule_no], tuple(dict.fromkeys(terms))))
        return out

    def match_batch(self, texts: Iterable[str]) -> list[list[TopicMatch[K]]]:
        match = self.match
        return [match(text) for text in texts]


def _to_rule(spec: RuleSpec, groups: Groups | None, short_whole_word: int) -> Rule:
    if isinstance(spec, Rule):
        return spec
    if isinstance(spec, str):
        return parse_rule(spec, groups, short_whole_word=short_whole_word)
    text, own_groups = spec
    return parse_rule(text, {**(groups or {}), **own_groups}, short_whole_word=short_whole_word)


def _pure_terms(node: Node) -> list[Term] | None:
    """The terms of a node that is just an OR of terms, else None."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Group):
        return list(node.words)
    if isinstance(node, AnyOf):
        out: list[Term] = []
        for item in node.items:
            terms = _pure_terms(item)
            if terms is None:
                return None
            out += terms
        return out
    return None


def _has_whole_word(node: Node) -> bool:
    return any(t.whole_word for t in Rule("", node).terms())


class _Codegen:
    """Builds, per trigger word, the source of a function testing every rule indexed under it."""

    def __init__(self, term_id: Callable[[Term], int], n: int) -> None:
        self.term_id = term_id
        self.n = n
        self.consts: list[frozenset[int]] = []
        self.const_ids: dict[frozenset[int], int] = {}
        self.bodies: dict[int, list[str]] = {}  # trigger id -> statements
        self.used: dict[int, dict[int, None]] = {}  # trigger id -> constants it needs
        self.entries = 0

    def add_rule(self, rule_no: int, root: Node, frequency: Callable[[str], float]) -> None:
        """Index the rule under its rarest required clause and emit its test into those buckets.

        Any required clause works as the trigger: the rule implies it, and a clause needs one of
        its positive terms present. If the clause is a plain OR of substring terms, a trigger hit
        already proves it, so the test skips it; whole-word terms fire only tentatively, so a
        clause holding them stays in the test. Tests run rarest clause first, and those needing
        segmentation last, so a post is segmented only when the rest of the rule already holds."""
        clauses = list(root.include) if isinstance(root, AllOf) else [root]
        if not clauses:
            raise ValueError("a rule needs at least one positive item")
        costs = [sum(frequency(t.text) for t in Rule("", c).positive_terms()) for c in clauses]
        order = sorted(range(len(clauses)), key=costs.__getitem__)
        trigger_clause = clauses[order[0]]
        trigger = {self.term_id(t) for t in Rule("", trigger_clause).positive_terms()}
        pure = _pure_terms(trigger_clause)
        keep = order if pure is None or any(t.whole_word for t in pure) else order[1:]
        used: list[int] = []
        tests = [(_has_whole_word(clauses[k]), self.expr(clauses[k], used)) for k in keep]
        if isinstance(root, AllOf):
            tests += [(_has_whole_word(item), f"not {self.expr(item, used)}") for item in root.exclude]
        parts = [expr for whole, expr in tests if not whole] + [expr for whole, expr in tests if whole]
        statement = f"if {' and '.join(parts)}: a({rule_no})" if parts else f"a({rule_no})"
        for tid in sorted(trigger):
            self.bodies.setdefault(tid, []).append(statement)
            self.used.setdefault(tid, {}).update(dict.fromkeys(used))
            self.entries += 1

    def const(self, ids: list[int], used: list[int]) -> str:
        key = frozenset(ids)
        k = self.const_ids.get(key)
        if k is None:
            k = self.const_ids[key] = len(self.consts)
            self.consts.append(key)
        used.append(k)
        return f"c{k}"

    def expr(self, node: Node, used: list[int]) -> str:
        terms = _pure_terms(node)
        if terms is not None:
            ids = {self.term_id(t) for t in terms}
            plain = sorted(i for i in ids if i < self.n)
            whole = sorted(i for i in ids if i >= self.n)
            tests = []
            if len(plain) == 1:
                tests.append(f"{plain[0]} in f")
            elif plain:
                tests.append(f"not f.isdisjoint({self.const(plain, used)})")
            if len(whole) == 1:
                tests.append(f"({whole[0]} in f and w.one({whole[0]}))")
            elif whole:
                c = self.const(whole, used)
                tests.append(f"(not f.isdisjoint({c}) and w.any({c}))")
            return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"
        if isinstance(node, AnyOf):
            return "(" + " or ".join(self.expr(item, used) for item in node.items) + ")"
        assert isinstance(node, AllOf)
        parts = [self.expr(item, used) for item in node.include]
        parts += [f"not {self.expr(item, used)}" for item in node.exclude]
        return "(" + " and ".join(parts) + ")"

    def compile(self) -> dict[int, _Bucket]:
        buckets: dict[int, _Bucket] = {}
        tids = list(self.bodies)
        for i in range(0, len(tids), _BUCKETS_PER_COMPILE):
            chunk = tids[i : i + _BUCKETS_PER_COMPILE]
            lines = ["def make(C):", "    out = {}"]
            for tid in chunk:
                defaults = "".join(f", c{k}=C[{k}]" for k in self.used[tid])
                lines.append(f"    def b{tid}(f, a, w{defaults}):")
                lines += [f"        {statement}" for statement in self.bodies[tid]]
                lines.append(f"    out[{tid}] = b{tid}")
            lines.append("    return out")
            namespace: dict[str, Callable[[list[frozenset[int]]], dict[int, _Bucket]]] = {}
            # Generated above from integers only: no user text reaches this code.
            exec(compile("\n".join(lines), "<topic rules>", "exec"), namespace)  # noqa: S102
            buckets.update(namespace["make"](self.consts))
        return buckets
