"""Drill scenarios: TOML files an administrator writes or picks from the shipped library.

A scenario holds an incident's posts with their times relative to its start (seconds), site and
engagement; injects (a journalist calls, a superior asks for a report, a large account reposts)
that reach the participants at their times, possibly with posts of their own; the subjects the
drill is scored on, each with the recorded action that completes it and its time limit; and what
the plan expects (grade, category, release). The format is in docs/drills.md.

Every value is checked when the file is read; a problem names the file and the key, e.g.
``posts[3].at``, in Chinese, so the administrator knows what to fix.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from yuqing.analysis.grading import GRADE_ORDER
from yuqing.cases.plan import category_name
from yuqing.drills.errors import ScenarioError
from yuqing.ingest.models import AUTHOR_KIND_LABELS, PLATFORM_NAMES, MediaTier, Platform
from yuqing.org.models import OrgError
from yuqing.org.roles import parse_role
from yuqing.tomltext import toml_error

__all__ = [
    "DEFAULT_SUBJECTS",
    "DONE_WHEN",
    "INJECT_KINDS",
    "SCENARIOS_DIR",
    "Deductions",
    "Expectations",
    "Inject",
    "Scenario",
    "ScenarioPost",
    "Subject",
    "load_scenario",
    "parse_scenario",
    "shipped_scenarios",
]

SCENARIOS_DIR = Path(__file__).parent / "scenarios"

# The recorded actions that complete a subject, as written in scenarios, with what they mean.
DONE_WHEN: dict[str, str] = {
    "acknowledged": "确认预警",
    "case_opened": "开立工单",
    "reported": "向上级报告（工单进入「报告」）",
    "categorized": "研判舆情类别",
    "assessed": "完成研判（工单进入「研判」）",
    "disposing": "进入处置",
    "statement_drafted": "起草声明",
    "statement_approved": "完成声明审批",
    "released": "发布经审批的权威信息",
    "responded": "初步回应网民（跟帖回应或发布声明）",
    "task_assigned": "向部门分派任务",
    "task_done": "完成部门任务",
    "summarised": "提交总结评估",
    "closed": "结案",
}
# The injects of seed 001's kind of drill; a scenario may name others.
INJECT_KINDS = ("记者来电", "上级要求报送", "大V转发")
GRADE_NAMES = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
DETECTION = "detection"


@dataclass(frozen=True)
class ScenarioPost:
    key: str
    at: float
    text: str
    platform: str = Platform.WEIBO.value
    kind: str = "original"
    site: str | None = None
    title: str | None = None
    author: str | None = None
    followers: int | None = None
    verified: bool | None = None
    author_kind: str | None = None  # ingest.models.AuthorKind: a government or media account's report counts
    location: str | None = None
    parent: str | None = None
    root: str | None = None
    views: int | None = None
    reposts: int | None = None
    comments: int | None = None
    likes: int | None = None
    media_tier: str | None = None
    inject: str | None = None  # the inject that brings it, if any


@dataclass(frozen=True)
class Inject:
    key: str
    at: float
    kind: str
    text: str
    to: tuple[str, ...] = ()  # roles of the participants it reaches; all participants when empty


@dataclass(frozen=True)
class Subject:
    name: str
    done_when: str
    limit_minutes: float = 120.0
    start: str = DETECTION  # "detection" (the drill's first alert) or an inject's id
    weight: float = 1.0

    @property
    def action_label(self) -> str:
        return DONE_WHEN[self.done_when]


# Seed 001: four subjects, each to be completed within two hours.
DEFAULT_SUBJECTS: tuple[Subject, ...] = (
    Subject("现场信息发布", "responded"),
    Subject("重大事件信息发布", "released"),
    Subject("突发事件现场协调", "task_done"),
    Subject("社会稳定评估", "assessed"),
)


@dataclass(frozen=True)
class Expectations:
    grade: str | None = None  # a grade code, I..IV
    category: str | None = None
    released: bool = True
    topic_hint: str | None = None  # a rule a monitored topic could use to catch the incident

    @property
    def grade_name(self) -> str | None:
        return GRADE_NAMES[self.grade] if self.grade else None


@dataclass(frozen=True)
class Deductions:
    """Points taken off the overall score for each check of the plan that failed."""

    grade: float = 10.0
    category: float = 10.0
    approvals: float = 10.0
    release: float = 10.0
    deadline: float = 5.0  # per missed or overdue deadline
    deadline_cap: float = 20.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    posts: tuple[ScenarioPost, ...]  # in the order they are replayed (by time)
    injects: tuple[Inject, ...]  # by time
    subjects: tuple[Subject, ...]
    expect: Expectations
    deductions: Deductions
    provenance: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def duration(self) -> float:
        """Seconds from the scenario's start to its last post or inject."""
        times = [p.at for p in self.posts] + [i.at for i in self.injects]
        return max(times, default=0.0)

    def inject(self, key: str) -> Inject | None:
        return next((i for i in self.injects if i.key == key), None)


