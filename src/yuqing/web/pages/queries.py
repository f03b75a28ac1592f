"""Read-side queries of the console and the API lists, written to stay cheap on a large database.

The domains' own list functions build one full view per row (a handful of queries each); the
console needs pages of rows, counts and series. Here every list is one indexed query with a
LIMIT, plus at most one batched query for the related rows of that page:

- events are listed by `(status, last_seen)` (the events index) and only their small columns are
  read; the few metrics a page shows come from a second query over the page's ids;
- the dashboard's series adds up the hourly series the pipeline already stored on each event
  active in the window, instead of scanning posts;
- an event's posts are read through `post_analysis(event_id)`, newest first;
- the post search scans a bounded range of post ids per request and says where to go on.

Alerts and cases are read by unit (`yuqing.org.scope`): the functions that list them take the
reader's `scope` (default: everything, as for the command line) and leave out other units' rows.

Drills (`yuqing.drills`) never count here: events and posts of a drill are left out of the event
list, the dashboard's counts and series and the post search; drill cases are left out of case
lists unless asked for. Alerts and running clocks of a drill are listed, marked `is_drill`, so
that the team can work the drill in the console.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from yuqing.alerts.jurisdiction import events_elsewhere
from yuqing.alerts.models import Alert, AlertStatus
from yuqing.alerts.service import KIND_LABELS
from yuqing.analysis.models import Event, EventStatus, PostAnalysis, Topic
from yuqing.cases.models import OPEN_DEADLINE_STATES, Case, Deadline, DeadlineState, Stage
from yuqing.cases.plan import EXTENDABLE, DeadlineKind
from yuqing.cases.service import deadline_view, task_unit_names
from yuqing.drills.access import drill_visible, post_visible
from yuqing.drills.models import Drill
from yuqing.drills.policy import ENDED_STATES
from yuqing.ingest.models import PLATFORM_NAMES, Post, Source
from yuqing.org.models import Person, RoleAssignment, Unit
from yuqing.org.roles import Role
from yuqing.org.scope import EVERYTHING, Scope

GRADES: tuple[str, ...] = ("I", "II", "III", "IV")
GRADE_NAMES = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
SENTIMENT_LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
PLATFORM_LABELS = PLATFORM_NAMES
# An event's sentiment mix is counted over at most this many of its posts.
SENTIMENT_SAMPLE = 20_000
# The post search reads at most this many post ids per request.
SEARCH_SPAN = 50_000


def _pairs(session: Session, query: Select[Any, Any]) -> dict[int, Any]:
    """A two-column query as a dict."""
    return {row[0]: row[1] for row in session.execute(query)}


def iso(value: dt.datetime | None, zone: str) -> str | None:
    return value.astimezone(ZoneInfo(zone)).isoformat() if value else None


@dataclass(frozen=True)
class Page:
    """A page of a list: its rows and whether more follow (no COUNT over large tables)."""

    rows: list[dict[str, Any]]
    limit: int
    offset: int
    has_more: bool

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.has_more else None

    @property
    def previous_offset(self) -> int | None:
        return max(self.offset - self.limit, 0) if self.offset > 0 else None


def _page(rows: list[dict[str, Any]], limit: int, offset: int) -> Page:
    return Page(rows[:limit], limit, offset, len(rows) > limit)


# ---- dashboard ----------------------------------------------------------------------------------


def active_grade_counts(session: Session) -> dict[str, int]:
    """Open events by grade code (I..IV), zero where none."""
    rows = session.execute(
        select(Event.grade_code, func.count())
        .where(
            Event.status == EventStatus.OPEN.value,
            Event.grade_code.is_not(None),
            Event.is_drill.is_(False),
        )
        .group_by(Event.grade_code)
    )
    counts = dict.fromkeys(GRADES, 0)
    for code, count in rows:
        if code in counts:
            counts[code] = int(count)
    return counts


# The grades whose events elsewhere the dashboard counts apart: the ones that would wake people.
_WATCHED = ("I", "II")


def active_elsewhere_counts(session: Session, limit: int = 50) -> dict[str, int]:
    """Of the open 特别重大 and 重大 events (the newest `limit`), how many are located plainly
    elsewhere with no alert (属地管理): the dashboard says so beside their count."""
    rows = list(
        session.execute(
            select(Event.id, Event.grade_code)
            .where(
                Event.status == EventStatus.OPEN.value,
                Event.grade_code.in_(_WATCHED),
                Event.is_drill.is_(False),
            )
            .order_by(Event.last_seen.desc())
            .limit(limit)
        )
    )
    found = events_elsewhere(session, [event_id for event_id, _ in rows])
    return dict(Counter(str(code) for event_id, code in rows if event_id in found))


def volume_series(session: Session, now: dt.datetime, zone: str, *, hours: int = 72) -> dict[str, Any]:
    """Posts per hour and the negative share per hour over the last `hours`, summed from the hourly
    series stored on the events of monitored topics active in that window."""
    tz = ZoneInfo(zone)
    end = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(hours=hours - 1)
    posts: Counter[dt.datetime] = Counter()
    negative: Counter[dt.datetime] = Counter()
    query = select(Event.metrics["hourly"]).where(
        # Both statuses spelt out so the (status, last_seen) index serves the range.
        Event.status.in_([EventStatus.OPEN.value, EventStatus.CLOSED.value]),
        Event.last_seen >= start,
        Event.topic_id.is_not(None),
        Event.is_drill.is_(False),
    )
    for (series,) in session.execute(query):
        for point in series or ():
            try:
                hour = dt.datetime.fromisoformat(str(point["hour"])).astimezone(dt.UTC)
            except (KeyError, TypeError, ValueError):
                continue
            if start <= hour <= end:
                posts[hour] += int(point.get("posts", 0))
                negative[hour] += int(point.get("negative", 0))
    axis = [start + dt.timedelta(hours=i) for i in range(hours)]
    return {
        "hours": [h.astimezone(tz).strftime("%m-%d %H:00") for h in axis],
        "posts": [posts[h] for h in axis],
        "negative_share": [round(100 * negative[h] / posts[h], 1) if posts[h] else None for h in axis],
        "total": sum(posts.values()),
    }


def cases_by_stage(session: Session, scope: Scope = EVERYTHING) -> dict[str, int]:
    rows = session.execute(
        select(Case.stage, func.count())
        .where(Case.is_drill.is_(False), scope.where(Case.unit_id))
        .group_by(Case.stage)
    )
    counts = {stage.value: 0 for stage in Stage}
    for stage, count in rows:
        counts[stage] = int(count)
    return counts


def upcoming_deadlines(
    session: Session, zone: str, *, limit: int = 10, scope: Scope = EVERYTHING
) -> list[dict[str, Any]]:
    """Running clocks, the soonest (or most overdue) first, with their case.

    One query per running state, each an ordered walk of the `(state, due_at)` index that stops
    at `limit`, then merged: cheap however many clocks are running. A drill that has ended keeps
    its overdue clocks as its record, but they are no one's work any more: they are left out."""
    found: list[tuple[Deadline, str, str, str, str]] = []
    ended = (
        select(Case.id)
        .join(Event, Event.id == Case.event_id)
        .join(Drill, Drill.id == Event.drill_id)
        .where(Case.is_drill.is_(True), Drill.state.in_(ENDED_STATES))
    )
    for state in OPEN_DEADLINE_STATES:
        rows = session.execute(
            select(Deadline, Case.title, Case.grade_code, Case.grade, Case.stage)
            .join(Case, Case.id == Deadline.case_id)
            .where(Deadline.state == state, scope.where(Case.unit_id))
            .where(or_(Deadline.is_drill.is_(False), Deadline.case_id.not_in(ended)))
            .order_by(Deadline.due_at)
            .limit(limit)
        )
        found.extend((deadline, title, code, grade, stage) for deadline, title, code, grade, stage in rows)
    found.sort(key=lambda row: (row[0].due_at, row[0].id))
    out = []
    unit_names = task_unit_names(session, [row[0] for row in found[:limit]])
    for deadline, title, code, grade, stage in found[:limit]:
        view = deadline_view(deadline, zone, unit_names)
        view.update(
            case_id=deadline.case_id,
            case_title=title,
            grade_code=code,
            grade=grade,
            stage_label=Stage(stage).label,
            is_drill=deadline.is_drill,
        )
        out.append(view)
    return out


