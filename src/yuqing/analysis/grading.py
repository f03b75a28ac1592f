"""Grading events by the plan's profile, with the reasons a leader will ask for.

A profile (TOML, see `profiles/default.toml`) lists grades from the most serious down, each with
a condition over event metrics and flags. The first grade whose condition holds is the event's
grade, and every leaf condition that held is a reason, with the measured value. A grade never
drops by itself: `regrade` keeps the higher of the stored and the computed grade.

A flag condition (casualties, a threat to public safety, …) holds on evidence, never on one word
in one post: enough of the event's incident posts state it (`min_posts`, and `min_share` of the
event's posts that report an incident), or a mainstream outlet or an account verified as a
government body or a medium reports it (`min_mainstream`; a verified individual or brand does
not count). The profile's `[evidence]` table sets the defaults; each flag condition may override
them. The reason names the flag, the counts, and the posts that carry it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from yuqing.analysis.metrics import FLAG_LABELS, METRIC_LABELS, OPTIONAL_METRICS, REBUTTAL
from yuqing.settings import config_path
from yuqing.tomltext import toml_error

PROFILES_DIR = Path(__file__).parent / "profiles"
DEFAULT_PROFILE = PROFILES_DIR / "default.toml"
# The profile an administrator saved in the console (设置), used when no profile is configured.
CONSOLE_PROFILE_NAME = "plan_profile.toml"
GRADE_ORDER = {"IV": 1, "III": 2, "II": 3, "I": 4}
# How a reason reads to an office: 「单日转发量 685（超过 500）」, not 「685 > 500」.
_OP_WORDS = {">": "超过", ">=": "不低于", "<": "低于", "<=": "不超过", "==": "等于"}
_OPS = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__, "==": float.__eq__}


class ProfileError(ValueError):
    """A plan profile that cannot be used; the message names the file and the bad key."""


@dataclass(frozen=True)
class Evidence:
    """How much support a flag needs: `min_posts` supporting posts that are also `min_share` of
    the event's incident posts, or `min_mainstream` supporting posts from a mainstream outlet
    (central, provincial or city media) or an account verified as a government body or a medium
    (`metrics.PostFacts.mainstream`; 0: that route is off)."""

    min_posts: int = 2
    min_share: float = 0.3
    min_mainstream: int = 1


@dataclass(frozen=True)
class Condition:
    kind: str  # "metric", "flag", "any", "all"
    metric: str = ""
    op: str = ""
    value: float = 0.0
    children: tuple[Condition, ...] = ()
    evidence: Evidence = Evidence()


@dataclass(frozen=True)
class GradeRule:
    code: str
    name: str
    colour: str
    when: Condition


@dataclass(frozen=True)
class Profile:
    name: str
    grades: tuple[GradeRule, ...]
    source: str
    evidence: Evidence = Evidence()

    def rule(self, code: str) -> GradeRule | None:
        return next((g for g in self.grades if g.code == code), None)


@dataclass(frozen=True)
class Reason:
    """One condition that held: what was measured and the threshold it crossed."""

    key: str
    text: str
    value: float | None = None
    threshold: float | None = None
    posts: tuple[int, ...] = ()  # the posts that carry a flag

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "text": self.text,
            "value": self.value,
            "threshold": self.threshold,
        }
        if self.posts:
            out["posts"] = list(self.posts)
        return out


@dataclass(frozen=True)
class Grade:
    code: str
    name: str
    colour: str
    reasons: tuple[Reason, ...]


def console_profile_path() -> Path:
    """Where the console saves a profile an administrator edited: `plan_profile.toml` beside the
    settings file (the working directory unless YUQING_CONFIG names another place)."""
    return config_path().parent / CONSOLE_PROFILE_NAME


def profile_path(path: Path | str | None = None) -> Path:
    """The profile file `load_profile(path)` reads: `path`, else YUQING_PLAN_PROFILE, else the one
    saved from the console (when there is one), else the shipped default."""
    console = console_profile_path()
    fallback = console if console.is_file() else DEFAULT_PROFILE
    chosen = Path(path or os.environ.get("YUQING_PLAN_PROFILE") or fallback)
    if not chosen.suffix and (PROFILES_DIR / f"{chosen.name}.toml").is_file():
        chosen = PROFILES_DIR / f"{chosen.name}.toml"  # a shipped profile named by its name
    return chosen.resolve()


def load_profile(path: Path | str | None = None) -> Profile:
    """The profile of `profile_path(path)`, validated; read again when the file has changed."""
    chosen = profile_path(path)
    try:
        stamp = chosen.stat().st_mtime_ns
    except OSError:
        stamp = 0  # missing: _load says so
    return _load(str(chosen), stamp)


@lru_cache(maxsize=8)
def _load(path: str, stamp: int = 0) -> Profile:
    """Parse and validate one profile file; `stamp` (its modification time) keys the cache."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"找不到预案配置文件 {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"预案配置文件 {path} 不是合法的 TOML：{toml_error(exc)}") from exc
    # a misspelt key (`[respons]`, `min_postz`) would be ignored silently, and the office would
    # believe a rule in force that is not
    _known_keys(data, {"name", "description", "grades", "evidence", "response"}, f"预案配置文件 {path}")
    if isinstance(data.get("evidence"), dict):
        _known_keys(data["evidence"], set(_EVIDENCE_KEYS), f"{path} evidence")
    evidence = _evidence(data.get("evidence", {}), f"{path} evidence", Evidence())
    grades = data.get("grades")
    if not isinstance(grades, list) or not grades:
        raise ProfileError(f"预案配置文件 {path} 缺少 [[grades]]")
    parsed: list[GradeRule] = []
    for index, grade in enumerate(grades):
        where = f"{path} grades[{index}]"
        if not isinstance(grade, dict):
            raise ProfileError(f"{where} 应为表")
        _known_keys(grade, {"code", "name", "colour", "when"}, where)
        code = grade.get("code")
        if code not in GRADE_ORDER:
            raise ProfileError(f"{where}.code 应为 I、II、III 或 IV，实为 {code!r}")
        for key in ("name", "when"):
            if key not in grade:
                raise ProfileError(f"{where} 缺少 {key}")
        parsed.append(
            GradeRule(
                code,
                str(grade["name"]),
                str(grade.get("colour", "")),
                _condition(grade["when"], f"{where}.when", evidence),
            )
        )
    codes = [g.code for g in parsed]
    if len(set(codes)) != len(codes):
        raise ProfileError(f"预案配置文件 {path} 中有重复的等级代码")
    parsed.sort(key=lambda g: -GRADE_ORDER[g.code])
    return Profile(str(data.get("name", Path(path).stem)), tuple(parsed), path, evidence)