# ---- reading -------------------------------------------------------------------------------------


class _Checker:
    """Reads values out of the parsed TOML, naming the key in every complaint."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, problem: str) -> ScenarioError:
        return ScenarioError(f"场景 {self.origin}：{where} {problem}")

    def table(self, value: Any, where: str, known: Mapping[str, str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"应为表（[{where}] 或 {{ … }}），实为 {_shown(value)}")
        unknown = [k for k in value if k not in known]
        if unknown:
            names = "、".join(known)
            raise self.fail(where, f"有未知的键 {unknown[0]}（可用的键：{names}）")
        return value

    def text(self, data: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(f"{where}.{key}" if where else key, "缺少必填项")
            return None
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}" if where else key, f"应为字符串，实为 {_shown(value)}")
        return value.strip()

    def number(
        self,
        data: dict[str, Any],
        key: str,
        where: str,
        *,
        default: float | None = None,
        minimum: float = 0.0,
        strict: bool = False,
        unit: str = "",
    ) -> float:
        value = data.get(key, default)
        path = f"{where}.{key}" if where else key
        if value is None:
            raise self.fail(path, "缺少必填项")
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or (value <= minimum if strict else value < minimum):
            bound = f"大于 {minimum:g}" if strict else f"不小于 {minimum:g}"
            raise self.fail(path, f"应为{bound} 的数{unit}，实为 {_shown(value)}")
        return float(value)

    def count(self, data: dict[str, Any], key: str, where: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(f"{where}.{key}", f"应为不小于 0 的整数，实为 {_shown(value)}")
        return value

    def flag(self, data: dict[str, Any], key: str, where: str, default: bool | None) -> bool | None:
        value = data.get(key, default)
        if value is not None and not isinstance(value, bool):
            raise self.fail(f"{where}.{key}" if where else key, f"应为 true 或 false，实为 {_shown(value)}")
        return value

    def choice(
        self, data: dict[str, Any], key: str, where: str, choices: Mapping[str, str], default: str | None
    ) -> str:
        value = data.get(key, default)
        if value is None:
            raise self.fail(f"{where}.{key}", f"缺少必填项（可选：{'、'.join(choices)}）")
        if value not in choices:
            listed = "、".join(f"{k}（{v}）" if v else k for k, v in choices.items())
            raise self.fail(f"{where}.{key}", f"无法识别 {_shown(value)}（可选：{listed}）")
        return str(value)

    def array(self, data: dict[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, f"应为表数组（[[{key}]]），实为 {_shown(value)}")
        return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


_TOP = {
    "name": "名称",
    "description": "说明",
    "source": "来源",
    "expect": "预期",
    "subjects": "评分科目",
    "injects": "情景注入",
    "posts": "信息",
    "scoring": "扣分",
}
_POST = {
    "id": "编号",
    "at": "相对时间（秒）",
    "text": "正文",
    "platform": "平台",
    "kind": "类型",
    "site": "站点",
    "title": "标题",
    "author": "作者",
    "followers": "粉丝数",
    "verified": "认证",
    "author_kind": "认证类型",
    "location": "地区",
    "parent": "上级信息",
    "root": "原帖",
    "views": "阅读",
    "reposts": "转发",
    "comments": "评论",
    "likes": "点赞",
    "media_tier": "媒体级别",
}
_INJECT = {
    "id": "编号",
    "at": "相对时间（秒）",
    "kind": "类型",
    "text": "内容",
    "to": "发给",
    "posts": "信息",
}
_SUBJECT = {
    "name": "名称",
    "done_when": "完成动作",
    "limit_minutes": "时限（分钟）",
    "start": "起算",
    "weight": "权重",
}
_EXPECT = {"grade": "等级", "category": "类别", "released": "应发布", "topic_hint": "专题规则建议"}
_PLATFORMS = PLATFORM_NAMES
_KINDS = {"original": "原帖", "repost": "转发", "comment": "评论", "reply": "回复"}
_TIERS = {"central": "央级", "provincial": "省级", "city": "市级", "other": "其他"}
assert set(_PLATFORMS) == {p.value for p in Platform} and set(_TIERS) == {t.value for t in MediaTier}


def parse_scenario(data: Mapping[str, Any], origin: str) -> Scenario:
    """A validated scenario from parsed TOML (or a stored snapshot of it)."""
    check = _Checker(origin)
    raw = check.table(dict(data), "（顶层）", _TOP)
    name = check.text(raw, "name", "", required=True)
    if not name:
        raise check.fail("name", "不能为空")
    source = check.table(raw.get("source", {}), "source", _AnyKeys())
    keys: set[str] = set()
    posts = [
        _post(check, item, f"posts[{index}]", f"p{index + 1}", None, None, keys)
        for index, item in enumerate(check.array(raw, "posts"))
    ]
    injects = _injects(check, raw, posts, keys)
    if not posts:
        raise check.fail("posts", "至少需要一条信息（[[posts]]）")
    posts = _with_roots(check, posts)
    fields = Deductions.__dataclass_fields__
    scoring = check.table(raw.get("scoring", {}), "scoring", dict.fromkeys(fields, ""))
    defaults = Deductions()
    deductions = Deductions(
        **{
            field_name: check.number(scoring, field_name, "scoring", default=getattr(defaults, field_name))
            for field_name in fields
        }
    )
    order = sorted(range(len(posts)), key=lambda i: (posts[i].at, i))
    return Scenario(
        name=name,
        description=check.text(raw, "description", "") or "",
        posts=tuple(posts[i] for i in order),
        injects=tuple(sorted(injects, key=lambda i: i.at)),
        subjects=_subjects(check, raw, injects) or DEFAULT_SUBJECTS,
        expect=_expect(check, raw),
        deductions=deductions,
        provenance={str(k): str(v) for k, v in source.items() if isinstance(v, str | int | float)},
        raw=dict(data),
    )


def _injects(check: _Checker, raw: dict[str, Any], posts: list[ScenarioPost], keys: set[str]) -> list[Inject]:
    """The injects; the posts an inject brings are added to `posts`."""
    injects: list[Inject] = []
    for index, item in enumerate(check.array(raw, "injects")):
        where = f"injects[{index}]"
        spec = check.table(item, where, _INJECT)
        key = check.text(spec, "id", where) or f"inject{index + 1}"
        if any(i.key == key for i in injects):
            raise check.fail(f"{where}.id", f"与前面的情景注入重复：{key!r}")
        at = check.number(spec, "at", where, unit="（秒）")
        kind = check.text(spec, "kind", where, required=True)
        text = check.text(spec, "text", where, required=True)
        if not kind or not text:
            raise check.fail(where, "的 kind 和 text 不能为空")
        targets = spec.get("to", [])
        if not isinstance(targets, list) or not all(isinstance(r, str) for r in targets):
            example = '["办公室", "分管领导"]'
            raise check.fail(f"{where}.to", f"应为角色名的列表，如 {example}，实为 {_shown(targets)}")
        roles: list[str] = []
        for role in targets:
            try:
                roles.append(parse_role(role).value)
            except OrgError as exc:
                raise check.fail(f"{where}.to", str(exc)) from None
        extra = spec.get("posts", [])
        if not isinstance(extra, list):
            raise check.fail(f"{where}.posts", f"应为表数组（[[injects.posts]]），实为 {_shown(extra)}")
        for number, post in enumerate(extra):
            place, default_key = f"{where}.posts[{number}]", f"{key}-p{number + 1}"
            posts.append(_post(check, post, place, default_key, at, key, keys))
        injects.append(Inject(key, at, kind, text, tuple(roles)))
    return injects


def _subjects(check: _Checker, raw: dict[str, Any], injects: list[Inject]) -> tuple[Subject, ...]:
    subjects: list[Subject] = []
    for index, item in enumerate(check.array(raw, "subjects")):
        where = f"subjects[{index}]"
        spec = check.table(item, where, _SUBJECT)
        name = check.text(spec, "name", where, required=True)
        if not name:
            raise check.fail(f"{where}.name", "不能为空")
        if any(s.name == name for s in subjects):
            raise check.fail(f"{where}.name", f"与前面的科目重复：{name!r}")
        done_when = check.choice(spec, "done_when", where, DONE_WHEN, None)
        start = check.text(spec, "start", where) or DETECTION
        if start != DETECTION and not any(i.key == start for i in injects):
            known = "、".join([DETECTION, *(i.key for i in injects)])
            problem = f"应为 detection 或某个情景注入的 id，实为 {start!r}（可选：{known}）"
            raise check.fail(f"{where}.start", problem)
        limit = check.number(spec, "limit_minutes", where, default=120.0, strict=True, unit="（分钟）")
        weight = check.number(spec, "weight", where, default=1.0, strict=True)
        subjects.append(Subject(name, done_when, limit, start, weight))
    return tuple(subjects)


def _expect(check: _Checker, raw: dict[str, Any]) -> Expectations:
    spec = check.table(raw.get("expect", {}), "expect", _EXPECT)
    grade = check.text(spec, "grade", "expect")
    if grade:
        code = grade.upper() if grade.upper() in GRADE_ORDER else _grade_code(grade)
        if code is None:
            allowed = "I、II、III、IV 或 特别重大、重大、较大、一般"
            raise check.fail("expect.grade", f"应为 {allowed}，实为 {grade!r}")
        grade = code
    category = check.text(spec, "category", "expect")
    if category:
        try:
            category = category_name(category)
        except ValueError as exc:
            raise check.fail("expect.category", str(exc)) from None
    return Expectations(
        grade or None,
        category or None,
        bool(check.flag(spec, "released", "expect", True)),
        check.text(spec, "topic_hint", "expect") or None,
    )


class _AnyKeys(dict[str, str]):
    """Any key is known (the `source` table is free-form provenance)."""

    def __contains__(self, key: object) -> bool:
        return True


def _grade_code(name: str) -> str | None:
    return next((code for code, label in GRADE_NAMES.items() if label == name), None)


def _post(
    check: _Checker,
    item: Any,
    where: str,
    default_key: str,
    default_at: float | None,
    inject: str | None,
    keys: set[str],
) -> ScenarioPost:
    spec = check.table(item, where, _POST)
    key = check.text(spec, "id", where) or default_key
    if key in keys:
        raise check.fail(f"{where}.id", f"与前面的信息重复：{key!r}")
    keys.add(key)
    at = check.number(spec, "at", where, default=default_at, unit="（秒）")
    kind = check.choice(spec, "kind", where, _KINDS, "original")
    text = check.text(spec, "text", where, required=True) or ""
    if not text and kind == "original":
        raise check.fail(f"{where}.text", "原帖的正文不能为空")
    site = check.text(spec, "site", where)
    if site and ("/" in site or " " in site or "." not in site):
        raise check.fail(f"{where}.site", f"应为网站域名，如 weibo.com，实为 {site!r}")
    tier = spec.get("media_tier")
    return ScenarioPost(
        key=key,
        at=at,
        text=text,
        platform=check.choice(spec, "platform", where, _PLATFORMS, Platform.WEIBO.value),
        kind=kind,
        site=site or None,
        title=check.text(spec, "title", where) or None,
        author=check.text(spec, "author", where) or None,
        followers=check.count(spec, "followers", where),
        verified=check.flag(spec, "verified", where, None),
        author_kind=(
            check.choice(spec, "author_kind", where, AUTHOR_KIND_LABELS, None)
            if spec.get("author_kind") is not None
            else None
        ),
        location=check.text(spec, "location", where) or None,
        parent=check.text(spec, "parent", where) or None,
        root=check.text(spec, "root", where) or None,
        views=check.count(spec, "views", where),
        reposts=check.count(spec, "reposts", where),
        comments=check.count(spec, "comments", where),
        likes=check.count(spec, "likes", where),
        media_tier=check.choice(spec, "media_tier", where, _TIERS, "other") if tier is not None else None,
        inject=inject,
    )


def _with_roots(check: _Checker, posts: list[ScenarioPost]) -> list[ScenarioPost]:
    """Each post with its root: the original it belongs to (its own key for an original), found
    through `parent` links, else the first original of the scenario."""
    by_key = {p.key: p for p in posts}
    originals = sorted((p for p in posts if p.kind == "original"), key=lambda p: p.at)
    first = originals[0].key if originals else posts[0].key
    out: list[ScenarioPost] = []
    for index, post in enumerate(posts):
        for name in ("parent", "root"):
            target = getattr(post, name)
            if target is not None and target not in by_key:
                raise check.fail(f"posts[{index}].{name}", f"指向不存在的信息 {target!r}")
        root = post.root
        if root is None:
            node, seen = post, {post.key}
            while node.parent is not None and node.parent not in seen:
                seen.add(node.parent)
                node = by_key[node.parent]
            root = node.key if node.kind == "original" else first
        out.append(replace(post, root=root))
    return out


def load_scenario(ref: str | Path) -> tuple[Scenario, str]:
    """A scenario from a file path or a shipped scenario's file name or name; and the reference
    it is recorded under (the shipped file's stem, or the path as given)."""
    path = Path(ref)
    shipped = shipped_scenarios()
    if path.is_file():
        found, label = path, str(path)
    elif str(ref) in shipped:
        found, label = shipped[str(ref)], str(ref)
    else:
        by_name = {_peek_name(p): stem for stem, p in shipped.items()}
        stem = by_name.get(str(ref))
        if stem is None:
            names = "、".join(shipped) or "（无）"
            raise ScenarioError(f"找不到场景 {str(ref)!r}：既不是文件，也不是内置场景（内置场景：{names}）")
        found, label = shipped[stem], stem
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"场景 {label}：不是合法的 TOML：{toml_error(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"场景 {label}：无法读取：{exc}") from None
    return parse_scenario(data, label), label


def shipped_scenarios() -> dict[str, Path]:
    """The shipped library: file stem → path."""
    return {p.stem: p for p in sorted(SCENARIOS_DIR.glob("*.toml"))}


def _peek_name(path: Path) -> str:
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    return value if isinstance(value, str) else ""
