"""The response rules of the plan profile: deadlines, approvals, escalation, categories, calm rule.

They live in the same TOML file as the grades (PRODUCT.md §2.3–2.5), in a `[response]` section;
every key has the default of PRODUCT.md, so a profile without the section still works. Durations
are written the way the plan states them:

- `"1h"`, `"24h"`, `"30m"`: calendar time — nights and holidays count;
- `"3wh"`: working hours — only working hours of working days count;
- `"5wd"`: working days — due at the end of the working day that many working days later;
- `"swd"`: the same working day (the next one when it is already over).

The profile file in force can be replaced from the console (`save_profile`): the text is checked
by the same loaders first, and written where it takes effect (see `active_profile`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from yuqing.analysis import grading
from yuqing.analysis.grading import GRADE_ORDER, PROFILES_DIR, ProfileError, load_profile

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "ActiveProfile",
    "DeadlineKind",
    "Duration",
    "EscalationStep",
    "ResponsePlan",
    "active_profile",
    "discard_console_profile",
    "forget_loaded_profiles",
    "load_plan",
    "parse_duration",
    "save_profile",
]

# PRODUCT.md §2.5: category → the measures the plan suggests.
CATEGORIES: dict[str, str] = {
    "询问/质疑/诉求": "当日尽量答复，5 个工作日内出具正式答复意见",
    "属实批评": "正视问题，诚恳道歉，公布处理结果",
    "恶意传播/炒作": "澄清事实；持续炒作的，移交有关部门",
    "捏造/歪曲/谣言/诽谤": "发布事实真相，要求平台删除，移交公安机关",
    "建设性建议": "吸收采纳并回复",
}
CATEGORY_ALIASES: dict[str, str] = {
    "inquiry": "询问/质疑/诉求",
    "criticism": "属实批评",
    "hype": "恶意传播/炒作",
    "rumour": "捏造/歪曲/谣言/诽谤",
    "rumor": "捏造/歪曲/谣言/诽谤",
    "suggestion": "建设性建议",
}
# PRODUCT.md §2.5 response channels.
CHANNELS: tuple[str, ...] = ("新闻通稿", "官方微博/微信", "新闻发布会", "跟帖回应", "专家解读", "媒体采访")


class DeadlineKind:
    """The clocks of PRODUCT.md §2.3, with their Chinese names."""

    REPORT = "report"
    FIRST_RESPONSE = "first_response"
    RELEASE = "release"
    PRESS_CONFERENCE = "press_conference"
    FORMAL_REPLY = "formal_reply"
    TASK = "task"

    LABELS: ClassVar[dict[str, str]] = {
        "report": "向上级报告",
        "first_response": "初步回应",
        "release": "发布权威信息",
        "press_conference": "召开新闻发布会",
        "formal_reply": "出具答复意见",
        "task": "部门任务",
    }


# The clocks an extension may move (PRODUCT.md §2.3: once, with a written reason, up to 10 working
# days in all): the formal reply's. Reporting up, the first response and the releases keep theirs.
EXTENDABLE = frozenset({DeadlineKind.FORMAL_REPLY})

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|wh|wd)\s*$")


@dataclass(frozen=True)
class Duration:
    """An amount of time in one of the plan's units: `m`/`h` calendar, `wh` working hours,
    `wd` working days, `swd` the same working day."""

    amount: float
    unit: str

    def __str__(self) -> str:
        labels = {"m": "分钟", "h": "小时", "wh": "个工作小时", "wd": "个工作日"}
        if self.unit == "swd":
            return "同一工作日内"
        return f"{self.amount:g} {labels[self.unit]}"


def parse_duration(text: str, where: str = "duration") -> Duration:
    if text.strip() == "swd":
        return Duration(0.0, "swd")
    match = _DURATION.match(text)
    if not match:
        raise ProfileError(f"{where}：无法识别的时限 {text!r}（应如 1h、30m、3wh、5wd 或 swd）")
    return Duration(float(match.group(1)), match.group(2))


def rule_text(rule: str) -> str:
    """A stored clock rule (`1h`, `3wh`, `5wd`, `swd`) as the office reads it: 「1 小时」,
    「3 个工作小时」. A rule this version cannot read is shown as stored."""
    try:
        return str(parse_duration(rule))
    except ProfileError:
        return rule


@dataclass(frozen=True)
class EscalationStep:
    """Who is told at one level of an escalation, and how long to wait before the next level."""

    role: str
    wait_minutes: float

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.role, "wait_minutes": self.wait_minutes}


@dataclass(frozen=True)
class ResponsePlan:
    # deadline kind → grade code → duration; a missing grade means the clock does not run.
    deadlines: dict[str, dict[str, Duration]]
    approvals: dict[str, tuple[str, ...]]  # grade code → roles that must approve a release
    escalation: tuple[EscalationStep, ...]
    due_soon_minutes: float
    max_extension: Duration
    calm_quiet_hours: float
    calm_daily_posts: int
    flare_up_posts: int
    twenty_four_hour_duty: tuple[str, ...]  # grade codes that switch on 24-hour duty
    # Whether 管理员 may approve statements in any role. Off by default: the plan means leaders
    # approving, each approval a different person; the administrator manages the system.
    administrator_approves: bool = False
    # Who settles a formal reply (答复意见) before it is given: 经本单位负责人审定后答复 (seeds 000,
    # 003). Empty: the office gives it alone.
    reply_approvers: tuple[str, ...] = ("deputy_leader", "chief")
    # Grades reported up by telephone as well as in writing, the call logged on the case
    # (「同时电话报告」, PRODUCT.md §2.4: 重大 and 特别重大).
    phone_report: tuple[str, ...] = ("I", "II")
    # 舆情反复 is renewed growth, not the spread the office saw when it left 处置: the new posts must
    # also come this many times faster per hour than in the event's active hours before.
    flare_up_rate: float = 2.0

    def duration(self, kind: str, grade_code: str | None) -> Duration | None:
        by_grade = self.deadlines.get(kind, {})
        return by_grade.get(grade_code or "IV") or by_grade.get("*")

    def required_approvals(self, grade_code: str | None) -> tuple[str, ...]:
        return self.approvals.get(grade_code or "IV", self.approvals.get("IV", ()))


DEFAULTS: dict[str, Any] = {
    "deadlines": {
        "report": {"I": "1h", "II": "2h", "III": "4h", "IV": "swd"},
        "first_response": {"*": "3wh"},
        "release": {"I": "5h", "II": "5h", "III": "48h", "IV": "48h"},
        "press_conference": {"I": "24h", "II": "24h"},
        "formal_reply": {"*": "5wd"},
    },
    "approvals": {
        "IV": ["deputy_leader"],
        "III": ["deputy_leader"],
        "II": ["chief", "leading_group"],
        "I": ["chief", "leading_group"],
    },
    "escalation": [
        {"role": "duty_officer", "wait_minutes": 15},
        {"role": "office", "wait_minutes": 30},
        {"role": "deputy_leader", "wait_minutes": 30},
        {"role": "chief", "wait_minutes": 60},
    ],
    "due_soon_minutes": 30,
    "max_extension": "10wd",
    "calm": {"quiet_hours": 24, "daily_posts": 10},
    "flare_up_posts": 20,
    "flare_up_rate": 2.0,
    "twenty_four_hour_duty": ["I", "II"],
    "administrator_approves": False,
    "reply_approvers": ["deputy_leader", "chief"],
    "phone_report": ["I", "II"],
}
ROLES = ("monitor", "office", "deputy_leader", "chief", "leading_group", "liaison", "duty_officer", "admin")


def load_plan(path: str | Path | None = None) -> ResponsePlan:
    """The response rules of the profile at `path` (the configured one by default), validated."""
    profile = load_profile(path)
    return _load(profile.source)


@lru_cache(maxsize=8)
def _load(path: str) -> ResponsePlan:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    section = data.get("response", {})
    if not isinstance(section, dict):
        raise ProfileError(f"{path}：[response] 应为表")
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise ProfileError(
            f"{path} response 中有未知的键 {unknown[0]!r}（可用：{'、'.join(sorted(DEFAULTS))}）"
        )
    merged = {**DEFAULTS, **section}
    where = f"{path} response"
    deadlines: dict[str, dict[str, Duration]] = {}
    raw_deadlines = {**DEFAULTS["deadlines"], **(merged.get("deadlines") or {})}
    for kind, by_grade in raw_deadlines.items():
        if kind not in DeadlineKind.LABELS:
            raise ProfileError(f"{where}.deadlines.{kind}：未知的时限类型")
        if isinstance(by_grade, str):
            by_grade = {"*": by_grade}
        if not isinstance(by_grade, dict):
            raise ProfileError(f"{where}.deadlines.{kind} 应为表或时限")
        parsed: dict[str, Duration] = {}
        for code, text in by_grade.items():
            if code != "*" and code not in GRADE_ORDER:
                raise ProfileError(f"{where}.deadlines.{kind}.{code}：等级代码应为 I、II、III、IV 或 *")
            parsed[code] = parse_duration(str(text), f"{where}.deadlines.{kind}.{code}")
        deadlines[kind] = parsed
    approvals: dict[str, tuple[str, ...]] = {}
    for code, roles in (merged.get("approvals") or {}).items():
        if code not in GRADE_ORDER:
            raise ProfileError(f"{where}.approvals.{code}：等级代码应为 I、II、III 或 IV")
        for role in roles:
            if role not in ROLES:
                raise ProfileError(f"{where}.approvals.{code}：未知角色 {role!r}")
        approvals[code] = tuple(roles)
    steps: list[EscalationStep] = []
    for index, step in enumerate(merged.get("escalation") or []):
        role = step.get("role") if isinstance(step, dict) else None
        if role not in ROLES:
            raise ProfileError(f"{where}.escalation[{index}].role：未知角色 {role!r}")
        steps.append(EscalationStep(str(role), float(step.get("wait_minutes", 30))))
    if not steps:
        raise ProfileError(f"{where}.escalation 不能为空")
    calm = merged.get("calm") or {}
    max_extension = parse_duration(str(merged["max_extension"]), f"{where}.max_extension")
    if max_extension.unit != "wd":
        raise ProfileError(f"{where}.max_extension 应以工作日计，如 10wd")
    administrator_approves = merged["administrator_approves"]
    if not isinstance(administrator_approves, bool):
        raise ProfileError(f"{where}.administrator_approves 应为 true 或 false")
    reply_approvers = merged["reply_approvers"]
    if not isinstance(reply_approvers, list) or not all(isinstance(r, str) for r in reply_approvers):
        raise ProfileError(f'{where}.reply_approvers 应为角色列表，如 ["deputy_leader", "chief"]')
    for role in reply_approvers:
        if role not in ROLES or role in ("admin", "monitor", "duty_officer", "liaison"):
            raise ProfileError(
                f"{where}.reply_approvers：角色 {role!r} 不能审定答复意见"
                "（可用：office、deputy_leader、chief、leading_group）"
            )
    phone_report = merged["phone_report"]
    if not isinstance(phone_report, list) or any(code not in GRADE_ORDER for code in phone_report):
        raise ProfileError(f'{where}.phone_report 应为等级代码列表，如 ["I", "II"]')
    try:
        flare_up_rate = float(merged["flare_up_rate"])
    except (TypeError, ValueError):
        flare_up_rate = -1.0
    if not flare_up_rate >= 1:
        raise ProfileError(f"{where}.flare_up_rate 应为不小于 1 的数，如 2")
    return ResponsePlan(
        deadlines=deadlines,
        approvals=approvals,
        escalation=tuple(steps),
        due_soon_minutes=float(merged["due_soon_minutes"]),
        max_extension=max_extension,
        calm_quiet_hours=float(calm.get("quiet_hours", 24)),
        calm_daily_posts=int(calm.get("daily_posts", 10)),
        flare_up_posts=int(merged["flare_up_posts"]),
        twenty_four_hour_duty=tuple(str(c) for c in merged["twenty_four_hour_duty"]),
        administrator_approves=administrator_approves,
        reply_approvers=tuple(reply_approvers),
        phone_report=tuple(str(code) for code in phone_report),
        flare_up_rate=flare_up_rate,
    )


def category_name(value: str) -> str:
    """A category by its Chinese name, a leading part of it (询问, 谣言) or its English alias."""
    if value in CATEGORIES:
        return value
    if value.lower() in CATEGORY_ALIASES:
        return CATEGORY_ALIASES[value.lower()]
    matches = [name for name in CATEGORIES if (value and value in name.split("/")) or name.startswith(value)]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"未知的舆情类别 {value!r}；可选：{'、'.join(CATEGORIES)}")


# ---- the profile in force, and saving an edited one ---------------------------------------------

ProfileOrigin = Literal["configured", "console", "shipped"]


@dataclass(frozen=True)
class ActiveProfile:
    """The profile file in force and where an edit of it would be saved.

    `origin`: `configured` (a file of the administrator's, named by the `plan_profile` setting),
    `console` (saved from the console, used when nothing is configured) or `shipped` (one of the
    profiles that come with yuqing). `save_to` is None when an edit cannot take effect from the
    console, and `locked` then says why and what to do. `error` is set when the file in force does
    not load (it can still be replaced by a valid one)."""

    path: Path
    origin: ProfileOrigin
    name: str
    text: str
    sha256: str
    save_to: Path | None
    locked: str | None = None
    error: str | None = None


def forget_loaded_profiles() -> None:
    """Drop the parsed profiles this process keeps, so the next use reads the files again."""
    grading._load.cache_clear()
    _load.cache_clear()


def _where(configured: str) -> tuple[Path, ProfileOrigin, Path | None, str | None]:
    """The file in force for the `plan_profile` setting, its origin, where a save goes, and why
    it cannot be saved here (when it cannot)."""
    path = grading.profile_path(configured or None)
    console = grading.console_profile_path().resolve()
    named = configured or os.environ.get("YUQING_PLAN_PROFILE", "")
    if path == console:
        return path, "console", console, None
    if path.parent == PROFILES_DIR.resolve():
        if not named:
            return path, "shipped", console, None
        locked = (
            f"设置 plan_profile 指定了随软件提供的预案 {path.name}，不能在此修改：请将 plan_profile 留空"
            f"（在此保存的预案存于 {console}，未设置 plan_profile 时使用），或将其指向一份可写的副本"
        )
        return path, "shipped", None, locked
    return path, "configured", path, None


def active_profile(configured: str = "") -> ActiveProfile:
    """The profile `load_plan(configured or None)` uses, with its text; `configured` is the
    `plan_profile` setting."""
    path, origin, save_to, locked = _where(configured)
    error: str | None = None
    try:
        data = path.read_bytes()
    except OSError as exc:
        data, error = b"", f"无法读取预案文件 {path}：{exc.strerror or exc}"
    name = path.stem
    if error is None:
        try:
            name = load_profile(path).name
            load_plan(path)
        except ProfileError as exc:
            error = str(exc)
    return ActiveProfile(
        path=path,
        origin=origin,
        name=name,
        text=data.decode("utf-8", "replace"),
        sha256=hashlib.sha256(data).hexdigest(),
        save_to=save_to,
        locked=locked,
        error=error,
    )


def save_profile(text: str, configured: str = "") -> ActiveProfile:
    """Validate a profile's text with the loaders (grades and `[response]`) and, when it is valid,
    write it where the profile in force is kept (`active_profile(...).save_to`), replacing the file
    in one step; the parsed profiles are forgotten so the next use reads it. ProfileError names the
    bad key and nothing is written."""
    _path, _origin, target, locked = _where(configured)
    if target is None:
        raise ProfileError(locked or "当前预案不能在此修改")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(prefix=".plan_profile-", suffix=".toml", dir=target.parent)
    except OSError as exc:
        raise ProfileError(f"无法写入预案文件 {target}：{exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        try:
            load_profile(scratch)
            load_plan(scratch)
        except ProfileError as exc:
            # The messages name the file checked: name the one being edited instead.
            raise ProfileError(str(exc).replace(str(Path(scratch).resolve()), str(target))) from None
        if target.exists():
            shutil.copymode(target, scratch)
        else:
            os.chmod(scratch, 0o644)
        os.replace(scratch, target)
    except OSError as exc:
        raise ProfileError(f"无法写入预案文件 {target}：{exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
        forget_loaded_profiles()
    return active_profile(configured)


def discard_console_profile() -> bool:
    """Delete the profile saved from the console (the configured or shipped one applies again);
    False when there was none."""
    try:
        grading.console_profile_path().unlink()
    except FileNotFoundError:
        return False
    finally:
        forget_loaded_profiles()
    return True
