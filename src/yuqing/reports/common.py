"""What the report builders share: time in the office's zone, units in scope, labels."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.alerts.models import Alert
from yuqing.cases.models import CaseAction, Statement
from yuqing.ingest.models import PLATFORM_NAMES
from yuqing.org.models import Unit
from yuqing.org.service import descendants, find_unit

__all__ = [
    "GRADE_NAMES",
    "PLATFORM_LABELS",
    "SENTIMENT_LABELS",
    "TIER_LABELS",
    "ReportError",
    "actions_of",
    "alerts_between",
    "clip",
    "day_text",
    "local",
    "percent",
    "released_statements",
    "root_unit",
    "time_text",
    "unit_scope",
]

GRADE_NAMES = {"I": "Ⅰ级（特别重大）", "II": "Ⅱ级（重大）", "III": "Ⅲ级（较大）", "IV": "Ⅳ级（一般）"}
# the grade's word alone (特别重大), for a grade named inside parentheses
GRADE_WORDS = {code: name.split("（")[1].rstrip("）") for code, name in GRADE_NAMES.items()}
SENTIMENT_LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
PLATFORM_LABELS = {**PLATFORM_NAMES, "news": "新闻网站"}
TIER_LABELS = {"central": "中央媒体", "provincial": "省级媒体", "city": "市级媒体", "other": "其他"}


class ReportError(ValueError):
    """A report that cannot be made as asked (no such event, a case not yet closed, …)."""


def local(at: dt.datetime, zone: str) -> dt.datetime:
    return at.astimezone(ZoneInfo(zone))


def duration_text(minutes: float) -> str:
    """「45分钟」, 「3.5小时」, 「12.0天」."""
    if minutes < 60:
        return f"{minutes:.0f}分钟"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f}小时"
    return f"{hours / 24:.1f}天"


def time_text(at: dt.datetime | None, zone: str, *, year: bool = True) -> str:
    """`2026年11月20日 08:05` (or `11月20日 08:05`); "—" for no time."""
    if at is None:
        return "—"
    t = local(at, zone)
    head = f"{t.year}年{t.month}月{t.day}日" if year else f"{t.month}月{t.day}日"
    return f"{head} {t:%H:%M}"


def iso_time_text(text: str | None, *, year: bool = True) -> str:
    """A view's ISO time (already local, with its offset) as `time_text` writes it: 「2026年11月22日
    10:15」 (or 「11月22日 10:15」); "—" for nothing."""
    if not text:
        return "—"
    at = dt.datetime.fromisoformat(text)
    head = f"{at.year}年{at.month}月{at.day}日" if year else f"{at.month}月{at.day}日"
    return f"{head} {at:%H:%M}"


def day_text(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def clip(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# A report's title names its event in a phrase, not in a post cut mid-word: the post's headline
# (「【本市10起危害食品安全案件被集中公诉，…】」), else its opening clauses up to `SUBJECT_CHARS`.
SUBJECT_CHARS = 30
# a clause shorter than this (「太可怕了」, 「恭喜镇江的朋友们」) says little of what happened
_SUBJECT_MIN = 10
_HEADLINE = re.compile(r"^\s*【([^【】]{8,60})】")
_LEADING_TAGS = re.compile(
    r"^\s*(?:【[^【】]{0,6}】|#[^#]{0,20}#|\[[^\[\]]{0,6}\]|[@＠][^\s:：@＠]{1,20}[\s:：]|转帖[:：]|转[:：])\s*"
)


def subject(text: str, limit: int = SUBJECT_CHARS) -> str:
    """What a report calls an event or case, from its title post: 「南京鼓楼医院发生医疗事故」,
    「宁波一女子，因付不起孩子昂贵的医药费」, quotes inside it as single quotes (`nested_quotes`)."""
    flat = " ".join((text or "").split())
    headline = _HEADLINE.match(flat)
    if headline:
        flat = headline.group(1)
    else:
        while (bare := _LEADING_TAGS.sub("", flat, count=1)) != flat:
            flat = bare  # 「【悲哀】」, 「#众议#」, 「[泪]」: a mood or a column, not the story
    out = ""
    for piece in _CLAUSES.findall(flat):
        if len(out.rstrip("，。！？；：,!?; ")) >= _SUBJECT_MIN:
            break
        if len(out) + len(piece) > limit:
            if not out:
                out = piece[: limit - 1].rstrip() + "…"
            break
        out += piece
    out = out.rstrip("，。！？；：,!?; ") or clip(flat, limit)
    return nested_quotes(out)


_CLAUSES = re.compile(r"[^，。！？；：,!?;]+[，。！？；：,!?;]?")


def nested_quotes(text: str) -> str:
    """Double quotes inside a quoted title as single quotes: 「"婺源"」 and 「“婺源”」 → 「‘婺源’」."""
    out: list[str] = []
    opening = True
    for char in text:
        if char == '"':
            out.append("‘" if opening else "’")
            opening = not opening
        else:
            out.append({"“": "‘", "”": "’"}.get(char, char))
    return "".join(out)


def root_unit(session: Session) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()
    if unit is None:
        raise ReportError("尚未建立组织机构：请先用 yuqing org add 添加单位")
    return unit


def unit_scope(session: Session, ref: str | int | None) -> tuple[Unit, list[Unit]]:
    """The unit a report is for (default: the top of the tree) and every unit below it."""
    try:
        unit = root_unit(session) if ref is None or ref == "" else find_unit(session, ref)
    except LookupError as exc:
        raise ReportError(str(exc)) from exc
    return unit, [unit, *descendants(session, unit.id)]


def names_and_ids(units: Iterable[Unit]) -> set[str]:
    """How a topic may name its unit: by name or by id."""
    keys: set[str] = set()
    for unit in units:
        keys.update((unit.name, str(unit.id)))
    return keys


def alerts_between(
    session: Session, unit_ids: list[int], start: dt.datetime, end: dt.datetime
) -> list[Alert]:
    """Real (not drill) alerts to these units raised in [start, end), oldest first."""
    return list(
        session.scalars(
            select(Alert)
            .where(
                Alert.unit_id.in_(unit_ids),
                Alert.created_at >= start,
                Alert.created_at < end,
                Alert.is_drill.is_(False),
            )
            .order_by(Alert.created_at, Alert.id)
        )
    )


def actions_of(session: Session, case_ids: list[int], action: str) -> list[CaseAction]:
    """The cases' timeline lines of one kind of action, oldest first."""
    if not case_ids:
        return []
    return list(
        session.scalars(
            select(CaseAction)
            .where(CaseAction.case_id.in_(case_ids), CaseAction.action == action)
            .order_by(CaseAction.at, CaseAction.id)
        )
    )


def released_statements(session: Session, case_ids: list[int]) -> list[Statement]:
    """The cases' statements that went out, in the order they were released."""
    if not case_ids:
        return []
    return list(
        session.scalars(
            select(Statement)
            .where(Statement.case_id.in_(case_ids), Statement.released_at.is_not(None))
            .order_by(Statement.released_at)
        )
    )
