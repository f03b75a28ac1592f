"""Topic rule language (专题规则): parse ``@地域 + @主体 + (投诉|事故|死亡) - 招聘`` into a rule tree.

Syntax (the user-facing description is in ``RULE_SYNTAX_HELP``):

* ``A + B``  — A and B (且)            ``A - B`` — A and not B (且不含)
* ``A | B``  — A or B (或)              ``( … )`` — grouping
* ``"…"``    — a literal phrase; may contain spaces and operator characters
* ``@名称``  — a named word group (地域词、主体词、事件词、排除词 …), i.e. the OR of its words
* ``[词]``   — whole-word: the term counts only where it starts and ends on word boundaries of the
  segmentation, so ``[市长]`` does not fire in "南京市长江大桥" (南京市/长江大桥). ``[@主体]`` makes every
  word of a group whole-word; inside a group's word list ``[鼓楼]`` marks a single word.

Precedence: ``|`` binds tighter than ``+`` and ``-``, which share one level and associate left, so
``A + B | C - D`` is ``A + (B | C) - D``. ``+``/``-`` being one level means a rule reads as a chain
of "and"/"and not" items, the way users write them; the alternative (``-`` lowest) would make
``A - B + C`` mean "A and not (B and C)", which nobody expects. ``-`` is binary only: every chain
starts with a positive item, so no rule can match a post that contains none of its words — which
also lets the matcher skip every rule none of whose positive words occurred.

Full-width forms (＋ ｜ － （ ） ＂ “ ” 【 】 ［ ］) are accepted because users type rules with a
Chinese input method. A ``-`` between two ASCII letters/digits with no spaces (``COVID-19``) is part
of the word; write ``A - B`` to subtract ASCII words.

Whole-word is opt-in per term. ``short_whole_word=N`` makes bare terms of at most N characters
whole-word by default, but it is off (0) by default because the segmentation keeps many names as one
word — "人民医院", "南京市", "长江大桥" — so a default whole-word "医院"/"南京"/"长江" would silently
miss most of the posts users monitor; quoted phrases are never made whole-word by that setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

RULE_SYNTAX_HELP: Final = """\
专题规则语法
  A + B     同时包含 A 和 B
  A | B     包含 A 或 B
  A - B     包含 A 且不包含 B（“-”前面必须有词）
  ( … )     括号分组；“|”优先于“+”和“-”，“+”“-”从左到右：A + B | C - D 即 A + (B | C) - D
  "…"       引号内按原文匹配，可含空格和运算符，如 "COVID-19 疫苗"
  @名称     引用词组（地域词、主体词、事件词、排除词等），相当于词组内各词用“|”连接
  [词]      整词匹配：只在分词边界上出现才算，如 [市长] 不命中“南京市长江大桥”；[@主体] 对整个词组整词匹配
  全角符号 ＋ ｜ － （ ） “ ” 【 】 同样可用；字母不分大小写。