# ---- alerts -------------------------------------------------------------------------------------


def alert_page(
    session: Session,
    zone: str,
    *,
    status: str | None = None,
    event_id: int | None = None,
    alert_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    scope: Scope = EVERYTHING,
) -> Page:
    """Alerts the scope sees, newest first, with their unit, case and who acknowledged them (three
    queries)."""
    query = (
        select(Alert, Unit.name)
        .join(Unit, Unit.id == Alert.unit_id)
        .where(scope.where(Alert.unit_id))
        .order_by(Alert.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if status:
        query = query.where(Alert.status == status)
    if event_id is not None:
        query = query.where(Alert.event_id == event_id)
    if alert_id is not None:
        query = query.where(Alert.id == alert_id)
    found = list(session.execute(query))
    ids = [a.id for a, _ in found]
    # a case of a unit the reader does not see (a unit above took the alert over) is not linked
    seen_cases = select(Case.alert_id, Case.id).where(Case.alert_id.in_(ids), scope.where(Case.unit_id))
    cases = _pairs(session, seen_cases) if ids else {}
    with_case = set(session.scalars(select(Case.alert_id).where(Case.alert_id.in_(ids)))) if ids else set()
    acked_ids = {a.acknowledged_by for a, _ in found if a.acknowledged_by}
    names = (
        _pairs(session, select(Person.id, Person.name).where(Person.id.in_(acked_ids))) if acked_ids else {}
    )
    # An event a person regraded after its alert: the alert shows the grade in force and who set it.
    event_ids = {a.event_id for a, _ in found}
    regraded = (
        {
            row.id: row
            for row in session.execute(
                select(Event.id, Event.grade_code, Event.grade, Event.grade_set_by).where(
                    Event.id.in_(event_ids), Event.grade_set_by.is_not(None)
                )
            )
        }
        if event_ids
        else {}
    )
    rows = [
        {
            "id": alert.id,
            "event_id": alert.event_id,
            "case_id": cases.get(alert.id),
            # opened as a case the reader does not see: a unit above took it over
            "taken_over": alert.id in with_case and alert.id not in cases,
            "unit": unit,
            "kind": alert.kind,
            "kind_label": KIND_LABELS.get(alert.kind, alert.kind),
            "grade": alert.grade,
            "grade_code": alert.grade_code,
            "title": alert.title,
            "reasons": alert.reasons,
            "status": alert.status,
            "status_label": ALERT_STATUS_LABELS.get(alert.status, alert.status),
            "repeats": alert.repeats,
            "level": alert.level,
            "created_at": iso(alert.created_at, zone),
            "next_escalation_at": iso(alert.next_escalation_at, zone),
            "acknowledged_at": iso(alert.acknowledged_at, zone),
            "acknowledged_by": names.get(alert.acknowledged_by or 0),
            "is_drill": alert.is_drill,
            **_regrade_view(alert, regraded.get(alert.event_id)),
        }
        for alert, unit in found
    ]
    return _page(rows, limit, offset)


def _regrade_view(alert: Alert, event: Any) -> dict[str, Any]:
    """The event's grade now when a person set it apart from the alert's (else nothing)."""
    if event is None or not event.grade_code or event.grade_code == alert.grade_code:
        return {}
    return {
        "current_grade_code": event.grade_code,
        "current_grade": event.grade,
        "regraded_by": event.grade_set_by,
    }


ALERT_STATUS_LABELS = {
    AlertStatus.OPEN.value: "待确认",
    AlertStatus.ACKNOWLEDGED.value: "已确认",
    AlertStatus.CLOSED.value: "已关闭",
}


# ---- cases --------------------------------------------------------------------------------------


def case_page(
    session: Session,
    zone: str,
    *,
    stage: str | None = None,
    include_drills: bool = False,
    limit: int = 50,
    offset: int = 0,
    scope: Scope = EVERYTHING,
) -> Page:
    """Cases the scope sees, newest first, each with its unit and next running clock (two queries)."""
    query = (
        select(Case, Unit.name)
        .join(Unit, Unit.id == Case.unit_id)
        .where(scope.where(Case.unit_id))
        .order_by(Case.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if stage:
        query = query.where(Case.stage == stage)
    if not include_drills:
        query = query.where(Case.is_drill.is_(False))
    found = list(session.execute(query))
    next_due = next_deadlines(session, [c.id for c, _ in found], zone)
    rows = [case_row(case, unit, next_due.get(case.id), zone) for case, unit in found]
    return _page(rows, limit, offset)


def case_row(case: Case, unit: str | None, next_due: dict[str, Any] | None, zone: str) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "event_id": case.event_id,
        "post_id": case.post_id,
        "alert_id": case.alert_id,
        "unit": unit,
        "stage": case.stage,
        "stage_label": Stage(case.stage).label,
        "grade": case.grade,
        "grade_code": case.grade_code,
        "category": case.category,
        "detected_at": iso(case.detected_at, zone),
        "opened_at": iso(case.opened_at, zone),
        "closed_at": iso(case.closed_at, zone),
        "reopened": case.reopened,
        "is_drill": case.is_drill,
        "next_deadline": next_due,
    }


def next_deadlines(session: Session, case_ids: list[int], zone: str) -> dict[int, dict[str, Any]]:
    """The soonest running clock of each case."""
    if not case_ids:
        return {}
    found: dict[int, dict[str, Any]] = {}
    for deadline in session.scalars(
        select(Deadline)
        .where(Deadline.case_id.in_(case_ids), Deadline.state.in_(OPEN_DEADLINE_STATES))
        .order_by(Deadline.due_at)
    ):
        found.setdefault(deadline.case_id, deadline_view(deadline, zone))
    return found


def case_board(
    session: Session, zone: str, *, per_stage: int = 100, scope: Scope = EVERYTHING
) -> dict[str, list[dict[str, Any]]]:
    """Cases by stage for the board: every stage but 结案 up to `per_stage` each, the latest closed."""
    board: dict[str, list[dict[str, Any]]] = {}
    for stage in Stage:
        limit = 20 if stage == Stage.CLOSED else per_stage
        board[stage.value] = case_page(session, zone, stage=stage.value, limit=limit, scope=scope).rows
    return board


def cases_of_event(session: Session, event_id: int, scope: Scope = EVERYTHING) -> list[Case]:
    query = select(Case).where(Case.event_id == event_id, scope.where(Case.unit_id))
    return list(session.scalars(query.order_by(Case.id.desc())))


def running_clock_kinds(session: Session, case_id: int) -> list[tuple[str, str]]:
    """(kind, label) of the case's running clocks that may be extended, for the extension form."""
    kinds = session.scalars(
        select(Deadline.kind)
        .where(Deadline.case_id == case_id, Deadline.state.in_(OPEN_DEADLINE_STATES))
        .where(Deadline.kind.in_(sorted(EXTENDABLE)))
        .order_by(Deadline.due_at)
    )
    seen: dict[str, str] = {}
    for kind in kinds:
        seen.setdefault(kind, DeadlineKind.LABELS.get(kind, kind))
    return list(seen.items())


# ---- events -------------------------------------------------------------------------------------


def event_page(
    session: Session,
    zone: str,
    *,
    status: str | None = EventStatus.OPEN.value,
    grade: str | None = None,
    include_drills: bool = False,
    limit: int = 30,
    offset: int = 0,
    mark_elsewhere: bool = False,
) -> Page:
    """Events, latest activity first. `grade`: a code, "graded" or None for all. Drill events
    only with `include_drills`. `mark_elsewhere`: a graded event without an alert says where it is
    when that is plainly outside every unit's places (`elsewhere`; 属地管理)."""
    query = (
        select(
            Event.id,
            Event.title,
            Event.topic_id,
            Event.grade_code,
            Event.grade,
            Event.first_seen,
            Event.last_seen,
            Event.status,
            Event.post_count,
        )
        .order_by(Event.last_seen.desc(), Event.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    if status:
        query = query.where(Event.status == status)
    if not include_drills:
        query = query.where(Event.is_drill.is_(False))
    if grade == "graded":
        query = query.where(Event.grade_code.is_not(None))
    elif grade:
        query = query.where(Event.grade_code == grade)
    found = list(session.execute(query))
    ids = [row.id for row in found[:limit]]
    extra: dict[int, tuple[float | None, float | None]] = {}
    graded = [row.id for row in found[:limit] if row.grade_code]
    elsewhere = events_elsewhere(session, graded) if mark_elsewhere else {}
    if ids:
        for event_id, share, sites in session.execute(
            select(
                Event.id, Event.metrics["negative_share"].as_float(), Event.metrics["sites"].as_float()
            ).where(Event.id.in_(ids))
        ):
            extra[event_id] = (share, sites)
    topics = _topic_names(session, {row.topic_id for row in found if row.topic_id is not None})
    rows = []
    for row in found:
        share, sites = extra.get(row.id, (None, None))
        rows.append(
            {
                "id": row.id,
                "title": row.title,
                "topic": topics.get(row.topic_id) if row.topic_id is not None else None,
                "grade_code": row.grade_code,
                "grade": row.grade,
                "first_seen": iso(row.first_seen, zone),
                "last_seen": iso(row.last_seen, zone),
                "status": row.status,
                "posts": row.post_count,
                "negative_share": share,
                "sites": int(sites) if sites is not None else None,
                "elsewhere": elsewhere.get(row.id),
            }
        )
    return _page(rows, limit, offset)


def _topic_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return _pairs(session, select(Topic.id, Topic.name).where(Topic.id.in_(ids)))


def sentiment_mix(session: Session, event_id: int) -> dict[str, Any]:
    """How many of the event's posts are negative, neutral and positive (over at most
    SENTIMENT_SAMPLE of them; `sampled` says when the event is larger)."""
    sample = (
        select(PostAnalysis.sentiment)
        .where(PostAnalysis.event_id == event_id)
        .limit(SENTIMENT_SAMPLE)
        .subquery()
    )
    counts = dict.fromkeys(SENTIMENT_LABELS, 0)
    for label, count in session.execute(
        select(sample.c.sentiment, func.count()).group_by(sample.c.sentiment)
    ):
        counts[label] = int(count)
    total = sum(counts.values())
    return {
        "counts": counts,
        "items": [{"name": SENTIMENT_LABELS[k], "key": k, "value": v} for k, v in counts.items()],
        "total": total,
        "sampled": total >= SENTIMENT_SAMPLE,
    }


def event_posts(session: Session, event_id: int, zone: str, *, limit: int = 20, offset: int = 0) -> Page:
    """The event's posts, newest first, with their sentiment.

    The page's post ids are chosen from `post_analysis` alone, then only those posts are read.
    On SQLite the event index holds the post id (the rowid), so the ids come in order from the
    index. PostgreSQL's event index does not, and its planner would rather walk the whole primary
    key backwards hoping to meet this event's posts early; ordering by `post_id + 0` makes it
    read the event's rows through its index and sort just those."""
    order = PostAnalysis.post_id.desc()
    if session.get_bind().dialect.name == "postgresql":
        order = (PostAnalysis.post_id + 0).desc()
    ids = list(
        session.scalars(
            select(PostAnalysis.post_id)
            .where(PostAnalysis.event_id == event_id)
            .order_by(order)
            .limit(limit + 1)
            .offset(offset)
        )
    )
    rows = []
    if ids:
        query = (
            select(Post, PostAnalysis.sentiment)
            .join(PostAnalysis, PostAnalysis.post_id == Post.id)
            .where(Post.id.in_(ids))
            .order_by(Post.id.desc())
        )
        rows = [
            post_row(post, zone)
            | {"sentiment": sentiment, "sentiment_label": SENTIMENT_LABELS.get(sentiment)}
            for post, sentiment in session.execute(query)
        ]
    return _page(rows, limit, offset)


def post_row(post: Post, zone: str) -> dict[str, Any]:
    return {
        "id": post.id,
        "title": post.title,
        "text": post.text,
        "author": post.author,
        "platform": post.platform,
        "platform_label": PLATFORM_LABELS.get(post.platform, post.platform),
        "kind": post.kind,
        "url": post.url,
        "published_at": iso(post.published_at, zone),
        "fetched_at": iso(post.fetched_at, zone),
        "views": post.views,
        "reposts": post.reposts,
        "comments": post.comments,
        "likes": post.likes,
        "media_tier": post.media_tier,
    }


# ---- posts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    rows: list[dict[str, Any]]
    # Where the next request goes on from (post ids below this), or None when nothing is left.
    continue_before: int | None
    scanned_to: int | None  # the lowest post id read in this request


def search_posts(
    session: Session,
    zone: str,
    text: str,
    *,
    before: int | None = None,
    source_id: int | None = None,
    include_drills: bool = False,
    limit: int = 30,
    scope: Scope = EVERYTHING,
) -> SearchResult:
    """Posts whose title or text contains `text`, newest first.

    There is no full-text index, so a request reads at most SEARCH_SPAN post ids (a primary-key
    range, so the time it takes is bounded whatever the table's size) and says where the next one
    should go on; frequent words fill a page long before that. Drill posts are left out unless
    `include_drills` (or their drill's source is asked for), and a drill's posts are only found
    by those who may see the drill (`scope`).
    """
    top = before if before is not None else (session.scalar(select(func.max(Post.id))) or 0) + 1
    rows: list[dict[str, Any]] = []
    low = top
    while low > 1 and len(rows) < limit and top - low < SEARCH_SPAN:
        high, low = low, max(low - 10_000, 1)
        query = (
            select(Post)
            .where(Post.id < high, Post.id >= low)
            .where(or_(Post.text.contains(text, autoescape=True), Post.title.contains(text, autoescape=True)))
            .order_by(Post.id.desc())
            .limit(limit - len(rows))
        )
        if source_id is not None:
            query = query.where(Post.source_id == source_id)
        if not include_drills and source_id is None:
            query = query.where(Post.is_drill.is_(False))
        if not scope.everything:
            query = query.where(post_visible(scope))
        rows.extend(post_row(p, zone) for p in session.scalars(query))
    if len(rows) >= limit:
        return SearchResult(rows, rows[-1]["id"], rows[-1]["id"])
    return SearchResult(rows, low if low > 1 else None, low)


def source_names(session: Session, scope: Scope = EVERYTHING) -> dict[int, str]:
    """Sources by id; a drill's only for those who may see the drill."""
    query = select(Source.id, Source.name).where(drill_visible(Source.drill_id, scope)).order_by(Source.id)
    return _pairs(session, query)


# ---- organisation -------------------------------------------------------------------------------


def people_with_roles(
    session: Session, *, unit_id: int | None = None, limit: int = 500, offset: int = 0
) -> list[dict[str, Any]]:
    """People (active first) with their unit and roles, in two queries."""
    query = (
        select(Person, Unit.name)
        .join(Unit, Unit.id == Person.unit_id)
        .order_by(Person.active.desc(), Person.unit_id, Person.id)
        .limit(limit)
        .offset(offset)
    )
    if unit_id is not None:
        query = query.where(Person.unit_id == unit_id)
    found = list(session.execute(query))
    roles: dict[int, list[dict[str, Any]]] = {}
    ids = [p.id for p, _ in found]
    if ids:
        for assignment, unit in session.execute(
            select(RoleAssignment, Unit.name)
            .join(Unit, Unit.id == RoleAssignment.unit_id)
            .where(RoleAssignment.person_id.in_(ids))
            .order_by(RoleAssignment.id)
        ):
            roles.setdefault(assignment.person_id, []).append(
                {
                    "role": assignment.role,
                    "label": Role(assignment.role).label,
                    "unit_id": assignment.unit_id,
                    "unit": unit,
                }
            )
    return [
        {
            "id": person.id,
            "name": person.name,
            "login": person.login,
            "unit_id": person.unit_id,
            "unit": unit,
            "active": person.active,
            "roles": roles.get(person.id, []),
        }
        for person, unit in found
    ]


def deadline_state_label(state: str) -> str:
    return DeadlineState(state).label
