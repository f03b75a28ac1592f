"""Making reports: build the document from stored data, write it in the asked format, archive the
file (every generated report is kept and listed in the console), and the scheduled daily report
sent over the notification channels on working days.

A report belongs to the unit that issues it (`Report.unit_id`; None: the top unit). Read by a
person (`person_id`), the archive shows only the reports of units they may see
(`yuqing.org.scope`); generating one as a person needs a writer's role (`WRITERS`) at the issuing
unit, and a daily or weekly report or a response table without a unit is their own unit's. The
command line without `--as` and the schedule act as the server's operator."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yuqing.background import PeriodicWorker
from yuqing.db import transaction
from yuqing.org.models import PermissionDenied, Person
from yuqing.org.roles import Role
from yuqing.org.scope import EVERYTHING, check_sees, not_found, scope_of
from yuqing.org.service import get_person, get_unit, has_role
from yuqing.reports.common import ReportError, local, root_unit, time_text
from yuqing.reports.document import Document
from yuqing.reports.models import Report
from yuqing.reports.periodic import Period, build_periodic, day_period, unanalysed_posts, week_period
from yuqing.reports.render import FORMATS, MEDIA_TYPES, ReportFormatError, render
from yuqing.runtime import Runtime
from yuqing.workcal.clock import WorkCalendar

__all__ = [
    "KIND_LABELS",
    "WRITERS",
    "DailyReportWorker",
    "Generated",
    "ReportError",
    "generate",
    "get_report",
    "list_reports",
    "report_text",
    "report_view",
    "send_daily_reports",
]

log = logging.getLogger(__name__)

KIND_LABELS = {
    "special": "舆情专报",
    "daily": "日报",
    "weekly": "周报",
    "response_table": "预警响应情况表",
    "summary": "总结评估",
    "drill": "演练总结",
}
# Who may write reports: the people who watch, handle and lead (at the issuing unit or above).
WRITERS: tuple[str, ...] = (
    Role.MONITOR.value,
    Role.OFFICE.value,
    Role.DEPUTY_LEADER.value,
    Role.CHIEF.value,
    Role.LEADING_GROUP.value,
)
# Reports about a period of a unit: without a unit, a person's report is their own unit's.
UNIT_KINDS = frozenset({"daily", "weekly", "response_table"})


@dataclass(frozen=True)
class Generated:
    report: dict[str, Any]
    content: bytes
    document: Document


def _filename(document: Document, fmt: str) -> str:
    safe = re.sub(r"[\\/:*?\"<>|\s]+", "_", document.title).strip("_")[:80]
    return f"{safe}.{fmt}"


_ISSUE_RE = re.compile(r"第(\d+)期")


def _number(
    session: Session,
    kind: str,
    subject_id: int | None,
    year: int,
    zone: str,
    unit_id: int | None,
    *,
    drill: bool = False,
) -> str:
    """`2026年第N期`: the N-th subject the issuing unit reported on in this kind of report this
    year (a re-issue about the same subject keeps its number). Each unit numbers its own: another
    unit's reports neither take its numbers nor show through them. Drills number theirs apart
    (`2026年演练第N期`): an exercise never takes a number of the unit's official series."""
    tz = ZoneInfo(zone)
    start = dt.datetime(year, 1, 1, tzinfo=tz)
    end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
    issuer = Report.unit_id.is_(None) if unit_id is None else Report.unit_id == unit_id
    earlier = session.execute(
        select(Report.subject_id, func.min(Report.number))
        .where(
            Report.kind == kind,
            Report.created_at >= start,
            Report.created_at < end,
            issuer,
            Report.is_drill.is_(drill),
        )
        .group_by(Report.subject_id)
    ).all()
    for subject, number in earlier:
        if subject == subject_id and number:
            return str(number)
    # the next after the highest the unit issued (numbers given before each unit counted its own
    # may run ahead of the count: 第3期 must not come twice)
    used = [int(m.group(1)) for _s, number in earlier if (m := _ISSUE_RE.search(str(number or "")))]
    return f"{year}年{'演练' if drill else ''}第{max([len(earlier), *used]) + 1}期"


