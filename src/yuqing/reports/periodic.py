"""网络舆情日报 / 周报 for a unit and the units below it — with the zero report (零报告) when
nothing reached an alert grade in the period. Counted from stored events, posts, alerts, cases,
deadlines and statements of the period; drills are never counted."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from yuqing.alerts.jurisdiction import events_elsewhere
from yuqing.analysis.models import AnalysisQueue, Event, PostAnalysis, Topic
from yuqing.cases.models import OPEN_DEADLINE_STATES, STAGE_LABELS, Case, Deadline, DeadlineState, Statement
from yuqing.cases.plan import DeadlineKind
from yuqing.ingest.models import Post, Source
from yuqing.org.models import Unit
from yuqing.reports import charts
from yuqing.reports.common import (
    GRADE_NAMES,
    GRADE_WORDS,
    ReportError,
    alerts_between,
    clip,
    day_text,
    names_and_ids,
    percent,
    time_text,
    unit_scope,
)
from yuqing.reports.document import Document, Paragraph, Table
from yuqing.runtime import Runtime

__all__ = ["Period", "build_periodic", "day_period", "week_period"]


class Period:
    """[start, end) in the office's zone, with how to name it."""

    def __init__(self, kind: str, first: dt.date, days: int, zone: str) -> None:
        self.kind, self.first, self.days, self.zone = kind, first, days, zone
        tz = ZoneInfo(zone)
        self.start = dt.datetime.combine(first, dt.time(), tz)
        self.end = dt.datetime.combine(first + dt.timedelta(days=days), dt.time(), tz)

    @property
    def last(self) -> dt.date:
        return self.first + dt.timedelta(days=self.days - 1)

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return day_text(self.first)
        year, week, _ = self.first.isocalendar()
        first, last = self.first, self.last
        return f"{year}年第{week}周（{first.month}月{first.day}日—{last.month}月{last.day}日）"

    @property
    def word(self) -> str:
        return "本日" if self.kind == "daily" else "本周"

    def contains(self, at: dt.datetime | None) -> bool:
        return at is not None and self.start <= at < self.end


def _period_text(period: Period, now: dt.datetime, zone: str) -> str:
    """「…00:00 至 …00:00」; a period still running when the report is made ends at the making
    (「至 12月6日 14:35（截至生成时）」): the report says nothing of hours to come."""
    if period.start <= now < period.end:
        return f"{time_text(period.start, zone)} 至 {time_text(now, zone)}（截至生成时）"
    return f"{time_text(period.start, zone)} 至 {time_text(period.end, zone)}"


def unanalysed_posts(session: Session, start: dt.datetime, end: dt.datetime) -> int:
    """Posts of the period (published or collected in it; no drill's) still waiting for analysis:
    until they are analysed, the period's figures are incomplete and no 零报告 can be made."""
    in_period = or_(
        (Post.published_at >= start) & (Post.published_at < end),
        (Post.fetched_at >= start) & (Post.fetched_at < end),
    )
    return (
        session.scalar(
            select(func.count())
            .select_from(AnalysisQueue)
            .join(Post, Post.id == AnalysisQueue.post_id)
            .where(Post.is_drill.is_(False), in_period)
        )
        or 0
    )


def day_period(day: dt.date, zone: str) -> Period:
    return Period("daily", day, 1, zone)


def week_period(text: str | None, today: dt.date, zone: str) -> Period:
    """`2026-W47` (ISO week) or any date inside the week; default: the week before `today`'s."""
    if not text:
        monday = today - dt.timedelta(days=today.weekday() + 7)
        return Period("weekly", monday, 7, zone)
    try:
        if "W" in text.upper():
            year, week = text.upper().split("-W")
            monday = dt.date.fromisocalendar(int(year), int(week), 1)
        else:
            day = dt.date.fromisoformat(text)
            monday = day - dt.timedelta(days=day.weekday())
    except ValueError as exc:
        raise ReportError(f"无法识别的周 {text!r}：应如 2026-W47 或该周内的一个日期 2026-11-18") from exc
    return Period("weekly", monday, 7, zone)


def _scoped_topics(session: Session, units: list[Unit], *, top: bool) -> list[Topic]:
    keys = names_and_ids(units)
    topics = list(session.scalars(select(Topic)))
    return [t for t in topics if (t.unit in keys) or (top and not t.unit)]


