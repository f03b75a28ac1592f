"""舆情专报: one event, as it stands in the store — summary, timeline, spread, netizen opinion,
assessment, measures taken and recommendations (PRODUCT.md §2.5). Every figure is counted from
the event's stored posts, alerts, cases and the plan; nothing is estimated."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.alerts.jurisdiction import events_elsewhere, locate
from yuqing.alerts.models import Alert
from yuqing.analysis.incidents import REPLY_KINDS
from yuqing.analysis.metrics import FLAG_LABELS, MULTI_SITE_PLATFORMS
from yuqing.analysis.models import Event, GradeSignal, PostAnalysis, Topic
from yuqing.cases.models import STAGE_LABELS, Case, CaseAction, Deadline, DeadlineState, Stage
from yuqing.cases.plan import CATEGORIES, DeadlineKind, load_plan, rule_text
from yuqing.cases.service import deadline_label, grade_note_for
from yuqing.ingest.models import OFFICIAL_AUTHOR_KINDS, Post, Source
from yuqing.org.models import Unit
from yuqing.org.roles import ROLE_LABELS, Role
from yuqing.org.scope import EVERYTHING, Scope
from yuqing.org.service import find_unit
from yuqing.reports import charts
from yuqing.reports.common import (
    GRADE_NAMES,
    PLATFORM_LABELS,
    SENTIMENT_LABELS,
    TIER_LABELS,
    ReportError,
    clip,
    duration_text,
    nested_quotes,
    percent,
    released_statements,
    root_unit,
    subject,
    time_text,
)
from yuqing.reports.document import Bullets, Document, Paragraph, Quote, Section, Table
from yuqing.reports.opinions import is_focus_word, quotable, remark, representative_key, sort_stances
from yuqing.runtime import Runtime

__all__ = ["build_special", "deadline_rows", "measure_rows", "nested_quotes"]

# Case timeline entries that are bookkeeping rather than measures.
_NOT_MEASURES = {"calendar_warning", "deadline"}
_VIEW_MIN_CHARS = 8
# The category that owes a formal written reply (cases.service starts its clock on it).
FORMAL_REPLY_CATEGORY = "询问/质疑/诉求"
_NOT_WORDS = re.compile(r"@[\w\-]+|https?://\S+|\[[^\]]{1,8}\]|[^\w]|_", re.UNICODE)


@dataclass(frozen=True)
class _Post:
    id: int
    when: dt.datetime
    platform: str
    site: str
    source: str
    author: str
    text: str
    kind: str
    tier: str
    engagement: int
    sentiment: str
    flags: tuple[str, ...]
    verified: bool = False
    official: bool = False  # verified as a government body or a medium


def _trend(posts: list[_Post], newest: dt.datetime, now: dt.datetime, zone: str) -> str:
    """「发展态势」 up to the report's 数据截至, not to the newest post: a story whose last post came
    eight months ago read 「最近6小时（至最新信息时间）新增1条，此前6小时0条，热度上升」."""
    window = dt.timedelta(hours=6)
    recent = sum(1 for p in posts if now - window < p.when <= now)
    before = sum(1 for p in posts if now - 2 * window < p.when <= now - window)
    if recent == before == 0:
        quiet = duration_text(max(0.0, (now - newest).total_seconds() / 60))
        return (
            f"发展态势：截至{time_text(now, zone)}，近12小时无新增信息（最新一条发布于"
            f"{time_text(newest, zone)}，距今{quiet}），热度已回落。"
        )
    trend = "上升" if recent > before else ("回落" if recent < before else "持平")
    counts = f"最近6小时新增{recent}条，此前6小时{before}条"
    return f"发展态势：截至{time_text(now, zone)}，{counts}，热度{trend}。"


def _site(post: Post, source_name: str) -> str:
    """Where a post was published, as a reader names it: a platform's posts are on 微博 or 微信
    (not 「weibo.com」), a news site or forum's by its host, or by its source's name."""
    if post.platform not in MULTI_SITE_PLATFORMS:
        return PLATFORM_LABELS.get(post.platform, post.platform)
    if post.url:
        host = urlsplit(post.url).hostname
        if host:
            return host.removeprefix("www.")
    return source_name


# An account the collected data gives no name for, told by what its platform verified it as:
# a verified medium or government body is not an anonymous user.
_UNNAMED = {
    "government": "认证政务账号",
    "media": "认证媒体账号",
    "enterprise": "认证企业账号",
    "campus": "认证校园账号",
    "website": "认证网站账号",
    "organisation": "认证机构账号",
    "individual": "认证个人用户",
}


def _unnamed(verified: bool | None, kind: str | None) -> str:
    if verified is not True:
        return "匿名用户"
    return _UNNAMED.get(kind or "", "认证用户")


def _load_posts(session: Session, event_id: int) -> list[_Post]:
    rows = session.execute(
        select(Post, PostAnalysis)
        .join(PostAnalysis, PostAnalysis.post_id == Post.id)
        .where(PostAnalysis.event_id == event_id)
    ).all()
    sources = {s.id: s.name for s in session.scalars(select(Source))}
    posts = [
        _Post(
            id=post.id,
            when=post.published_at or post.fetched_at,
            platform=post.platform,
            site=_site(post, sources.get(post.source_id, "")),
            source=sources.get(post.source_id, ""),
            author=post.author or _unnamed(post.author_verified, post.author_kind),
            text=post.text or post.title or "",
            kind=post.kind,
            tier=post.media_tier,
            engagement=(post.reposts or 0) + (post.comments or 0) + (post.likes or 0),
            sentiment=analysis.sentiment,
            flags=tuple(analysis.flags or ()),
            verified=post.author_verified is True,
            official=post.author_verified is True and post.author_kind in OFFICIAL_AUTHOR_KINDS,
        )
        for post, analysis in rows
    ]
    posts.sort(key=lambda p: (p.when, p.id))
    return posts


_ORDINALS = "一二三四五六七八"


def _stance_views(opinion: Section, posts: list[_Post], quoted: list[frozenset[str]], zone: str) -> int:
    """「一是质疑信息真实性，要求公开真相，35条，占表态信息的28.0%。代表性言论：…」: the stances the
    reposts and comments take in their own words (`reports.opinions`), at most four, each with a
    remark not quoted yet. The number of views written (0: none stands out)."""
    reactions = [p for p in posts if p.kind in REPLY_KINDS]
    found, stated = sort_stances([p.text for p in reactions])
    found = found[:4]
    if not found:
        return 0
    opinion.add(
        Paragraph(
            f"在{len(reactions)}条转发和评论中，可归入以下常见观点的有{stated}条"
            "（其余多为单纯转发、@好友、表情或未能归类的言论；一条信息可归入多类）："
        )
    )
    for rank, stance in enumerate(found):
        group = [reactions[i] for i in stance.posts]
        fresh = [
            p
            for p in group
            if quotable(p.text, stance.label)
            and not any(_alike(_shingles(remark(p.text)), q) for q in quoted)
        ]
        share = percent(len(group), stated)
        line = f"{_ORDINALS[rank]}是{stance.label}，{len(group)}条，占可归类言论的{share}。"
        if not fresh:
            opinion.add(Paragraph(line))
            continue
        representative = max(
            fresh, key=lambda p: (*representative_key(p.text, p.engagement, stance.label), -p.id)
        )
        quoted.append(_shingles(remark(representative.text)))
        opinion.add(
            Paragraph(line + "代表性言论："),
            Quote(clip(remark(representative.text), 160), _source_line(representative, zone)),
        )
    return len(found)


def _shingles(text: str) -> frozenset[str]:
    """Character 4-grams of a post's words (mentions, links, emoticons and punctuation left out);
    a repost's chain counts, so 「太可怕了//@网友:原文」 is alike to the original it quotes."""
    words = _NOT_WORDS.sub("", text)
    return frozenset(words[i : i + 4] for i in range(max(len(words) - 3, 1)))


