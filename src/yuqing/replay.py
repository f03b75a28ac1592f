"""The demo's live part: CED cascades replayed into the store at an accelerated clock.

`yuqing demo` loads the first rows of the CED file as history and starts a `ReplayWorker` beside
the server. The worker takes a window of later cascades and feeds their posts through the normal
import path (`service.import_data` with a `PostWriter`), each when its time comes: cascade *i*
starts `stagger` seconds after the one before it, and within a cascade a post that came *t* after
the original comes *t / speed* after the replayed original (speed 60: an hour of the cascade per
minute). Its `published_at` is the moment it is fed — the replay presents its posts as arriving
now, so the pipeline sees the cascade unfold now, the dashboard's last-72-hours chart and the
event list show it by those times, and the response worker raises and escalates alerts while one
watches. The post's real time (2010-2015) is kept as `original_published_at` among its stored
fields, as evidence.

Replayed posts get ids of their own (`…~r<start>`), so every demo run replays afresh.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yuqing.background import PeriodicWorker
from yuqing.demo import as_collected, demo_topic_matcher, published_at
from yuqing.ingest import service
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)

REPLAY_SOURCE = "演示:实时回放(CED)"
Row = dict[str, Any]


@dataclass(frozen=True)
class Scheduled:
    """A row and when to feed it, in seconds of real time after the replay starts."""

    offset: float
    row: Row


def schedule(
    rows: Iterable[Row], *, speed: float = 60.0, stagger: float = 120.0, horizon_hours: float = 72.0
) -> list[Scheduled]:
    """When each row is fed: cascades in the order they first appear, `stagger` seconds apart,
    each unfolding at `speed`× its real pace; posts later than `horizon_hours` after their
    cascade's first post, and posts without a time, are left out."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    cascades: dict[str, list[tuple[dt.datetime, Row]]] = {}
    for row in rows:
        at = published_at(row.get("published_at"))
        if at is None:
            continue
        cascades.setdefault(str(row.get("cascade") or row.get("id")), []).append((at, row))
    out: list[Scheduled] = []
    horizon = horizon_hours * 3600
    for index, posts in enumerate(cascades.values()):
        start = min(at for at, _ in posts)
        for at, row in posts:
            elapsed = (at - start).total_seconds()
            if elapsed <= horizon:
                out.append(Scheduled(index * stagger + elapsed / speed, row))
    out.sort(key=lambda item: item.offset)
    return out


def ced_window(
    path: Path,
    *,
    skip: int,
    cascades: int = 12,
    max_rows: int = 20000,
    relevant: Callable[[str], bool] | None = None,
) -> list[Row]:
    """Whole cascades after the first `skip` rows of the CED file: those whose original is
    `relevant` (default: matches a demo topic) first, then others, up to `cascades` cascades and
    about `max_rows` rows. A cascade whose original lies within the first `skip` rows (the
    history) is left out: its posts are history's."""
    is_relevant = relevant or demo_topic_matcher()
    raw = path.read_bytes()
    stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if raw[:2] == b"\x1f\x8b" else io.BytesIO(raw)
    groups: dict[str, list[Row]] = {}
    relevant_keys: list[str] = []
    others = 0  # cascades kept in case too few match; the rest are read past, not kept
    skipped: set[str] = set()
    for number, line in enumerate(stream):
        if number < skip or not line.strip():
            continue
        row: Row = json.loads(line)
        key = str(row.get("cascade") or row.get("id"))
        if key in skipped:
            continue
        if key not in groups:
            if row.get("kind", "original") != "original":
                skipped.add(key)  # the rest of a cascade begun in the history
                continue
            if len(relevant_keys) >= cascades:
                break  # enough matching cascades; this is a new one
            matches = is_relevant(str(row.get("text", "")))
            keep = matches or others < cascades
            if not keep:
                continue
            groups[key] = []
            if matches:
                relevant_keys.append(key)
            else:
                others += 1
        groups[key].append(row)
    chosen = relevant_keys + [key for key in groups if key not in relevant_keys]
    out: list[Row] = []
    for key in chosen[:cascades]:
        if out and len(out) + len(groups[key]) > max_rows:
            continue
        out.extend(groups[key])
    return out


