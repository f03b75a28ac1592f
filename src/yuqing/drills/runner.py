"""Replaying a drill: the scenario's posts go into the normal import path and its injects reach the
participants, each when the drill's virtual clock reaches its time.

The virtual clock: while running, the scenario stands at
``scenario_offset + (now - segment_started_at) * speed`` seconds; while paused it stands still at
``scenario_offset``. A post due at scenario second *t* is published at the real moment the clock
reached *t* (``started + (t - offset) / speed`` of the running segment that covers *t*), so the
pipeline sees the incident unfold now, and a pause shifts everything after it by the pause's
length — also for a post that fell due just before the pause and is fed after it.

`step` feeds whatever is due. It is safe to run twice or concurrently: the posts have ids of the
drill's own (an import of the same post again is a duplicate), and the cursors move, with the
injects' notices and log lines, in one transaction guarded by the cursors it read.

`DrillWorker` steps the drills started with `yuqing drill start` inside `yuqing serve`;
`run_foreground` is `yuqing drill run`: it steps one drill and runs the pipeline, the response
duties and notification delivery itself, until the scenario is fully replayed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yuqing.alerts.notices import tell
from yuqing.background import PeriodicWorker
from yuqing.db import transaction
from yuqing.drills.errors import DrillNotFound
from yuqing.drills.models import Drill, DrillLogEntry, DrillRunner, DrillState
from yuqing.drills.policy import DRILL_PREFIX, post_mark
from yuqing.drills.scenario import Inject, Scenario, ScenarioPost, parse_scenario
from yuqing.drills.states import transition
from yuqing.ingest import service as ingest
from yuqing.ingest.models import Post, Source
from yuqing.ingest.store import PostWriter
from yuqing.notify.messages import Level, Message
from yuqing.org.models import Person, RoleAssignment
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)

# `drill run` waits at least this long between rounds (posts due meanwhile are fed together, each
# still published at its own moment) and at most `tick` seconds.
MIN_WAIT_SECONDS = 0.5


def scenario_seconds(drill: Drill, now: dt.datetime) -> float:
    """Where the drill's virtual clock stands at `now` (seconds from the scenario's start)."""
    if drill.state != DrillState.RUNNING.value or drill.segment_started_at is None:
        return drill.scenario_offset
    return drill.scenario_offset + max((now - drill.segment_started_at).total_seconds(), 0.0) * drill.speed


def real_time(drill: Drill, seconds: float) -> dt.datetime:
    """The real moment the drill's clock reached (or reaches) scenario second `seconds`: in the
    running segment that covers it, the latest one starting at or before it."""
    segments = drill.segments or []
    if not segments:
        raise ValueError(f"drill {drill.id} has not started")
    chosen = segments[0]
    for segment in segments:
        if float(segment["offset"]) <= seconds:
            chosen = segment
    started = dt.datetime.fromisoformat(str(chosen["started_at"]))
    return started + dt.timedelta(seconds=max(seconds - float(chosen["offset"]), 0.0) / drill.speed)


def drill_scenario(drill: Drill) -> Scenario:
    return parse_scenario(drill.scenario, f"演练 #{drill.id}")


def post_row(drill_id: int, post: ScenarioPost, published: dt.datetime) -> dict[str, Any]:
    """The import row of a scenario post in this drill: ids of the drill's own, the drill's mark
    in front of the text, published when the drill's clock reached it."""
    tag = f"drill{drill_id}-"
    mark = post_mark(drill_id)
    row: dict[str, Any] = {
        "id": tag + post.key,
        "cascade": tag + (post.root or post.key),
        "kind": post.kind,
        "platform": post.platform,
        "text": mark + post.text if post.text else "",
        "published_at": published.isoformat(),
    }
    if post.parent:
        row["parent"] = tag + post.parent
    if post.title:
        row["title"] = mark + post.title
    author = {
        name: value
        for name, value in (
            ("name", post.author),
            ("followers", post.followers),
            ("verified", post.verified),
            ("verified_type", post.author_kind),
        )
        if value is not None
    }
    if author:
        row["author"] = author
    for name in ("location", "views", "reposts", "comments", "likes", "media_tier"):
        value = getattr(post, name)
        if value is not None:
            row[name] = value
    if post.site:
        # The site counts for grading through the URL's host; the page does not exist.
        row["url"] = f"https://{post.site}/yuqing-drill/{drill_id}/{post.key}"
    return row