def _alike(a: frozenset[str], b: frozenset[str]) -> bool:
    """Near-identical comments (Jaccard of 4-grams ≥ 0.5) are quoted once."""
    return bool(a and b) and len(a & b) >= 0.5 * len(a | b)


def _issuer(session: Session, event: Event, cases: list[Case], scope: Scope, own_unit_id: int | None) -> Unit:
    """The unit that issues the report: of the first case the writer sees, else the topic's unit
    when the writer sees it, else the writer's own unit (else the top unit)."""
    if cases:
        unit = session.get(Unit, cases[0].unit_id)
        if unit is not None:
            return unit
    if event.topic_id is not None:
        topic = session.get(Topic, event.topic_id)
        if topic is not None and topic.unit:
            try:
                unit = find_unit(session, topic.unit)
            except LookupError:
                pass
            else:
                if scope.sees(unit.id) or own_unit_id is None:
                    return unit
    if own_unit_id is not None:
        own = session.get(Unit, own_unit_id)
        if own is not None:
            return own
    return root_unit(session)


def _where(post: _Post) -> str:
    return f"{post.site} {post.author}"


def _source_line(post: _Post, zone: str) -> str:
    return f"{_where(post)}，{time_text(post.when, zone)}" + (
        f"，互动{post.engagement}次" if post.engagement else ""
    )