def build_periodic(
    rt: Runtime, period: Period, unit_ref: str | int | None = None, *, number: str | None = None
) -> Document:
    zone = rt.settings.timezone
    with rt.sessions() as session:
        unit, units = unit_scope(session, unit_ref)
        unit_ids = [u.id for u in units]
        unit_names = {u.id: u.name for u in session.scalars(select(Unit))}
        topics = _scoped_topics(session, units, top=unit.parent_id is None)
        topic_ids = [t.id for t in topics]
        events = (
            list(
                session.scalars(
                    select(Event)
                    .where(
                        Event.topic_id.in_(topic_ids),
                        Event.first_seen < period.end,
                        Event.last_seen >= period.start,
                        Event.is_drill.is_(False),
                    )
                    .order_by(Event.id)
                )
            )
            if topic_ids
            else []
        )
        when = func.coalesce(Post.published_at, Post.fetched_at)
        per_event: dict[int, tuple[int, int]] = {}
        volume_by_day: Counter[dt.date] = Counter()
        negative_by_day: Counter[dt.date] = Counter()
        if events:
            event_ids = [e.id for e in events]
            for i in range(0, len(event_ids), 500):
                rows = session.execute(
                    select(PostAnalysis.event_id, PostAnalysis.sentiment, when)
                    .join(Post, Post.id == PostAnalysis.post_id)
                    .where(
                        PostAnalysis.event_id.in_(event_ids[i : i + 500]),
                        when >= period.start,
                        when < period.end,
                    )
                )
                for event_id, sentiment, at in rows:
                    if event_id is None:
                        continue
                    total, negative = per_event.get(event_id, (0, 0))
                    is_negative = sentiment == "negative"
                    per_event[event_id] = (total + 1, negative + int(is_negative))
                    day = at.astimezone(ZoneInfo(zone)).date()
                    volume_by_day[day] += 1
                    negative_by_day[day] += int(is_negative)
        fetched = (Post.fetched_at >= period.start, Post.fetched_at < period.end, Post.is_drill.is_(False))
        collected = session.scalar(select(func.count()).select_from(Post).where(*fetched)) or 0
        # posts published before the period and collected in it (a backfill, an archive import,
        # a source catching up): collected now, but not the period's public opinion
        backfilled = (
            session.scalar(
                select(func.count()).select_from(Post).where(*fetched, Post.published_at < period.start)
            )
            or 0
        )
        # the office's own sources as they stood in the period: a drill's scenario source is no
        # source of the office's, and one added after the period did not collect in it
        sources = (
            session.scalar(
                select(func.count())
                .select_from(Source)
                .where(Source.enabled.is_(True), Source.drill_id.is_(None), Source.created_at < period.end)
            )
            or 0
        )
        waiting = unanalysed_posts(session, period.start, period.end)
        alerts = alerts_between(session, unit_ids, period.start, period.end)
        # Events alerted in the period count as the period's events even when their posts are
        # older (an alert raised on a slowly growing event).
        known = {e.id for e in events}
        missing = sorted({a.event_id for a in alerts} - known)
        if missing:
            events += list(session.scalars(select(Event).where(Event.id.in_(missing))))
        cases_touched = list(
            session.scalars(
                select(Case)
                .where(
                    Case.unit_id.in_(unit_ids),
                    Case.is_drill.is_(False),
                    # open at some moment of the period: opened, closed or handled all through it
                    # (a case opened before a past week and closed after it was left out)
                    or_(Case.closed_at.is_(None), Case.closed_at >= period.start),
                    Case.opened_at < period.end,
                )
                .order_by(Case.id)
            )
        )
        case_ids = [c.id for c in cases_touched]
        clocks = (
            list(
                session.scalars(
                    select(Deadline).where(Deadline.case_id.in_(case_ids), Deadline.is_drill.is_(False))
                )
            )
            if case_ids
            else []
        )
        released = (
            list(
                session.scalars(
                    select(Statement).where(
                        Statement.case_id.in_(case_ids),
                        Statement.released_at >= period.start,
                        Statement.released_at < period.end,
                    )
                )
            )
            if case_ids
            else []
        )
        alerted = {a.event_id for a in alerts}
        graded = [
            e for e in events if e.grade_code and (per_event.get(e.id, (0, 0))[0] > 0 or e.id in alerted)
        ]
        # graded events located plainly elsewhere raise no alert here (属地管理): said so, not 「未开立工单」
        elsewhere = (
            {} if rt.settings.alert_outside_regions else events_elsewhere(session, [e.id for e in graded])
        )

    in_period_posts = sum(total for total, _ in per_event.values())
    in_period_negative = sum(negative for _, negative in per_event.values())
    zero = not graded and not alerts
    banner = "网络舆情日报" if period.kind == "daily" else "网络舆情周报"
    doc = Document(
        kind=period.kind,
        banner=banner,
        title=f"{unit.name}{banner}（{period.label}）",
        issuer=unit.name,
        issued_at=rt.clock(),
        zone=zone,
        number=number,
        meta=[
            ("报告期间", _period_text(period, rt.clock(), zone)),
            (
                "统计范围",
                (f"{unit.name}及所属{len(units) - 1}个单位" if len(units) > 1 else unit.name)
                + f"，监测专题{len(topics)}个",
            ),
        ],
    )

    overview = doc.section("总体情况")
    if zero and waiting:
        # a backlog (an archive being imported, a pipeline behind) may hold what would be graded:
        # 「未监测到」 would be a claim the system has not checked yet
        overview.add(
            Paragraph(
                f"{period.label}，{unit.name}及所属单位暂未监测到达到预警等级的网络舆情，未发出预警；"
                f"但截至生成时尚有{waiting}条信息未完成分析，统计尚不完整，暂不作零报告，"
                "请待分析完成后重新生成本报告。",
                "lead",
            )
        )
    elif zero:
        overview.add(
            Paragraph(
                f"零报告：{period.label}，{unit.name}及所属单位未监测到达到预警等级的网络舆情，未发出预警。特此报告。",
                "lead",
            )
        )
    else:
        local = [e for e in graded if e.id not in elsewhere]
        abroad = [e for e in graded if str(elsewhere.get(e.id, "")).startswith("境外")]
        away = [e for e in graded if e.id in elsewhere and e not in abroad]
        if away or abroad:
            # a 特别重大 held elsewhere (Putin's quote, held 境外) read as one of the unit's own:
            # the grade counts say which are the unit's (or of no known place) and which are watched
            parts = [f"本地或事发地未明的事件{len(local)}起{_by_grade(local, '（', '）')}"] if local else []
            if away:
                parts.append(
                    f"外地事件{len(away)}起{_by_grade(away, '（', '）', short=True)}，"
                    "按属地管理原则由事发地处置，本单位仅作关注，未发预警"
                )
            if abroad:
                parts.append(f"境外事件{len(abroad)}起{_by_grade(abroad, '（', '）', short=True)}，仅作关注")
            counted = "，其中" + "；".join(parts) + "；"
        else:
            counted = _by_grade(graded, "（", "）") + "，"
        # an event of last month with one repost today is no new event of today
        earlier = sum(1 for e in graded if e.first_seen < period.start)
        if earlier:
            fresh = len(graded) - earlier
            counted = (
                f"（{period.word}新发{fresh}起，此前发生、{period.word}仍有信息{earlier}起）"
                if fresh
                else f"（均为此前发生、{period.word}仍有信息的事件）"
            ) + counted
        overview.add(
            Paragraph(
                f"{period.word}共监测到达到预警等级的舆情事件{len(graded)}起{counted}"
                + f"发出预警{len(alerts)}条，其中已确认{sum(1 for a in alerts if a.acknowledged_at)}条。",
                "lead",
            )
        )
    overview.add(
        Paragraph(
            f"{period.word}系统共采集信息{collected}条（启用信息源{sources}个"
            + (f"；其中补采{period.word}以前发布的信息{backfilled}条" if backfilled else "")
            + "）；"
            f"与本单位监测专题相关的事件{len(events)}起"
            # beside a 零报告 the topic's events are those below the alert grades
            + ("（均未达到预警等级）" if zero and events else "")
            + f"，{period.word}发布的相关信息{in_period_posts}条，"
            f"负面信息{in_period_negative}条，占{percent(in_period_negative, in_period_posts)}。"
            + (f"另有{waiting}条信息截至生成时尚未完成分析，未计入以上统计。" if waiting and not zero else "")
        )
    )
    if period.kind == "weekly":
        days = [period.first + dt.timedelta(days=i) for i in range(period.days)]
        # a week still running: its days to come are left blank, not drawn as a fall to zero
        today = rt.clock().astimezone(ZoneInfo(zone)).date()
        nothing_yet = float("nan")
        overview.add(
            charts.line_chart(
                "图1 专题相关信息量（按日）",
                [f"{d.month}月{d.day}日" for d in days],
                {
                    "信息量": [volume_by_day.get(d, 0) if d <= today else nothing_yet for d in days],
                    "负面信息": [negative_by_day.get(d, 0) if d <= today else nothing_yet for d in days],
                },
                configured_font=rt.settings.report_font,
            )
        )

    if graded:
        doc.section("重点舆情").add(
            Table(
                ("事件", "等级", "首发时间", f"{period.word}信息量", "负面占比", "处置"),
                tuple(
                    (
                        clip(e.title, 40),
                        grade_cell(e),
                        time_text(e.first_seen, zone),
                        str(per_event.get(e.id, (0, 0))[0]),
                        percent(per_event[e.id][1], per_event[e.id][0]) if e.id in per_event else "—",
                        _handling(e.id, cases_touched, elsewhere.get(e.id)),
                    )
                    for e in sorted(
                        graded, key=lambda e: (e.grade_code or "IV", -per_event.get(e.id, (0, 0))[0])
                    )
                ),
                (3.2, 1.4, 1.4, 1, 1, 1.4),
            )
        )
    if alerts:
        by_id = {e.id: e for e in events}
        doc.section("预警情况").add(
            Table(
                ("预警时间", "责任单位", "等级", "事件", "确认时间"),
                tuple(
                    (
                        time_text(a.created_at, zone, year=False),
                        unit_names.get(a.unit_id, ""),
                        a.grade + _now_graded(a.grade_code, by_id.get(a.event_id)),
                        clip(a.title, 40),
                        time_text(a.acknowledged_at, zone, year=False) if a.acknowledged_at else "未确认",
                    )
                    for a in alerts
                ),
                (1.3, 1.5, 0.8, 3, 1.3),
            )
        )

    handling = doc.section("处置情况")
    opened = [c for c in cases_touched if period.contains(c.opened_at)]
    closed = [c for c in cases_touched if period.contains(c.closed_at)]
    withdrawn = sum(c.withdrawn_at is not None for c in closed)
    done = [d for d in clocks if period.contains(d.done_at)]
    met = sum(1 for d in done if d.state == DeadlineState.MET.value)
    missed = sum(1 for d in done if d.state == DeadlineState.MISSED.value)
    # A period still running is reported up to the making: a clock due later today is not overdue.
    cutoff = min(period.end, rt.clock())
    overdue = [d for d in clocks if d.state in OPEN_DEADLINE_STATES and d.due_at < cutoff]
    handling.add(
        Paragraph(
            f"{period.word}新开工单{len(opened)}件，结案{len(closed)}件"
            + (f"（其中撤销{withdrawn}件）" if withdrawn else "")
            + f"；发布权威信息{len(released)}次；"
            f"完成的时限{len(done)}项，其中按时{met}项、超时{missed}项；"
            f"截至{'生成时' if cutoff < period.end else '期末'}仍超时未办的时限{len(overdue)}项。"
        )
    )
    still_open = [c for c in cases_touched if c.closed_at is None or c.closed_at >= period.end]
    if still_open:
        next_due: dict[int, Deadline] = {}
        for d in clocks:
            if d.state in OPEN_DEADLINE_STATES and (
                d.case_id not in next_due or d.due_at < next_due[d.case_id].due_at
            ):
                next_due[d.case_id] = d
        handling.add(
            Table(
                ("工单", "责任单位", "阶段", "下一时限", "截止时间"),
                tuple(
                    (
                        f"第{c.id}号 {clip(c.title, 30)}",
                        unit_names.get(c.unit_id, ""),
                        STAGE_LABELS[c.stage],
                        DeadlineKind.LABELS.get(next_due[c.id].kind, next_due[c.id].kind)
                        if c.id in next_due
                        else "—",
                        time_text(next_due[c.id].due_at, zone, year=False) if c.id in next_due else "—",
                    )
                    for c in still_open
                ),
                (3, 1.5, 0.8, 1.3, 1.3),
                "表 在办工单",
            )
        )
    elif not opened:
        handling.add(Paragraph(f"{period.word}无在办工单。"))
    return doc