def build(
    rt: Runtime,
    kind: str,
    params: dict[str, Any],
    *,
    number: str | None = None,
    person_id: int | None = None,
) -> tuple[Document, Period | None, int | None]:
    """The document for `kind` with `params`, its period and subject. With `person_id` (who asks
    for it), a special report holds only the cases and alerts of units that person sees."""
    from yuqing.reports.response_table import build_response_table
    from yuqing.reports.special import build_special
    from yuqing.reports.summary import build_summary

    zone = rt.settings.timezone
    today = local(rt.clock(), zone).date()
    if kind == "special":
        event_id = int(params["event_id"])
        scope, own_unit_id = EVERYTHING, None
        if person_id is not None:
            with rt.sessions() as reading:
                scope, own_unit_id = scope_of(reading, person_id), get_person(reading, person_id).unit_id
        special = build_special(rt, event_id, number=number, scope=scope, own_unit_id=own_unit_id)
        return special, None, event_id
    if kind == "summary":
        case_id = int(params["case_id"])
        return build_summary(rt, case_id), None, case_id
    if kind == "daily":
        day = _date(params.get("date"), today)
        if day > today:
            # a daily report is a statement of what happened (「特此报告」): not of a day to come
            raise ReportError(f"{day.year}年{day.month}月{day.day}日尚未到来，不能生成该日的日报")
        period = day_period(day, zone)
        return build_periodic(rt, period, params.get("unit")), period, None
    if kind == "weekly":
        period = week_period(params.get("week"), today, zone)
        return build_periodic(rt, period, params.get("unit")), period, None
    if kind == "response_table":
        last = _date(params.get("to"), today)
        first = _date(params.get("from"), last.replace(day=1))
        document = build_response_table(rt, first, last, params.get("unit"))
        return document, Period("range", first, (last - first).days + 1, zone), None
    if kind == "drill":
        from yuqing.reports.drill import build_drill_report

        drill_id = int(params["drill_id"])
        return build_drill_report(rt, drill_id), None, drill_id
    raise ReportError(f"未知的报告类型 {kind!r}；可选：{'、'.join(KIND_LABELS)}")


def _date(text: Any, default: dt.date) -> dt.date:
    if text in (None, ""):
        return default
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError as exc:
        raise ReportError(f"无法识别的日期 {text!r}：应如 2026-11-20") from exc


def generate(
    rt: Runtime,
    kind: str,
    params: dict[str, Any],
    fmt: str,
    *,
    person_id: int | None = None,
    via: str = "cli",
    schedule_key: str | None = None,
    session: Session | None = None,
) -> Generated:
    """Build, render and archive one report. With `session`, the archive row is written in the
    caller's transaction (the scheduled report and its notifications commit together)."""
    if fmt not in FORMATS:
        raise ReportFormatError(f"不支持的报告格式 {fmt!r}；可选：{'、'.join(FORMATS)}")
    if fmt == "xlsx" and kind != "response_table":
        raise ReportFormatError("只有预警响应情况表可以导出为 xlsx；其他报告请选择 docx、pdf 或 html")
    zone = rt.settings.timezone
    if person_id is not None and kind in UNIT_KINDS and not params.get("unit"):
        with rt.sessions() as reading:
            params = {**params, "unit": str(get_person(reading, person_id).unit_id)}
    if person_id is not None:
        _check_subject(rt, person_id, kind, params)
    document, period, subject_id = build(rt, kind, params, person_id=person_id)
    unit_id = _unit_of(rt, document)
    if person_id is not None:
        _check_writer(rt, person_id, unit_id, KIND_LABELS.get(kind, kind))
    if kind in ("special", "summary"):  # numbered by the unit that issues it
        subject = subject_id or int(params.get("event_id") or params.get("case_id") or 0)
        with rt.sessions() as reading:
            year = local(rt.clock(), zone).year
            document.number = _number(reading, kind, subject, year, zone, unit_id, drill=document.is_drill)
    content = render(
        document, fmt, template_dir=rt.settings.report_template_dir, font=rt.settings.report_font
    )
    row = Report(
        kind=kind,
        title=document.title,
        unit_id=unit_id,
        subject_id=subject_id,
        period_start=period.start if period else None,
        period_end=period.end if period else None,
        params={
            k: (v.isoformat() if isinstance(v, dt.date) else v)
            for k, v in params.items()
            if v not in (None, "")
        },
        number=document.number,
        format=fmt,
        filename=_filename(document, fmt),
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        text=document.plain_text(),
        created_at=rt.clock(),
        created_by=person_id,
        via=via,
        schedule_key=schedule_key,
        is_drill=document.is_drill,
    )
    if session is not None:
        session.add(row)
        session.flush()
        view = report_view(row, zone)
    else:
        with transaction(rt.sessions) as own:
            own.add(row)
            own.flush()
            view = report_view(row, zone)
    return Generated(view, content, document)