def _clock(at: dt.datetime, zone: str) -> str:
    """「07:00」: a time of the day the text has just named."""
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def measure_rows(session: Session, cases: list[Case], zone: str) -> list[tuple[str, ...]]:
    """What was done on the cases, in order: time, who, what (the case timeline without bookkeeping)."""
    if not cases:
        return []
    actions = session.scalars(
        select(CaseAction)
        .where(CaseAction.case_id.in_([c.id for c in cases]), CaseAction.action.not_in(_NOT_MEASURES))
        .order_by(CaseAction.at, CaseAction.id)
    )
    return [(time_text(a.at, zone), a.actor, a.text) for a in actions]


# The steps of a case up the chain that the timeline of a 专报 names (the measures table has all).
_MILESTONES = {
    "report_up": "向上级报告",
    "phone_report": "电话报告上级",
    "follow_up": "续报",
    "regrade": "调整等级",
}


def _case_milestones(session: Session, cases: list[Case]) -> list[tuple[dt.datetime, str]]:
    """Reports up, phone reports, 续报, a person's regrade and the close of each case, for the
    专报's timeline: it stopped at the release while the case was reported, followed up and closed."""
    if not cases:
        return []
    out: list[tuple[dt.datetime, str]] = []
    follow_ups: dict[int, int] = {}
    for action in session.scalars(
        select(CaseAction)
        .where(CaseAction.case_id.in_([c.id for c in cases]), CaseAction.action.in_(_MILESTONES))
        .order_by(CaseAction.at, CaseAction.id)
    ):
        label = _MILESTONES[action.action]
        if action.action == "follow_up":
            follow_ups[action.case_id] = follow_ups.get(action.case_id, 0) + 1
            label = f"第{follow_ups[action.case_id]}次续报"
        elif action.action == "regrade":  # 「等级 一般 → 重大：…」, with the reason given
            label = f"调整等级（{action.text.removeprefix('等级 ')}）"
        out.append((action.at, f"工单第{action.case_id}号{label}"))
    for case in cases:
        if case.closed_at is not None:
            done = "撤销" if case.withdrawn_at is not None else "结案"
            out.append((case.closed_at, f"工单第{case.id}号{done}"))
    return out


