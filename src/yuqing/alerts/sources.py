"""Alarms on sources that stop working (platform sources issue, item 2).

Bridges such as RSSHub and WeWe RSS fail quietly: a WeWe RSS account that expired keeps answering
with the same old articles, an RSSHub route whose cookie ran out returns an error page. A fetched
source that used to bring new posts and has brought none for `source_silent_hours` while it was
being fetched, or whose runs failed `source_failure_alarm_runs` times in a row, raises one alarm
per episode to the administrators (in-app and their channels, through the outbox); a source that
recovers and fails again raises a new one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from yuqing.alerts.notices import tell
from yuqing.db import transaction
from yuqing.ingest.models import Source
from yuqing.ingest.service import FETCHED_KINDS
from yuqing.notify.messages import Level, Message
from yuqing.org.models import Person, RoleAssignment
from yuqing.org.roles import Role
from yuqing.runtime import Runtime

__all__ = ["sweep_source_health"]


def sweep_source_health(rt: Runtime) -> int:
    """Raise the alarms due now (each once per episode: the outbox keys them); returns how many
    sources are in alarm."""
    now = rt.clock()
    settings = rt.settings
    silent_after = dt.timedelta(hours=settings.source_silent_hours)
    raised = 0
    with transaction(rt.sessions) as session:
        sources = session.scalars(
            select(Source).where(
                Source.enabled.is_(True),
                Source.drill_id.is_(None),
                Source.kind.in_([k.value for k in FETCHED_KINDS]),
            )
        ).all()
        alarms: list[tuple[Source, str, Message]] = []
        for source in sources:
            if source.consecutive_failures >= settings.source_failure_alarm_runs:
                since = source.last_success_at.isoformat() if source.last_success_at else "never"
                message = Message(
                    title=f"信息源「{source.name}」连续 {source.consecutive_failures} 次采集失败",
                    body=f"最近的错误：{(source.last_error or '未知')[:300]}。"
                    "若经由 RSSHub、WeWe RSS 等桥接服务，请检查其账号、访问密钥和路由是否仍然有效。",
                    at=now,
                    level=Level.YELLOW,
                    facts=_facts(source, settings.timezone),
                )
                alarms.append((source, f"source:{source.id}:failing:{since}", message))
            elif (
                source.last_new_at is not None
                and source.last_run_at is not None
                and source.last_run_at > source.last_new_at + silent_after
                and now - source.last_new_at >= silent_after
            ):
                hours = (now - source.last_new_at).total_seconds() / 3600
                message = Message(
                    title=f"信息源「{source.name}」已 {hours:.0f} 小时没有新信息",
                    body="该信息源一直在采集，但没有带来新的信息。若经由 RSSHub、WeWe RSS 等桥接服务，"
                    "常见原因是公众号/微博账号登录已过期或路由失效，请检查桥接服务。",
                    at=now,
                    level=Level.YELLOW,
                    facts=_facts(source, settings.timezone),
                )
                episode = source.last_new_at.isoformat()
                alarms.append((source, f"source:{source.id}:silent:{episode}", message))
        if not alarms:
            return 0
        administrators = session.scalars(
            select(Person)
            .join(RoleAssignment, RoleAssignment.person_id == Person.id)
            .where(RoleAssignment.role == Role.ADMIN.value, Person.active.is_(True))
            .order_by(Person.id)
            .distinct()
        ).all()
        for source, key, message in alarms:
            if tell(session, administrators, message, key=key, subject=("source", source.id)):
                raised += 1
    return raised


def _facts(source: Source, zone: str) -> tuple[tuple[str, str], ...]:
    from zoneinfo import ZoneInfo

    def local(moment: dt.datetime | None) -> str:
        return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if moment else "无"

    return (
        ("类型", source.kind),
        ("地址", source.url or "—"),
        ("上次有新信息", local(source.last_new_at)),
        ("最近一次采集", local(source.last_run_at)),
    )