def _retag(row: Row, tag: str) -> Row:
    """The row with ids of this replay's own, the cascade's links kept."""
    copy = dict(row)
    for name in ("id", "cascade", "parent"):
        if copy.get(name):
            copy[name] = f"{copy[name]}{tag}"
    return copy


class ReplayWorker(PeriodicWorker):
    """Feeds a schedule of rows into the store as their times come (see the module's note)."""

    def __init__(
        self,
        rt: Runtime,
        rows: Iterable[Row] | Callable[[], Iterable[Row]],
        *,
        speed: float = 60.0,
        stagger: float = 120.0,
        clock: Callable[[], dt.datetime] | None = None,
        writer: PostWriter | None = None,
        interval: float = 5.0,
        batch: int = 2000,
        tag: str | None = None,
        source_name: str = REPLAY_SOURCE,
    ) -> None:
        super().__init__("replay", interval)
        self.rt = rt
        self._rows = rows
        self.speed = speed
        self.stagger = stagger
        self.clock = clock or rt.clock
        self.writer = writer or PostWriter(rt.sessions, rt.settings, rt.clock)
        self.batch = batch
        self.tag = tag
        self.source_name = source_name
        self.started_at: dt.datetime | None = None
        self._schedule: list[Scheduled] | None = None
        self.fed = 0

    @property
    def total(self) -> int:
        return len(self._schedule or [])

    @property
    def finished(self) -> bool:
        return self._schedule is not None and self.fed >= len(self._schedule)

    def _prepare(self) -> list[Scheduled]:
        rows = self._rows() if callable(self._rows) else self._rows
        planned = schedule(rows, speed=self.speed, stagger=self.stagger)
        self.started_at = self.clock()
        if self.tag is None:
            self.tag = f"~r{int(self.started_at.timestamp())}"
        log.info("replay: %d posts at %g× from %s", len(planned), self.speed, self.started_at.isoformat())
        return planned

    def work(self) -> bool:
        """Feed every row whose time has come (at most `batch`); True when more are due already."""
        if self._schedule is None:
            self._schedule = self._prepare()
        if self.finished or self.started_at is None:
            return False
        started = self.started_at
        elapsed = (self.clock() - started).total_seconds()
        due: list[Row] = []
        while self.fed + len(due) < len(self._schedule) and len(due) < self.batch:
            item = self._schedule[self.fed + len(due)]
            if item.offset > elapsed:
                break
            row = as_collected(_retag(item.row, self.tag or ""))
            # Presented as arriving now; the real time stays with the post as evidence.
            row["original_published_at"] = item.row.get("published_at")
            row["published_at"] = (started + dt.timedelta(seconds=item.offset)).isoformat()
            due.append(row)
        if not due:
            return False
        data = "\n".join(json.dumps(row, ensure_ascii=False) for row in due).encode("utf-8")
        service.import_data(
            self.rt,
            self.writer,
            data,
            origin=f"replay{self.tag}",
            file_format="jsonl",
            source_name=self.source_name,
            platform="weibo",
        )
        self.fed += len(due)
        if self.finished:
            log.info("replay: all %d posts fed", self.fed)
        next_offset = self._schedule[self.fed].offset if not self.finished else None
        return next_offset is not None and next_offset <= elapsed


def demo_replay(rt: Runtime, path: Path, *, skip: int, speed: float = 60.0) -> ReplayWorker:
    """The worker of `yuqing demo`: cascades after the first `skip` rows of the CED file (read in
    the worker's thread, so the server starts at once)."""
    return ReplayWorker(rt, lambda: ced_window(path, skip=skip), speed=speed)