def deadline_rows(session: Session, cases: list[Case], zone: str) -> list[tuple[str, ...]]:
    """Each clock of the cases: what, the rule, due, done, state."""
    if not cases:
        return []
    clocks = session.scalars(
        select(Deadline)
        .where(Deadline.case_id.in_([c.id for c in cases]))
        .order_by(Deadline.started_at, Deadline.id)
    ).all()
    names = {row.id: row.name for row in session.execute(select(Unit.id, Unit.name))}
    return [
        (
            deadline_label(d, names),
            rule_text(d.rule),
            time_text(d.due_at, zone),
            time_text(d.done_at, zone) if d.done_at else "—",
            DeadlineState(d.state).label + ("（已延期）" if d.extended else ""),
        )
        for d in clocks
    ]


def build_special(
    rt: Runtime,
    event_id: int,
    *,
    number: str | None = None,
    scope: Scope = EVERYTHING,
    own_unit_id: int | None = None,
) -> Document:
    """The 舆情专报 of an event. An event is every unit's to read; its cases and alerts are not:
    with `scope` (the writer's), only the cases and alerts of the units the writer sees are in it,
    so another unit's drafts, rejections, tasks and replies never leave in a bureau's report."""
    zone = rt.settings.timezone
    now = rt.clock()
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        if event is None:
            raise ReportError(f"找不到事件 {event_id}（可用 yuqing events list 查看）")
        posts = _load_posts(session, event_id)
        if not posts:
            raise ReportError(f"事件 {event_id} 还没有经过分析的信息，无法生成专报")
        cases = list(
            session.scalars(
                select(Case).where(Case.event_id == event_id, scope.where(Case.unit_id)).order_by(Case.id)
            )
        )
        alerts = list(
            session.scalars(
                select(Alert).where(Alert.event_id == event_id, scope.where(Alert.unit_id)).order_by(Alert.id)
            )
        )
        # cases of units the writer does not see: never described, but never denied either
        unseen_cases = (
            session.scalar(select(func.count()).select_from(Case).where(Case.event_id == event_id)) or 0
        ) - len(cases)
        # who regraded the event is public; the reason is the case's, for those who see the case
        note_visible = grade_note_for(session, event, scope)
        signals = list(
            session.scalars(
                select(GradeSignal).where(GradeSignal.event_id == event_id).order_by(GradeSignal.id)
            )
        )
        topic = session.get(Topic, event.topic_id) if event.topic_id else None
        issuer = _issuer(session, event, cases, scope, own_unit_id)
        units = {u.id: u.name for u in session.scalars(select(Unit))}
        statements = released_statements(session, [c.id for c in cases])
        measures = measure_rows(session, cases, zone)
        clocks = deadline_rows(session, cases, zone)
        milestones = _case_milestones(session, cases)
        # a drill's event is a drill's report whoever writes it (its cases and alerts may be of
        # units the writer does not see)
        is_drill = bool(event.is_drill) or any(c.is_drill for c in cases) or any(a.is_drill for a in alerts)
        # located plainly elsewhere, with no alert or case here: the local government's (属地管理)
        elsewhere = (
            events_elsewhere(session, [event_id]).get(event_id)
            if event.grade_code and not event.is_drill and not rt.settings.alert_outside_regions
            else None
        )
        where_note = locate(session, event, held=bool(event.alert_held_elsewhere)).note if elsewhere else ""

    # quotes inside the quoted title become single quotes, as Chinese documents nest them:
    # 关于“中国最美丽的乡村‘江西婺源’一‘教师打死学生’”网络舆情的专报
    title_text = subject(event.title or posts[0].text)
    doc = Document(
        kind="special",
        banner="舆情专报",
        title=f"关于“{title_text}”网络舆情的专报",
        issuer=issuer.name,
        issued_at=now,
        zone=zone,
        number=number,
        meta=[
            ("事件编号", str(event.id)),
            ("监测专题", topic.name if topic else "未归入专题"),
            ("数据截至", time_text(now, zone)),
        ],
        is_drill=is_drill,
    )
    first, last = posts[0], posts[-1]
    kinds = Counter(p.kind for p in posts)
    sentiments = Counter(p.sentiment for p in posts)
    sites = Counter(p.site for p in posts)
    grade = GRADE_NAMES.get(event.grade_code or "", "未定级")

    # 一、舆情概要
    lead = (
        f"{time_text(first.when, zone)}起，{first.site}出现“{nested_quotes(clip(first.text, 50))}”相关信息。"
        f"截至{time_text(now, zone)}，共监测到相关信息{len(posts)}条"
        f"（原创{kinds.get('original', 0)}条、转发{kinds.get('repost', 0)}条、"
        f"评论{kinds.get('comment', 0)}条），"
        f"涉及站点和平台{len(sites)}个，负面信息{sentiments.get('negative', 0)}条，"
        f"占{percent(sentiments.get('negative', 0), len(posts))}。当前舆情等级：{grade}。"
    )
    if cases:
        case = cases[-1]
        lead += (
            f"已于{time_text(case.opened_at, zone)}开立工单（第{case.id}号），"
            f"现处于「{STAGE_LABELS[case.stage]}」阶段。"
        )
    elif unseen_cases:
        lead += "已由其他单位开立工单处置。"
    else:
        lead += "尚未开立工单。"
    doc.section("舆情概要").add(Paragraph(lead, "lead"))

    # 二、事件脉络
    timeline: list[tuple[dt.datetime, str]] = [
        (first.when, f"首发：{_where(first)}发布“{nested_quotes(clip(first.text, 60))}”")
    ]
    media = [p for p in posts if p.tier in ("central", "provincial", "city")]
    if media:
        m = media[0]
        said_first = nested_quotes(clip(m.text, 40))
        timeline.append((m.when, f"首家{TIER_LABELS[m.tier]}报道：{m.source or m.site}“{said_first}”"))
    hourly = Counter(p.when.replace(minute=0, second=0, microsecond=0) for p in posts)
    peak_hour, peak_count = max(hourly.items(), key=lambda item: (item[1], -item[0].timestamp()))
    # the peak is an hour, 06:00-07:00: it is placed on the timeline at its start or, when the
    # story began within that hour, at its first post (not before it)
    peak_span = f"{time_text(peak_hour, zone)}至{_clock(peak_hour + dt.timedelta(hours=1), zone)}"
    if len(hourly) > 1:
        timeline.append((max(peak_hour, first.when), f"传播高峰：{peak_span}新增信息{peak_count}条"))
    for signal in signals:
        to = GRADE_NAMES.get(signal.to_code, signal.to_code)
        text = {
            "graded": f"系统定级为{to}",
            "upgraded": f"等级升至{to}",
            "flare_up": f"舆情反弹，等级{to}",
            "rebutted": "出现官方辟谣，现等级依据的伤亡或公共安全信息被否认",
        }.get(signal.kind, to)
        timeline.append((signal.created_at, text))
    for alert in alerts:
        timeline.append((alert.created_at, f"向{units.get(alert.unit_id, '')}发出预警（{alert.grade}）"))
        if alert.acknowledged_at:
            timeline.append((alert.acknowledged_at, f"{units.get(alert.unit_id, '')}确认预警"))
    for case in cases:
        timeline.append((case.opened_at, f"开立工单第{case.id}号，责任单位{units.get(case.unit_id, '')}"))
    timeline.extend(milestones)
    for statement in statements:
        assert statement.released_at is not None
        timeline.append(
            (statement.released_at, f"通过{statement.channel or '—'}发布权威信息（第{statement.version}稿）")
        )
    if last.id != first.id:
        said = f"“{nested_quotes(clip(last.text, 40))}”" if last.text.strip() else "转发（未加评论）"
        timeline.append((last.when, f"最新信息：{_where(last)}{said}"))
    timeline.sort(key=lambda item: item[0])
    doc.section("事件脉络").add(
        Table(("时间", "节点"), tuple((time_text(at, zone), text) for at, text in timeline), (1, 3))
    )

    # 三、传播情况
    spread = doc.section("传播情况")
    span = last.when - first.when
    tz = ZoneInfo(zone)
    hourly_series = span <= dt.timedelta(hours=72)
    unit_text = "小时" if hourly_series else "日"

    def bucket(at: dt.datetime) -> str:
        t = at.astimezone(tz)
        return f"{t.month}月{t.day}日 {t.hour}时" if hourly_series else f"{t.month}月{t.day}日"

    step = dt.timedelta(hours=1) if hourly_series else dt.timedelta(days=1)
    cursor = first.when.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    if not hourly_series:
        cursor = cursor.replace(hour=0)
    buckets: list[str] = []
    while cursor <= last.when:
        buckets.append(bucket(cursor))
        cursor += step
    volume = Counter(bucket(p.when) for p in posts)
    negative = Counter(bucket(p.when) for p in posts if p.sentiment == "negative")
    spread.add(
        Paragraph(f"信息量在{peak_span}间达到高峰（一小时{peak_count}条）。按{unit_text}统计的走势见图1。"),
        charts.line_chart(
            f"图1 信息量走势（按{unit_text}）",
            buckets,
            {
                "信息量": [volume.get(b, 0) for b in buckets],
                "负面信息": [negative.get(b, 0) for b in buckets],
            },
            configured_font=rt.settings.report_font,
        ),
    )
    platforms = Counter(p.platform for p in posts)
    spread.add(
        Table(
            ("平台", "信息量（条）", "占比"),
            tuple(
                (PLATFORM_LABELS.get(name, name), str(count), percent(count, len(posts)))
                for name, count in platforms.most_common()
            ),
            (2, 1, 1),
            "表1 平台分布",
        )
    )
    first_seen_at: dict[str, dt.datetime] = {}
    for p in posts:
        first_seen_at.setdefault(p.site, p.when)
    spread.add(
        Table(
            ("站点", "信息量（条）", "首次出现"),
            tuple(
                (site, str(count), time_text(first_seen_at[site], zone))
                for site, count in sites.most_common(10)
            ),
            (2, 1, 2),
            f"表2 主要站点（前{min(10, len(sites))}个，共{len(sites)}个）",
        )
    )
    tiers = Counter(p.tier for p in media)
    if media:
        spread.add(
            Paragraph(
                "主流媒体参与情况："
                + "、".join(
                    f"{TIER_LABELS[t]}{tiers[t]}条" for t in ("central", "provincial", "city") if tiers[t]
                )
                + f"，首篇报道见于{time_text(media[0].when, zone)}（{media[0].source or media[0].site}）。"
            )
        )
    else:
        verified = [p for p in posts if p.verified]
        official = sum(p.official for p in verified)
        among = f"（其中政务、媒体账号{official}条）" if official else ""
        also = (
            f"认证账号发布{len(verified)}条{among}，"
            f"首条见于{time_text(verified[0].when, zone)}（{verified[0].author}）。"
            if verified
            else ""
        )
        spread.add(Paragraph(f"主流媒体参与情况：截至目前未监测到中央、省级和市级媒体报道。{also}"))
    spread.add(
        Table(
            ("时间", "站点", "发布者", "内容摘要"),
            tuple(
                (
                    time_text(p.when, zone, year=False),
                    p.site,
                    p.author,
                    # an emoticon or a mention is no comment (「[惊恐]」, 「@畅一半的歌呀」 filled the table)
                    clip(p.text, 60) if _NOT_WORDS.sub("", p.text) else "（转发，未加评论）",
                )
                for p in posts[:5]
            ),
            (1.3, 1.2, 1.2, 4),
            "表3 首发及早期传播者",
        )
    )

    # 四、网民观点
    opinion = doc.section("网民观点")
    mix = [(SENTIMENT_LABELS[key], sentiments.get(key, 0)) for key in ("negative", "neutral", "positive")]
    opinion.add(
        Paragraph(
            "情感倾向："
            + "，".join(f"{name}{count}条（{percent(count, len(posts))}）" for name, count in mix)
            + "。"
        ),
        charts.pie_chart(
            "图2 情感倾向分布",
            [m[0] for m in mix],
            [m[1] for m in mix],
            configured_font=rt.settings.report_font,
        ),
    )
    quoted: list[frozenset[str]] = []
    views = _stance_views(opinion, posts, quoted, zone)
    for word in event.keywords[:5] if views == 0 else ():
        about = [p for p in posts if word in p.text]
        if len(about) < max(2, len(posts) // 100):  # 2 posts of 300 on 「正常」 are no view of the event
            continue
        # a view is quoted in words: 「不正常」 alone says nothing a reader can weigh
        fresh = [
            p
            for p in about
            if len(_NOT_WORDS.sub("", p.text)) >= _VIEW_MIN_CHARS
            and not any(_alike(_shingles(p.text), q) for q in quoted)
        ]
        if not fresh:
            continue
        views += 1
        representative = max(fresh, key=lambda p: (p.engagement, -p.id))
        quoted.append(_shingles(representative.text))
        share = percent(sum(1 for p in about if p.sentiment == "negative"), len(about))
        opinion.add(
            Paragraph(f"观点{views}：围绕“{word}”的信息{len(about)}条，其中负面占{share}。代表性言论："),
            Quote(clip(representative.text, 160), _source_line(representative, zone)),
        )
    if views and event.keywords:
        texts = [p.text for p in posts]
        focus = [(w, sum(1 for t in texts if w in t)) for w in event.keywords[:8] if is_focus_word(w, texts)]
        focus = [(w, n) for w, n in focus if n >= 2][:5]
        if focus:
            opinion.add(Paragraph("讨论焦点：" + "、".join(f"“{w}”（{n}条）" for w, n in focus) + "。"))
    if views == 0:
        top = sorted((p for p in posts if p.text.strip()), key=lambda p: (-p.engagement, p.id))[:3]
        opinion.add(Paragraph("信息量较小，尚未形成集中观点。互动量最高的信息如下："))
        opinion.add(*(Quote(clip(p.text, 160), _source_line(p, zone)) for p in top))

    # 五、研判
    assessment = doc.section("研判")
    if event.grade_code:
        reason_lines = tuple(str(r.get("text", "")) for r in event.reasons if r.get("text"))
        if event.grade_set_by:
            system = GRADE_NAMES.get(event.system_grade_code or "", "")
            computed = f"系统按本单位预案的分级标准定为{system}，" if system else "系统定级"
            assessment.add(
                Paragraph(
                    f"该舆情经{event.grade_set_by}调整，当前定为{grade}"
                    + (f"（{note_visible}）" if note_visible else "")
                    + f"；{computed}依据如下："
                )
            )
        else:
            assessment.add(Paragraph(f"按照本单位预案的分级标准，该舆情当前定为{grade}，依据如下："))
        if reason_lines:
            assessment.add(Bullets(reason_lines))
    else:
        assessment.add(Paragraph("该事件尚未达到预案规定的任何预警等级条件，暂不定级，继续监测。"))
    if elsewhere:
        assessment.add(Paragraph(f"{where_note}。"))
    flag_counts = Counter(flag for p in posts for flag in p.flags)
    if flag_counts:
        assessment.add(
            Paragraph(
                "涉及敏感因素："
                + "、".join(f"{FLAG_LABELS.get(f, f)}（{n}条）" for f, n in flag_counts.most_common())
                + "。"
            )
        )
    assessment.add(Paragraph(_trend(posts, last.when, now, zone)))

    # 六、处置情况
    handling = doc.section("处置情况")
    if measures:
        handling.add(Table(("时间", "办理人", "事项"), tuple(measures), (1.3, 1, 4), "表4 处置过程"))
        if clocks:
            handling.add(
                Table(
                    ("时限", "要求", "截止时间", "完成时间", "状态"),
                    tuple(clocks),
                    (1.4, 0.8, 1.6, 1.6, 1.2),
                    "表5 时限执行",
                )
            )
        # what was said in public: the recipient reads the released text, not only that it went out
        for statement in statements:
            parts = (("事实", statement.facts), ("原因", statement.causes), ("进展", statement.progress))
            public = [
                f"{name}：{text.strip().rstrip('。；;')}" for name, text in parts if text and text.strip()
            ]
            handling.add(
                Paragraph(
                    f"已发布权威信息（第{statement.version}稿，{statement.channel or '—'}，"
                    f"{time_text(statement.released_at, zone)}）："
                ),
                Quote("；".join(public) + "。", f"{issuer.name}发布"),
            )
    elif unseen_cases:
        handling.add(Paragraph("该事件已由其他单位开立工单处置，处置记录由该单位掌握。"))
    else:
        handling.add(Paragraph("尚未开立工单，暂无处置记录。"))

    # 七、处置建议
    advice = doc.section("处置建议")
    if elsewhere:
        advice.add(
            Paragraph(
                f"该舆情事发地在{elsewhere}，由当地处置，本单位不启动预案规定的报告、回应等时限。建议："
            ),
            Bullets(
                (
                    "持续关注其传播态势和本地网民的反应；",
                    "排查本地是否存在同类问题，做好应对准备；",
                    "如出现涉及本地的信息，及时开立工单，按预案处置。",
                )
            ),
        )
        return doc
    plan = load_plan(rt.settings.plan_profile or None)
    category = next((c.category for c in reversed(cases) if c.category), None)
    if category:
        advice.add(Paragraph(f"该舆情已定性为「{category}」。按预案，应{CATEGORIES.get(category, '')}。"))
    else:
        advice.add(Paragraph("该舆情尚未定性。请尽快核实研判，按预案对应类别采取措施："))
        advice.add(Table(("类别", "处置措施"), tuple(CATEGORIES.items()), (1, 3)))
    closed = bool(cases) and cases[-1].stage == Stage.CLOSED.value
    if closed:
        # the plan's clocks are for a response under way, not for one the office has closed
        advice.add(Paragraph(f"工单已于{time_text(cases[-1].closed_at, zone)}结案，请继续关注舆情是否反复。"))
    elif event.grade_code:
        clock_lines = []
        clock_kinds = [
            DeadlineKind.REPORT,
            DeadlineKind.FIRST_RESPONSE,
            DeadlineKind.RELEASE,
            DeadlineKind.PRESS_CONFERENCE,
        ]
        if category in (None, FORMAL_REPLY_CATEGORY):  # a written reply is owed to 询问/质疑/诉求 only
            clock_kinds.append(DeadlineKind.FORMAL_REPLY)
        for kind in clock_kinds:
            duration = plan.duration(kind, event.grade_code)
            if duration is not None:
                unsure = kind == DeadlineKind.FORMAL_REPLY and not category
                owed = f"（如定性为{FORMAL_REPLY_CATEGORY}）" if unsure else ""
                clock_lines.append(f"{DeadlineKind.LABELS[kind]}{owed}：{duration}")
        approvers = "、".join(ROLE_LABELS[Role(r)] for r in plan.required_approvals(event.grade_code))
        advice.add(Paragraph(f"按{grade}的时限要求（自发现时起算）："), Bullets(tuple(clock_lines)))
        advice.add(Paragraph(f"对外发布的信息须经{approvers}审核同意；坚持“快报事实、慎报原因、重报进展”。"))
    return doc