_EVIDENCE_KEYS = {"min_posts": int, "min_share": float, "min_mainstream": int}


def _known_keys(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ProfileError(f"{where} 中有未知的键 {unknown[0]!r}（可用：{'、'.join(sorted(known))}）")


def _evidence(spec: Any, where: str, base: Evidence) -> Evidence:
    """Evidence requirements from a table (or a flag condition), over `base`."""
    if not isinstance(spec, dict):
        raise ProfileError(f"{where} 应为表（min_posts、min_share、min_mainstream）")
    values: dict[str, Any] = {
        "min_posts": base.min_posts,
        "min_share": base.min_share,
        "min_mainstream": base.min_mainstream,
    }
    for key, kind in _EVIDENCE_KEYS.items():
        if key not in spec:
            continue
        value = spec[key]
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ProfileError(f"{where}.{key} 应为不小于 0 的数字，实为 {value!r}")
        if kind is int and value != int(value):
            raise ProfileError(f"{where}.{key} 应为整数，实为 {value!r}")
        if key == "min_share" and value > 1:
            raise ProfileError(f"{where}.{key} 应在 0 到 1 之间，实为 {value!r}")
        values[key] = kind(value)
    return Evidence(**values)


def _condition(spec: Any, where: str, evidence: Evidence = Evidence()) -> Condition:
    if not isinstance(spec, dict):
        raise ProfileError(f"{where} 应为条件表")
    if "any" in spec or "all" in spec:
        kind = "any" if "any" in spec else "all"
        items = spec[kind]
        if not isinstance(items, list) or not items:
            raise ProfileError(f"{where}.{kind} 应为非空列表")
        return Condition(
            kind,
            children=tuple(_condition(c, f"{where}.{kind}[{i}]", evidence) for i, c in enumerate(items)),
        )
    if "flag" in spec:
        flag = spec["flag"]
        if flag not in FLAG_LABELS:
            raise ProfileError(f"{where}.flag 未知：{flag!r}（可用：{', '.join(FLAG_LABELS)}）")
        unknown = sorted(set(spec) - {"flag", *_EVIDENCE_KEYS})
        if unknown:
            raise ProfileError(f"{where}.{unknown[0]} 未知（可用：flag、{'、'.join(_EVIDENCE_KEYS)}）")
        return Condition("flag", metric=flag, evidence=_evidence(spec, where, evidence))
    metric, op, value = spec.get("metric"), spec.get("op"), spec.get("value")
    if metric not in METRIC_LABELS:
        raise ProfileError(f"{where}.metric 未知：{metric!r}（可用：{', '.join(METRIC_LABELS)}）")
    if op not in _OPS:
        raise ProfileError(f"{where}.op 应为 {'、'.join(_OPS)} 之一，实为 {op!r}")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ProfileError(f"{where}.value 应为数字，实为 {value!r}")
    return Condition("metric", metric=str(metric), op=str(op), value=float(value))


def _holds(
    condition: Condition,
    values: Mapping[str, float],
    evidence: Mapping[str, Mapping[str, Any]],
    out: list[Reason],
) -> bool:
    if condition.kind == "metric":
        if condition.metric in OPTIONAL_METRICS and condition.metric not in values:
            return False  # not on any hot list: no rank to compare
        measured = float(values.get(condition.metric, 0.0))
        if _OPS[condition.op](measured, condition.value):
            label = METRIC_LABELS[condition.metric]
            shown = f"{measured:.0%}" if condition.metric.endswith("_share") else f"{measured:,.0f}"
            limit = (
                f"{condition.value:.0%}" if condition.metric.endswith("_share") else f"{condition.value:,.0f}"
            )
            out.append(
                Reason(
                    condition.metric,
                    f"{label} {shown}（{_OP_WORDS[condition.op]} {limit}）",
                    measured,
                    condition.value,
                )
            )
            return True
        return False
    if condition.kind == "flag":
        if condition.metric in REBUTTED_FLAGS and _official_rebuttal(evidence) is not None:
            return False  # an outlet or an official account said it did not happen
        reason = _flag_reason(condition, evidence.get(condition.metric))
        if reason is None:
            return False
        out.append(reason)
        return True
    found: list[Reason] = []
    results = [_holds(child, values, evidence, found) for child in condition.children]
    held = any(results) if condition.kind == "any" else all(results)
    if held:
        out.extend(found)
    return held


# Flags of an occurrence's claims: an official rebuttal in the event (a mainstream outlet, or a
# government body's or medium's verified account: 「@永康发布：经查证，永康市中医院未发生此事」)
# takes them off; a rebuttal by anyone else (「假的吧」) does not. The grade is then that of the
# spread, and its reasons name the rebuttal. A grade given before the rebuttal is not lowered by
# itself: whoever handles the case regrades it (the alert and case keep their history).
REBUTTED_FLAGS = frozenset({"casualties", "public_safety"})


def _official_rebuttal(evidence: Mapping[str, Mapping[str, Any]]) -> Reason | None:
    support = evidence.get(REBUTTAL)
    if not support or int(support.get("mainstream", 0)) < 1:
        return None
    posts, mainstream = int(support.get("posts", 0)), int(support["mainstream"])
    ids = tuple(int(i) for i in support.get("post_ids", ()))
    text = (
        f"已有官方辟谣：{mainstream} 条主流媒体或政务、媒体账号的信息（或转发其原话）称事件不实"
        f"（共 {posts} 条辟谣信息），"
        "不按伤亡或公共安全定级"
    )
    return Reason(REBUTTAL, text, float(mainstream), 1.0, ids)


def official_rebuttal(
    metrics: Mapping[str, Any], reasons: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The event's official rebuttal (a mainstream outlet's, or a government body's or medium's
    verified account's, post saying it did not happen) that its grade reasons do not already name,
    for the event and case pages: whoever judges the category (谣言?) and the grade reads it. None
    without one."""
    support = (metrics.get("evidence") or {}).get(REBUTTAL)
    if not support or int(support.get("mainstream", 0)) < 1:
        return None
    if REBUTTAL in {str(r.get("key")) for r in reasons}:
        return None
    return {
        "posts": int(support.get("posts", 0)),
        "mainstream": int(support["mainstream"]),
        "post_ids": [int(i) for i in support.get("post_ids", ())],
    }


def rebutted_after_grading(
    metrics: Mapping[str, Any], reasons: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The official rebuttal that arrived after the event was graded on claimed deaths or a threat
    to the public: its grade still leans on them (a grade never drops by itself), so the event and
    case pages ask whoever handles it to judge the grade again. None otherwise."""
    found = official_rebuttal(metrics, reasons)
    if found is None or not {str(r.get("key")) for r in reasons} & {f"flag:{f}" for f in REBUTTED_FLAGS}:
        return None
    return found


def _flag_reason(condition: Condition, support: Mapping[str, Any] | None) -> Reason | None:
    """The reason a flag condition holds on the event's evidence, or None."""
    if not support:
        return None
    need = condition.evidence
    posts = int(support.get("posts", 0))
    share = float(support.get("share", 1.0))
    mainstream = int(support.get("mainstream", 0))
    by_mainstream = need.min_mainstream > 0 and mainstream >= need.min_mainstream
    by_posts = posts >= max(need.min_posts, 1) and share >= need.min_share
    if not (by_posts or by_mainstream):
        return None
    label = FLAG_LABELS[condition.metric]
    text = f"涉及{label}：{posts} 条信息报道"
    if "share" in support:
        text += f"（占报道事件信息的 {share:.0%}）"
    if mainstream:
        text += f"，其中主流媒体或政务、媒体账号 {mainstream} 条"
    ids = tuple(int(i) for i in support.get("post_ids", ()))
    return Reason(f"flag:{condition.metric}", text, float(posts), float(need.min_posts), ids)


def grade(
    profile: Profile,
    values: Mapping[str, float],
    flags: Mapping[str, int] | None = None,
    evidence: Mapping[str, Mapping[str, Any]] | None = None,
) -> Grade | None:
    """The most serious grade whose condition holds, with its reasons; None if none holds.

    `evidence` is the event's flag evidence (`metrics.EventMetrics.evidence`); bare `flags`
    counts ({flag: supporting posts}) are read as evidence with nothing else known.
    """
    support: dict[str, Mapping[str, Any]] = {k: {"posts": n} for k, n in (flags or {}).items() if n}
    support.update(evidence or {})
    rebuttal = _official_rebuttal(support)
    for rule in profile.grades:
        reasons: list[Reason] = []
        if _holds(rule.when, values, support, reasons):
            if rebuttal is not None:
                reasons.append(rebuttal)
            return Grade(rule.code, rule.name, rule.colour, tuple(reasons))
    return None


def is_upgrade(old_code: str | None, new_code: str | None) -> bool:
    return GRADE_ORDER.get(new_code or "", 0) > GRADE_ORDER.get(old_code or "", 0)
