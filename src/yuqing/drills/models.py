"""Tables of the drills domain: each drill run with its replay state, and its log.

A drill keeps a snapshot of the scenario it runs (editing the file later does not change a
running drill) and the state of its virtual clock: the scenario seconds elapsed before the
current running segment (`scenario_offset`; while paused, where the clock stands) and when that
segment started (`segment_started_at`), so pausing and resuming shift the rest of the replay by
the pause. Every running segment is kept in `segments` (when it started, at which scenario
second), so a post that fell due just before a pause but was fed after it still gets the moment
it fell due.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime, utcnow


class DrillState(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"  # ended early by a person
    FINISHED = "finished"  # every post and inject of the scenario was replayed
    CLOSED = "closed"  # ended by a person after the replay finished: the team's work is over

    @property
    def label(self) -> str:
        return STATE_LABELS[self.value]


STATE_LABELS: dict[str, str] = {
    "created": "未开始",
    "running": "进行中",
    "paused": "已暂停",
    "stopped": "已停止",
    "finished": "回放完毕",
    "closed": "已结束",
}


class DrillRunner(enum.StrEnum):
    SERVER = "server"  # stepped by the drill worker inside `yuqing serve`
    FOREGROUND = "foreground"  # stepped by `yuqing drill run` in its own process


class Drill(Base):
    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The shipped scenario's name or the file the scenario was read from.
    scenario_ref: Mapped[str] = mapped_column(Text)
    scenario: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    state: Mapped[str] = mapped_column(String(20), default=DrillState.CREATED.value)
    runner: Mapped[str] = mapped_column(String(20), default=DrillRunner.SERVER.value)
    speed: Mapped[float] = mapped_column(Float, default=1.0)
    # Notices of the drill go to outside channels (e-mail, DingTalk, WeCom, Feishu) only when set.
    allow_external: Mapped[bool] = mapped_column(Boolean, default=False)
    participants: Mapped[list[int]] = mapped_column(JSONDocument, default=list)
    # The unit that runs the drill (its 办公室 operate it, the units above see it); None: the top
    # unit (a drill created from the command line). A units.id without a declared foreign key:
    # adding one would rebuild the table on SQLite.
    unit_id: Mapped[int | None] = mapped_column(Integer)
    # The drill's own source: its posts carry the drill through `sources.drill_id`.
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    segment_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scenario_offset: Mapped[float] = mapped_column(Float, default=0.0)
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    posts_fed: Mapped[int] = mapped_column(Integer, default=0)
    injects_fed: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list[str]] = mapped_column(JSONDocument, default=list)


class DrillLogEntry(Base):
    """The drill's own record: state changes, injects as they arrived, posts replayed."""

    __tablename__ = "drill_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drills.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where the scenario's own clock stood (seconds from its start).
    scenario_seconds: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(20))  # state | inject | posts
    text: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