@dataclass
class StepResult:
    posts: int = 0
    injects: int = 0
    finished: bool = False
    # Real seconds until the next post or inject is due; None when nothing is left or not running.
    next_in: float | None = None


class _Overtaken(Exception):
    """Another step moved the cursors first: this one's log lines and notices are dropped."""


def step(rt: Runtime, drill_id: int, writer: PostWriter) -> StepResult:
    """Feed the posts and injects of a running drill whose time has come."""
    now = rt.clock()
    with rt.sessions() as session:
        drill = session.get(Drill, drill_id)
        if drill is None:
            raise DrillNotFound(drill_id)
        if drill.state != DrillState.RUNNING.value:
            return StepResult()
        session.expunge(drill)
    scenario = drill_scenario(drill)
    seconds = scenario_seconds(drill, now)
    posts = _due(scenario.posts, drill.posts_fed, seconds)
    injects = _due(scenario.injects, drill.injects_fed, seconds)
    if posts:
        source = _source_name(rt, drill)
        data = "\n".join(
            json.dumps(post_row(drill.id, p, real_time(drill, p.at)), ensure_ascii=False) for p in posts
        )
        ingest.import_data(
            rt,
            writer,
            data.encode("utf-8"),
            origin=f"drill{drill.id}",
            file_format="jsonl",
            source_name=source,
        )
        with transaction(rt.sessions) as session:
            session.execute(
                update(Post)
                .where(Post.source_id == drill.source_id, Post.is_drill.is_(False))
                .values(is_drill=True)
                .execution_options(synchronize_session=False)
            )
    fed_posts, fed_injects = drill.posts_fed + len(posts), drill.injects_fed + len(injects)
    done = fed_posts >= len(scenario.posts) and fed_injects >= len(scenario.injects)
    try:
        with transaction(rt.sessions) as session:
            values: dict[str, Any] = {"posts_fed": fed_posts, "injects_fed": fed_injects}
            if done:
                values["state"] = transition(drill.state, "finish", drill.id).value
                values["ended_at"] = now
                values["scenario_offset"] = scenario.duration
            seconds = min(seconds, scenario.duration)
            moved = session.execute(
                update(Drill)
                .where(
                    Drill.id == drill.id,
                    Drill.state == DrillState.RUNNING.value,
                    Drill.posts_fed == drill.posts_fed,
                    Drill.injects_fed == drill.injects_fed,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _Overtaken
            if posts:
                from_injects = sorted({p.inject for p in posts if p.inject})
                text = f"回放信息 {len(posts)} 条（累计 {fed_posts}/{len(scenario.posts)}）"
                if from_injects:
                    # the inject as the participants read it (its text), not its key in the scenario
                    said = {i.key: i.text for i in scenario.injects}
                    names = "、".join(f"「{_clip(said.get(key, key))}」" for key in from_injects)
                    text += f"，含情景注入{names}带来的信息"
                add_log(session, drill.id, now, seconds, "posts", text, {"post_keys": [p.key for p in posts]})
            for inject in injects:
                _deliver_inject(session, drill, scenario, inject, real_time(drill, inject.at))
            if done:
                add_log(session, drill.id, now, seconds, "state", "场景全部回放完毕")
    except _Overtaken:
        return StepResult()
    return StepResult(len(posts), len(injects), done, None if done else _next_in(drill, scenario, seconds))


def _due(items: Sequence[Any], fed: int, seconds: float) -> list[Any]:
    out = []
    for item in items[fed:]:
        if item.at > seconds:
            break
        out.append(item)
    return out


def _next_in(drill: Drill, scenario: Scenario, seconds: float) -> float | None:
    times = [p.at for p in scenario.posts[drill.posts_fed :]] + [
        i.at for i in scenario.injects[drill.injects_fed :]
    ]
    upcoming = [t for t in times if t > seconds]
    return (min(upcoming) - seconds) / drill.speed if upcoming else 0.0


def _source_name(rt: Runtime, drill: Drill) -> str:
    with rt.sessions() as session:
        name = session.scalar(select(Source.name).where(Source.id == drill.source_id))
    if name is None:
        raise DrillNotFound(drill.id)
    return name


def add_log(
    session: Session,
    drill_id: int,
    at: dt.datetime,
    seconds: float | None,
    kind: str,
    text: str,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        DrillLogEntry(
            drill_id=drill_id, at=at, scenario_seconds=seconds, kind=kind, text=text, detail=detail or {}
        )
    )


def inject_recipients(session: Session, participants: Sequence[int], roles: Sequence[str]) -> list[Person]:
    """The participants an inject reaches: all of them, or those holding one of its roles."""
    people = list(session.scalars(select(Person).where(Person.id.in_(participants)).order_by(Person.id)))
    if not roles:
        return people
    holders = set(
        session.scalars(
            select(RoleAssignment.person_id).where(
                RoleAssignment.person_id.in_(participants), RoleAssignment.role.in_(roles)
            )
        )
    )
    return [p for p in people if p.id in holders]


def _deliver_inject(
    session: Session, drill: Drill, scenario: Scenario, inject: Inject, at: dt.datetime
) -> None:
    people = inject_recipients(session, drill.participants, inject.to)
    minute = inject.at / 60
    message = Message(
        title=f"{DRILL_PREFIX}【{inject.kind}】{scenario.name}",
        body=inject.text,
        at=at,
        level=Level.INFO,
        facts=(
            ("演练", f"#{drill.id} {drill.name}"),
            ("情景注入", inject.kind),
            ("场景时间", f"第 {minute:g} 分钟"),
        ),
        internal_only=not drill.allow_external,
    )
    queued = tell(
        session, people, message, key=f"drill:{drill.id}:inject:{inject.key}", subject=("drill", drill.id)
    )
    told = "、".join(p.name for p in people) if people else "（无参演人员可通知，仅记入演练日志）"
    add_log(
        session,
        drill.id,
        at,
        inject.at,
        "inject",
        f"情景注入「{inject.kind}」：{inject.text.rstrip('。；;.')}。通知：{told}",
        {"inject": inject.key, "kind": inject.kind, "people": [p.id for p in people], "queued": queued},
    )


class DrillWorker(PeriodicWorker):
    """Steps every running drill started for the server (`yuqing drill start`) inside `yuqing serve`."""

    def __init__(self, rt: Runtime, interval: float = 2.0, writer: PostWriter | None = None) -> None:
        super().__init__("yuqing-drills", interval)
        self._rt = rt
        self._writer = writer or PostWriter(rt.sessions, rt.settings, rt.clock)

    def work(self) -> bool:
        with self._rt.sessions() as session:
            running = list(
                session.scalars(
                    select(Drill.id).where(
                        Drill.state == DrillState.RUNNING.value, Drill.runner == DrillRunner.SERVER.value
                    )
                )
            )
        more = False
        for drill_id in running:
            result = step(self._rt, drill_id, self._writer)
            if result.posts or result.injects:
                log.info("drill %d: %d posts, %d injects fed", drill_id, result.posts, result.injects)
            more = more or result.next_in == 0.0
        return more


def run_foreground(
    rt: Runtime,
    drill_id: int,
    *,
    sleep: Callable[[float], None] = time.sleep,
    tick: float = 2.0,
    pipeline: bool = True,
    on_step: Callable[[StepResult], None] | None = None,
) -> str:
    """Step the drill until the scenario is fully replayed (or someone stops it), running the
    analysis pipeline, the response duties and notification delivery after each step. Returns
    the drill's final state."""
    from yuqing.analysis.pipeline import AnalysisPipeline
    from yuqing.cases.followup import run_once
    from yuqing.notify.outbox import deliver_due

    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    analysis = AnalysisPipeline(rt) if pipeline else None
    while True:
        result = step(rt, drill_id, writer)
        if analysis is not None:
            analysis.run()
            run_once(rt)
            deliver_due(rt)
        if on_step is not None:
            on_step(result)
        with rt.sessions() as session:
            state = session.scalar(select(Drill.state).where(Drill.id == drill_id))
        if state in (DrillState.FINISHED.value, DrillState.STOPPED.value, DrillState.CLOSED.value, None):
            return state or DrillState.STOPPED.value
        wait = tick if result.next_in is None else min(max(result.next_in, MIN_WAIT_SECONDS), tick)
        sleep(wait)


def _clip(text: str, limit: int = 20) -> str:
    """The start of an inject's text, for a log line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