def _by_grade(events: list[Event], before: str, after: str, *, short: bool = False) -> str:
    """「Ⅰ级（特别重大）1起、Ⅳ级（一般）2起」 (`short`: 「特别重大1起」) between `before` and `after`;
    empty for no graded event."""
    grades = Counter(e.grade_code for e in events)
    names = GRADE_WORDS if short else GRADE_NAMES
    listed = "、".join(f"{names[g]}{grades[g]}起" for g in ("I", "II", "III", "IV") if grades[g])
    return f"{before}{listed}{after}" if listed else ""


def _handling(event_id: int, cases: list[Case], elsewhere: str | None = None) -> str:
    if elsewhere:
        return f"{elsewhere}，关注"
    mine = [c for c in cases if c.event_id == event_id]
    if not mine:
        return "未开立工单"
    return "；".join(f"第{c.id}号 {STAGE_LABELS[c.stage]}" for c in mine)


def grade_cell(event: Event) -> str:
    """The event's grade; one a person set apart from the computed one says so, with the grade it
    replaced (「Ⅳ级（一般）（人工调整，原特别重大）」): the alerts of the same report carry the old one."""
    name = GRADE_NAMES.get(event.grade_code or "", "—")
    system = event.system_grade_code
    if event.grade_set_by and system and system != event.grade_code:
        return f"{name}（人工调整，原{GRADE_WORDS.get(system, system)}）"
    return name


def _now_graded(alerted: str, event: Event | None) -> str:
    """「（现为一般）」 after an alert's grade when its event's grade has changed since."""
    if event is None or not event.grade_code or event.grade_code == alerted:
        return ""
    return f"（现为{GRADE_WORDS.get(event.grade_code, event.grade_code)}）"