def _check_writer(rt: Runtime, person_id: int, unit_id: int | None, what: str) -> None:
    """PermissionDenied unless the person holds a writer's role at the issuing unit (None: the top
    unit) or above it."""
    with rt.sessions() as session:
        unit = get_unit(session, unit_id) if unit_id is not None else root_unit(session)
        if not any(has_role(session, person_id, role, unit.id) for role in WRITERS):
            person = session.get(Person, person_id)
            name = person.name if person is not None else f"人员 {person_id}"
            roles = "、".join(Role(r).label for r in WRITERS)
            raise PermissionDenied(
                f"{name} 不能生成{unit.name}的{what}：需要该单位（或其上级单位）的以下角色之一：{roles}"
            )


def _check_subject(rt: Runtime, person_id: int, kind: str, params: dict[str, Any]) -> None:
    """Before a case's or a drill's report is built: PermissionDenied unless the person sees the
    subject's unit. A subject that does not exist is refused in the same words, so that a refusal
    tells another unit neither a case's stage nor whether it exists."""
    from yuqing.cases.models import Case
    from yuqing.drills.models import Drill

    subjects: dict[str, tuple[str, str, Any, Any]] = {
        "summary": ("case_id", "工单", Case.unit_id, Case.id),
        "drill": ("drill_id", "演练", Drill.unit_id, Drill.id),
    }
    if kind == "special":
        _check_special_subject(rt, person_id, params)
    if kind not in subjects:
        return
    key, label, column, id_column = subjects[kind]
    try:
        subject_id = int(params[key])
    except (KeyError, TypeError, ValueError):
        return  # build() says what is missing
    with rt.sessions() as session:
        if scope_of(session, person_id) is EVERYTHING:
            return  # an administrator learns that it does not exist
        row = session.execute(select(column).where(id_column == subject_id)).first()
        # a missing subject reads as another unit's: the unit id no scope holds
        check_sees(session, person_id, row[0] if row is not None else -1, f"{label} #{subject_id}")


def _check_special_subject(rt: Runtime, person_id: int, params: dict[str, Any]) -> None:
    """A 专报 on a drill's event only by those who may see the drill: another unit would report
    one unit's exercise (its invented rumour) as an event of its own."""
    from yuqing.analysis.models import Event
    from yuqing.drills.access import sees_drill

    try:
        event_id = int(params["event_id"])
    except (KeyError, TypeError, ValueError):
        return  # build() says what is missing
    with rt.sessions() as session:
        drill_id = session.scalar(select(Event.drill_id).where(Event.id == event_id))
        if not sees_drill(session, scope_of(session, person_id), drill_id):
            # in the words of an event that does not exist (`special.build_special`)
            raise ReportError(f"找不到事件 {event_id}（可用 yuqing events list 查看）")