Topic rule syntax
  A + B  both;  A | B  either;  A - B  A but not B;  ( … ) grouping; | binds tighter than + and -,
  which are evaluated left to right.  "…" literal phrase;  @name word group (OR of its words);
  [word] whole-word match on segmentation boundaries ([@name] for a whole group).
  Full-width operators are accepted; ASCII letters match case-insensitively."""

# Operator characters, ASCII and full-width.
_AND: Final = frozenset("+＋")
_OR: Final = frozenset("|｜")
_NOT: Final = frozenset("-－")
_LPAREN: Final = frozenset("(（")
_RPAREN: Final = frozenset(")）")
_QUOTES: Final = {'"': '"', "＂": "＂", "“": "”"}
_BRACKETS: Final = {"[": "]", "【": "】", "［": "］"}
_CLOSERS: Final = frozenset("]】］")
_STRAY_QUOTE: Final = "”"
# Characters that end a bare term (or a group name).
_STOP: Final = (
    _AND
    | _OR
    | _NOT
    | _LPAREN
    | _RPAREN
    | frozenset(_QUOTES)
    | frozenset(_BRACKETS)
    | _CLOSERS
    | {_STRAY_QUOTE}
)


class RuleSyntaxError(ValueError):
    """A rule that does not parse. ``position`` is the 0-based character index; the message (in
    Chinese, for the user) counts characters from 1, as people do: position 0 is "第 1 个字符"."""

    def __init__(self, position: int, detail: str, *, message: str | None = None) -> None:
        self.position = position
        self.detail = detail
        # Set by the matcher when the rule belongs to a topic, so callers can say which one.
        self.topic_id: object = None
        self._message = message
        super().__init__(message or f"第 {position + 1} 个字符处{detail}")

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt with the same arguments when pickled (e.g. raised in a worker process).
        return (_rebuild_error, (self.position, self.detail, self._message, self.topic_id))


def _rebuild_error(position: int, detail: str, message: str | None, topic_id: object) -> RuleSyntaxError:
    error = RuleSyntaxError(position, detail, message=message)
    error.topic_id = topic_id
    return error


# --------------------------------------------------------------------------------------------
# The rule tree


@dataclass(frozen=True, slots=True)
class Term:
    """One word to look for. Equality ignores where it was written."""

    text: str
    whole_word: bool = False
    position: int = field(default=0, compare=False)

    def __str__(self) -> str:
        shown = self.text if _is_bare(self.text) else f'"{self.text}"'
        return f"[{shown}]" if self.whole_word else shown


@dataclass(frozen=True, slots=True)
class Group:
    """``@name``: any of the group's words."""

    name: str
    words: tuple[Term, ...]
    whole_word: bool = False
    position: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"[@{self.name}]" if self.whole_word else f"@{self.name}"


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``a | b | …``."""

    items: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " | ".join(map(str, self.items)) + ")"


@dataclass(frozen=True, slots=True)
class AllOf:
    """``a + b - c + d``: every ``include`` item and none of the ``exclude`` items."""

    include: tuple[Node, ...]
    exclude: tuple[Node, ...] = ()

    def __str__(self) -> str:
        text = " + ".join(map(str, self.include))
        if self.exclude:
            text += " - " + " - ".join(map(str, self.exclude))
        return f"({text})"


Node = Term | Group | AnyOf | AllOf


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed rule: the source text and its tree. ``str(rule)`` is the fully parenthesised
    reading; ``rule.tree()`` an indented one for showing users how their rule was understood."""

    text: str
    root: Node

    def __str__(self) -> str:
        shown = str(self.root)
        return shown[1:-1] if isinstance(self.root, AnyOf | AllOf) else shown

    def terms(self) -> tuple[Term, ...]:
        """Every distinct term, group words expanded, in the order written."""
        return tuple(dict.fromkeys(term for term, _ in _walk(self.root, True)))

    def positive_terms(self) -> tuple[Term, ...]:
        """Terms whose presence can make the rule match (not under an odd number of ``-``)."""
        return tuple(dict.fromkeys(term for term, positive in _walk(self.root, True) if positive))

    def evaluate(self, present: Callable[[Term], bool]) -> bool:
        """Reference semantics: does the rule hold when ``present(term)`` says which terms occur?
        Slow (a tree walk); the matcher compiles rules instead."""
        return _evaluate(self.root, present)

    def tree(self) -> str:
        lines: list[str] = []
        _tree_lines(self.root, 0, lines)
        return "\n".join(lines)


def _walk(node: Node, positive: bool) -> Iterator[tuple[Term, bool]]:
    if isinstance(node, Term):
        yield node, positive
    elif isinstance(node, Group):
        for word in node.words:
            yield word, positive
    elif isinstance(node, AnyOf):
        for item in node.items:
            yield from _walk(item, positive)
    else:
        for item in node.include:
            yield from _walk(item, positive)
        for item in node.exclude:
            yield from _walk(item, not positive)


def _evaluate(node: Node, present: Callable[[Term], bool]) -> bool:
    if isinstance(node, Term):
        return present(node)
    if isinstance(node, Group):
        return any(present(word) for word in node.words)
    if isinstance(node, AnyOf):
        return any(_evaluate(item, present) for item in node.items)
    return all(_evaluate(item, present) for item in node.include) and not any(
        _evaluate(item, present) for item in node.exclude
    )


def _tree_lines(node: Node, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if isinstance(node, Term):
        out.append(f"{pad}{'整词' if node.whole_word else '词'} {node}")
    elif isinstance(node, Group):
        words = " | ".join(map(str, node.words))
        out.append(f"{pad}词组 {node}: {words}")
    elif isinstance(node, AnyOf):
        out.append(f"{pad}或 (|)")
        for item in node.items:
            _tree_lines(item, depth + 1, out)
    else:
        out.append(f"{pad}且 (+)")
        for item in node.include:
            _tree_lines(item, depth + 1, out)
        for item in node.exclude:
            out.append(f"{pad}  不含 (-)")
            _tree_lines(item, depth + 2, out)


def _is_bare(text: str) -> bool:
    """Can the term be written without quotes and read back as itself?"""
    return bool(text) and not text.startswith("@") and not any(ch in _STOP or ch.isspace() for ch in text)


# --------------------------------------------------------------------------------------------
# Lexer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "+", "-", "|", "(", ")", "term", "group", "end"
    pos: int
    text: str = ""  # operator as written, term text or group name
    whole_word: bool = False
    quoted: bool = False


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _AND:
            tokens.append(_Token("+", i, ch))
            i += 1
        elif ch in _OR:
            tokens.append(_Token("|", i, ch))
            i += 1
        elif ch in _NOT:
            tokens.append(_Token("-", i, ch))
            i += 1
        elif ch in _LPAREN:
            tokens.append(_Token("(", i, ch))
            i += 1
        elif ch in _RPAREN:
            tokens.append(_Token(")", i, ch))
            i += 1
        elif ch in _CLOSERS:
            raise RuleSyntaxError(i, f"的“{ch}”没有对应的左方括号")
        elif ch == _STRAY_QUOTE:
            raise RuleSyntaxError(i, "的右引号“””没有对应的左引号")
        elif ch in _BRACKETS:
            token, i = _lex_bracket(text, i)
            tokens.append(token)
        else:
            token, i = _lex_primary(text, i, whole_word=False)
            tokens.append(token)
    tokens.append(_Token("end", n))
    return tokens


def _lex_primary(text: str, i: int, *, whole_word: bool) -> tuple[_Token, int]:
    """A quoted phrase, ``@group`` or bare term starting at ``i``; returns it and the next index."""
    ch = text[i]
    if ch in _QUOTES:
        close = text.find(_QUOTES[ch], i + 1)
        if close < 0:
            raise RuleSyntaxError(i, f"的引号“{ch}”没有结束")
        if close == i + 1:
            raise RuleSyntaxError(i, "的引号内没有内容")
        return _Token("term", i, text[i + 1 : close], whole_word, quoted=True), close + 1
    if ch == "@":
        end = _bare_end(text, i + 1)
        if end == i + 1:
            raise RuleSyntaxError(i, "的“@”后缺少词组名")
        return _Token("group", i, text[i + 1 : end], whole_word), end
    end = _bare_end(text, i)
    return _Token("term", i, text[i:end], whole_word), end


def _bare_end(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            break
        if ch in _STOP:
            # "COVID-19": a hyphen between ASCII letters/digits is part of the word.
            if ch == "-" and i + 1 < n and _ascii_alnum(text[i - 1]) and _ascii_alnum(text[i + 1]):
                i += 1
                continue
            break
        i += 1
    return i


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _lex_bracket(text: str, start: int) -> tuple[_Token, int]:
    """``[word]``, ``["phrase"]`` or ``[@group]``: one primary, whole-word."""
    closer = _BRACKETS[text[start]]
    i, n = start + 1, len(text)
    while i < n and text[i].isspace():
        i += 1
    if i >= n:
        raise RuleSyntaxError(start, f"的“{text[start]}”没有对应的“{closer}”")
    if text[i] in _CLOSERS:
        raise RuleSyntaxError(start, "的方括号内没有内容")
    if text[i] in _STOP and text[i] not in _QUOTES:
        raise RuleSyntaxError(i, f"的“{text[i]}”不能写在方括号内（方括号内只能写一个词）")
    token, i = _lex_primary(text, i, whole_word=True)
    while i < n and text[i].isspace():
        i += 1
    if i >= n:
        raise RuleSyntaxError(start, f"的“{text[start]}”没有对应的“{closer}”")
    if text[i] != closer:
        raise RuleSyntaxError(i, f"应为“{closer}”：方括号内只能写一个词（整词匹配），含空格的词请加引号")
    return token, i + 1


# --------------------------------------------------------------------------------------------
# Parser: chain := unit (("+" | "-") unit)* ; unit := primary ("|" primary)* ;
#         primary := term | group | "(" chain ")"


# Brackets nested deeper than any rule a person writes: 400 of them exhausted the stack (a 500 in
# the rule tester), and a rule parsed deep might fail later in the matcher.
MAX_NESTING = 32


class _Parser:
    def __init__(self, text: str, groups: Mapping[str, Sequence[str]], short_whole_word: int) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.i = 0
        self.depth = 0
        self.groups = groups
        self.short = short_whole_word

    def parse(self) -> Node:
        if self.tokens[0].kind == "end":
            raise RuleSyntaxError(0, "：规则为空", message="规则为空")
        node = self.chain()
        token = self.tokens[self.i]
        if token.kind == ")":
            raise RuleSyntaxError(token.pos, "的右括号没有对应的左括号")
        if token.kind != "end":  # pragma: no cover - chain() stops only at ")" or the end
            raise RuleSyntaxError(token.pos, "无法识别")
        return node

    def chain(self) -> Node:
        include = [self.unit()]
        exclude: list[Node] = []
        while self.tokens[self.i].kind in ("+", "-"):
            op = self.tokens[self.i]
            self.i += 1
            (include if op.kind == "+" else exclude).append(self.unit())
        self.expect_operator_or_end()
        if len(include) == 1 and not exclude:
            return include[0]
        return AllOf(tuple(include), tuple(exclude))

    def unit(self) -> Node:
        items = [self.primary()]
        while self.tokens[self.i].kind == "|":
            self.i += 1
            items.append(self.primary())
        return items[0] if len(items) == 1 else AnyOf(tuple(items))

    def primary(self) -> Node:
        token = self.tokens[self.i]
        prev = self.tokens[self.i - 1] if self.i else None
        if token.kind == "term":
            self.i += 1
            whole = token.whole_word or (not token.quoted and len(token.text) <= self.short)
            return Term(token.text, whole, token.pos)
        if token.kind == "group":
            self.i += 1
            return self.group(token)
        if token.kind == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise RuleSyntaxError(token.pos, f"的括号嵌套超过 {MAX_NESTING} 层，请简化规则")
            self.i += 1
            node = self.chain()
            self.depth -= 1
            if self.tokens[self.i].kind != ")":
                raise RuleSyntaxError(token.pos, "的左括号缺少对应的右括号")
            self.i += 1
            return node
        # An operator, ")" or the end where a word should be.
        if prev is not None and prev.kind == "(":
            if token.kind == ")":
                raise RuleSyntaxError(prev.pos, "的括号内没有内容")
            if token.kind == "end":
                raise RuleSyntaxError(prev.pos, "的左括号缺少对应的右括号")
        if prev is not None and prev.kind in ("+", "-", "|"):
            if token.kind in ("+", "-", "|"):
                raise RuleSyntaxError(token.pos, f"的“{token.text}”紧跟在“{prev.text}”后，中间缺少词语")
            raise RuleSyntaxError(prev.pos, f"的“{prev.text}”后缺少词语")
        if token.kind == "-":
            raise RuleSyntaxError(token.pos, "的“-”前缺少词语（“-”表示“且不含”，应写成 A - B）")
        if token.kind in ("+", "|"):
            raise RuleSyntaxError(token.pos, f"的“{token.text}”前缺少词语")
        raise RuleSyntaxError(token.pos, "的右括号前缺少词语")

    def expect_operator_or_end(self) -> None:
        token = self.tokens[self.i]
        if token.kind in ("term", "group", "("):
            raise RuleSyntaxError(token.pos, "缺少运算符（+ 且、| 或、- 不含）；含空格的词请加引号")

    def group(self, token: _Token) -> Group:
        name = token.text
        words = self.groups.get(name)
        if words is None:
            words = self.groups.get("@" + name)
        if words is None:
            raise RuleSyntaxError(token.pos, f"的词组“@{name}”未定义")
        terms = tuple(
            dict.fromkeys(
                t for t in (_group_word(w, token.whole_word, self.short, token.pos) for w in words) if t
            )
        )
        if not terms:
            raise RuleSyntaxError(token.pos, f"的词组“@{name}”没有词语")
        return Group(name, terms, token.whole_word, token.pos)


def _group_word(raw: str, whole_word: bool, short: int, position: int) -> Term | None:
    """A word of a group's list: ``[词]``/``【词】`` is whole-word, ``"词"`` is taken literally."""
    word = raw.strip()
    if len(word) >= 2 and word[0] in _BRACKETS and word[-1] == _BRACKETS[word[0]]:
        inner = word[1:-1].strip()
        return Term(inner, True, position) if inner else None
    if len(word) >= 2 and word[0] in _QUOTES and word[-1] == _QUOTES[word[0]]:
        inner = word[1:-1]
        return Term(inner, whole_word, position) if inner else None
    if not word:
        return None
    return Term(word, whole_word or len(word) <= short, position)


def group_names(text: str) -> set[str]:
    """The names of the word groups a rule refers to (``@名称``, ``[@名称]``); none when the rule
    does not even lex."""
    try:
        return {token.text for token in _lex(text) if token.kind == "group"}
    except RuleSyntaxError:
        return set()


def parse_rule(
    text: str,
    groups: Mapping[str, Sequence[str]] | None = None,
    *,
    short_whole_word: int = 0,
) -> Rule:
    """Parse one rule. ``groups`` maps a group name (with or without the ``@``) to its words.

    ``short_whole_word``: bare terms (and group words) of at most this many characters are
    whole-word unless quoted; 0 (the default) leaves whole-word to the explicit ``[词]``.
    Raises ``RuleSyntaxError`` naming the position of the first problem.
    """
    return Rule(text, _Parser(text, groups or {}, short_whole_word).parse())