def _unit_of(rt: Runtime, document: Document) -> int | None:
    from yuqing.org.models import Unit

    with rt.sessions() as session:
        return session.scalar(select(Unit.id).where(Unit.name == document.issuer))


def report_view(row: Report, zone: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "kind_label": KIND_LABELS.get(row.kind, row.kind),
        "title": row.title,
        "number": row.number,
        "format": row.format,
        "filename": row.filename,
        "media_type": MEDIA_TYPES[row.format],
        "size": row.size,
        "sha256": row.sha256,
        "params": row.params,
        "created_at": local(row.created_at, zone).isoformat(),
        "created_text": time_text(row.created_at, zone),
        "created_by": row.created_by,
        "via": row.via,
        "is_drill": row.is_drill,
    }


def list_reports(
    rt: Runtime,
    *,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
    include_drills: bool = True,
    person_id: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Archived reports, newest first, and how many there are; with `person_id`, only those of
    units the person may see."""
    with rt.sessions() as session:
        scope = EVERYTHING if person_id is None else scope_of(session, person_id)
        query = select(Report).where(scope.where(Report.unit_id))
        if kind:
            query = query.where(Report.kind == kind)
        if not include_drills:
            query = query.where(Report.is_drill.is_(False))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        # Deferred content: a list does not read the files.
        from sqlalchemy.orm import defer

        rows = session.scalars(
            query.options(defer(Report.content), defer(Report.text))
            .order_by(Report.created_at.desc(), Report.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [report_view(r, rt.settings.timezone) for r in rows], total


def get_report(rt: Runtime, report_id: int, person_id: int | None = None) -> tuple[dict[str, Any], bytes]:
    """One archived report and its file; with `person_id`, only when the person may see its unit."""
    with rt.sessions() as session:
        row = session.get(Report, report_id)
        if row is None:
            raise LookupError(not_found(f"报告 #{report_id}"))
        if person_id is not None:
            check_sees(session, person_id, row.unit_id, f"报告 #{report_id}")
        return report_view(row, rt.settings.timezone), row.content


# ---- the scheduled daily report -------------------------------------------------------------------


def _daily_units(rt: Runtime, session: Session) -> tuple[list[Any], list[str]]:
    """The units that get a daily report (default: the top of the tree), and the names in
    `daily_report_units` that name no unit (each is told, not a reason to skip the others)."""
    from yuqing.org.service import find_unit

    refs = rt.settings.daily_report_units
    if not refs:
        return [root_unit(session)], []
    units, unknown = [], []
    for ref in refs:
        try:
            units.append(find_unit(session, ref))
        except LookupError:
            unknown.append(ref)
    return units, unknown


def _recipients(session: Session, unit_id: int) -> list[Any]:
    from yuqing.org.service import people_with_role

    people: dict[int, Any] = {}
    for role in ("chief", "deputy_leader", "office"):
        for person in people_with_role(session, role, unit_id):
            people.setdefault(person.id, person)
    return list(people.values())


# A daily report missed while yuqing was down is written when it is back: at most this many
# working days back, and never for days before the unit's first scheduled report.
MAX_MISSED_DAILY_REPORTS = 10
# How long past its set time today's daily report waits for the day's posts still being analysed.
DAILY_REPORT_WAIT = dt.timedelta(hours=1)


def _missed_days(session: Session, unit_id: int, today: dt.date, calendar: WorkCalendar) -> list[dt.date]:
    """Working days after the unit's last scheduled daily report and before today that have none
    (the service was down at report time): oldest first, at most MAX_MISSED_DAILY_REPORTS."""
    prefix = f"daily:unit:{unit_id}:"
    last = session.scalar(
        select(func.max(Report.schedule_key)).where(
            Report.schedule_key.like(f"{prefix}%"), Report.schedule_key < f"{prefix}{today.isoformat()}"
        )
    )
    if last is None:
        return []
    day = dt.date.fromisoformat(last.removeprefix(prefix)) + dt.timedelta(days=1)
    missed: list[dt.date] = []
    while day < today:
        if calendar.is_workday(day):
            missed.append(day)
        day += dt.timedelta(days=1)
    return missed[-MAX_MISSED_DAILY_REPORTS:]


def send_daily_reports(rt: Runtime, *, force: bool = False) -> list[dict[str, Any]]:
    """At the set time of a working day, write each unit's daily report once, archive it and tell
    the unit's leaders and office over their channels. Reports of working days missed while the
    service was down (since the unit's last scheduled one) are written first, marked 补发.
    Returns the reports made this call."""
    from yuqing.workcal.service import load_calendar

    at_text = rt.settings.daily_report_time
    if not at_text:
        return []
    now = rt.clock()
    here = local(now, rt.settings.timezone)
    hour, minute = (int(part) for part in at_text.split(":"))
    calendar = load_calendar(rt)
    due_today = force or (here.time() >= dt.time(hour, minute) and calendar.is_workday(here.date()))
    made: list[dict[str, Any]] = []
    with rt.sessions() as session:
        found, unknown = _daily_units(rt, session)
        units = [(u.id, u.name) for u in found]
        if due_today and not force:
            # today's posts still waiting for analysis (an archive import, a pipeline behind): wait
            # for them, up to DAILY_REPORT_WAIT after the set time, rather than report an
            # unchecked day (the demo sent 「零报告」 with 295,000 posts not yet analysed)
            period = day_period(here.date(), rt.settings.timezone)
            late_by = here - here.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if late_by < DAILY_REPORT_WAIT and unanalysed_posts(session, period.start, period.end):
                due_today = False
    for unit_id, unit_name in units:
        with rt.sessions() as session:
            days = [(day, True) for day in _missed_days(session, unit_id, here.date(), calendar)]
        if due_today:
            days.append((here.date(), False))
        for day, late in days:
            try:
                report = _send_daily(rt, unit_id, unit_name, day, now, late=late)
            except Exception as exc:  # one unit's failure must not stop the others' reports
                _daily_failed(rt, unit_id, unit_name, day, now, str(exc) or exc.__class__.__name__, exc)
                continue
            if report is not None:
                made.append(report)
    if due_today:
        for ref in unknown:
            _daily_failed(
                rt, None, ref, here.date(), now, f"设置 daily_report_units 中的「{ref}」不是已建立的单位"
            )
    return made


# Daily reports that failed in this process: the traceback is logged the first time, a line after.
_FAILED_DAILY: dict[str, int] = {}


def _daily_failed(
    rt: Runtime,
    unit_id: int | None,
    unit_name: str,
    day: dt.date,
    now: dt.datetime,
    reason: str,
    exc: Exception | None = None,
) -> None:
    """A scheduled daily report could not be written: log it and tell, once a day, the unit's
    office and leaders and the administrators (it failed every minute in the log alone). The
    worker tries again every minute; the report goes out once the cause is fixed."""
    from yuqing.alerts.notices import tell
    from yuqing.notify.messages import Level, Message
    from yuqing.org.service import people_with_role

    key = f"daily-failed:{unit_id if unit_id is not None else unit_name}:{day.isoformat()}"
    seen = _FAILED_DAILY[key] = _FAILED_DAILY.get(key, 0) + 1
    if seen == 1:
        log.error("daily report %s failed: %s", key, reason, exc_info=exc)
    else:
        log.warning("daily report %s still fails (%d times): %s", key, seen, reason)
    try:
        with transaction(rt.sessions) as session:
            root = root_unit(session)
            admins = people_with_role(session, "admin", unit_id or root.id)
            # who would have had the report and the administrators; for a name that is no unit,
            # the administrators (or, with none, who has the top unit's report)
            if unit_id is not None:
                told = _recipients(session, unit_id)
            else:
                told = [] if admins else _recipients(session, root.id)
            people = {p.id: p for p in told}
            for person in admins:
                people.setdefault(person.id, person)
            tell(  # once a day: the key makes later rounds' notices the same ones
                session,
                list(people.values()),
                Message(
                    title=f"【日报生成失败】{unit_name} {day.month}月{day.day}日",
                    body=(
                        f"{unit_name}{day.month}月{day.day}日的日报未能生成：{reason}。"
                        "系统每分钟重试，原因排除后即补发；请管理员检查设置，或运行 yuqing doctor。"
                    ),
                    at=now,
                    level=Level.YELLOW,
                    facts=(("单位", unit_name), ("日期", day.isoformat()), ("原因", reason)),
                ),
                key=key,
                subject=("unit", unit_id if unit_id is not None else root.id),
            )
    except Exception:
        log.exception("telling of the failed daily report %s failed too", key)


def _send_daily(
    rt: Runtime, unit_id: int, unit_name: str, day: dt.date, now: dt.datetime, *, late: bool
) -> dict[str, Any] | None:
    """Write, archive and send one unit's daily report of `day`, unless it exists already."""
    from yuqing.alerts.notices import tell
    from yuqing.notify.messages import Level, Message

    key = f"daily:unit:{unit_id}:{day.isoformat()}"
    with rt.sessions() as session:
        if session.scalar(select(Report.id).where(Report.schedule_key == key)) is not None:
            return None
    try:
        with transaction(rt.sessions) as session:
            made_now = generate(
                rt,
                "daily",
                {"date": day.isoformat(), "unit": str(unit_id)},
                rt.settings.daily_report_format,
                via="schedule",
                schedule_key=key,
                session=session,
            )
            base = rt.settings.public_url or f"http://{rt.settings.host}:{rt.settings.port}"
            zero = "零报告：" in made_now.document.plain_text()
            when = "当日" if late else "今日"
            message = Message(
                title=f"【日报{'·补发' if late else ''}】{made_now.report['title']}",
                body=(
                    (f"系统在{day.month}月{day.day}日报告时间未运行，现补发当日日报。\n" if late else "")
                    + (
                        f"{when}未监测到达到预警等级的网络舆情（零报告）。"
                        if zero
                        else _first_lead(made_now.document)
                    )
                    + f"\n报告已归档（第{made_now.report['id']}号），可在控制台「报告」中下载。"
                ),
                at=now,
                level=Level.INFO,
                link=f"{base.rstrip('/')}/reports/{made_now.report['id']}",
                facts=(("单位", unit_name), ("日期", day.isoformat())),
            )
            tell(
                session,
                _recipients(session, unit_id),
                message,
                key=key,
                subject=("report", made_now.report["id"]),
            )
            return made_now.report
    except IntegrityError:
        log.info("daily report %s was written by another process", key)
        return None


def _first_lead(document: Document) -> str:
    from yuqing.reports.document import Paragraph

    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, Paragraph) and block.style == "lead":
                return block.text
    return document.title


class DailyReportWorker(PeriodicWorker):
    """Inside `yuqing serve`: checks every minute whether the daily report is due."""

    def __init__(self, rt: Runtime, interval: float = 60.0) -> None:
        super().__init__("daily-reports", interval)
        self.rt = rt

    def work(self) -> bool:
        for report in send_daily_reports(self.rt):
            log.info("daily report %s written and sent", report["id"])
        return False


def report_text(rt: Runtime, report_id: int, person_id: int | None = None) -> str:
    """What an archived report says, as text (the console's preview)."""
    with rt.sessions() as session:
        found = session.execute(select(Report.text, Report.unit_id).where(Report.id == report_id)).first()
        if found is None:
            raise LookupError(not_found(f"报告 #{report_id}"))
        if person_id is not None:
            check_sees(session, person_id, found.unit_id, f"报告 #{report_id}")
        return str(found.text)
