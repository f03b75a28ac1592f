"""When each source runs next: cron expressions or intervals, jitter, back-off, and health.

A schedule is a cron expression read in the configured time zone (default `0 8,20 * * *`: 08:00
and 20:00 Asia/Shanghai, the plan's twice-a-day scan) or an interval such as `30m`, `2h`, `1d`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MIN_INTERVAL = dt.timedelta(seconds=30)
_MAX_INTERVAL = dt.timedelta(days=366)


class ScheduleError(ValueError):
    """A schedule that is neither a cron expression nor an interval."""


@dataclass(frozen=True)
class Schedule:
    spec: str
    interval: dt.timedelta | None
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, zone: str = "Asia/Shanghai") -> Schedule:
        spec = spec.strip()
        match = _INTERVAL.match(spec)
        if match:
            seconds = int(match[1]) * _UNITS[match[2].lower()]
            if seconds > _MAX_INTERVAL.total_seconds():
                raise ScheduleError(f"间隔太长：{spec}（至多 {_MAX_INTERVAL.days} 天）")
            interval = dt.timedelta(seconds=seconds)
            if interval < _MIN_INTERVAL:
                raise ScheduleError(f"间隔太短：{spec}（至少 30 秒）")
            return cls(spec, interval, ZoneInfo(zone))
        if not croniter.is_valid(spec):
            raise ScheduleError(
                f"无法识别的采集计划 {spec!r}：请写 cron 表达式（如 '0 8,20 * * *'）或间隔（如 30m、2h、1d）"
            )
        try:  # a date that never comes (「0 0 30 2 *」) is valid cron but has no run
            croniter(spec, dt.datetime(2026, 1, 5, tzinfo=ZoneInfo(zone))).get_next(dt.datetime)
        except CroniterError as exc:
            raise ScheduleError(f"采集计划 {spec!r} 没有可用的运行时间（如 2 月 30 日）：{exc}") from None
        return cls(spec, None, ZoneInfo(zone))

    def shortest_interval(self) -> float:
        """The shortest time between two runs, in seconds (for a cron expression, over the runs
        of the coming week)."""
        if self.interval is not None:
            return self.interval.total_seconds()
        runs = croniter(self.spec, dt.datetime(2026, 1, 5, tzinfo=self.zone))
        try:
            times = [runs.get_next(dt.datetime) for _ in range(200)]
        except CroniterError as exc:  # a date that never comes (0 0 31 2 *)
            raise ScheduleError(f"采集计划 {self.spec!r} 没有可用的运行时间：{exc}") from None
        week = [t for t in times if t - times[0] <= dt.timedelta(days=7)]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(week)]
        return min(gaps) if gaps else float("inf")

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first run time strictly after `moment` (aware, UTC)."""
        if self.interval is not None:
            return (moment + self.interval).astimezone(dt.UTC)
        local = moment.astimezone(self.zone)
        following: dt.datetime = croniter(self.spec, local).get_next(dt.datetime)
        return following.astimezone(dt.UTC)


def next_run(
    schedule: Schedule,
    now: dt.datetime,
    *,
    consecutive_failures: int = 0,
    jitter_seconds: int = 0,
    backoff_base_seconds: int = 300,
    backoff_max_seconds: int = 6 * 3600,
    rng: random.Random | None = None,
) -> dt.datetime:
    """When to run again: on schedule after a success; after a failure, a doubling back-off capped
    at the maximum, but never later than the next scheduled time."""
    scheduled = schedule.next_after(now)
    rng = rng or random.Random()
    jitter = dt.timedelta(seconds=rng.uniform(0, jitter_seconds)) if jitter_seconds else dt.timedelta()
    if consecutive_failures <= 0:
        return scheduled + jitter
    backoff = min(backoff_base_seconds * 2 ** (consecutive_failures - 1), backoff_max_seconds)
    retry = now + dt.timedelta(seconds=backoff) + jitter
    return min(retry, scheduled + jitter)


class HealthState:
    OK = "ok"
    NEVER_RUN = "never_run"
    FAILING = "failing"
    SILENT = "silent"
    OVERDUE = "overdue"
    DISABLED = "disabled"


HEALTH_LABELS = {
    HealthState.OK: "正常",
    HealthState.NEVER_RUN: "尚未采集",
    HealthState.FAILING: "连续失败",
    HealthState.SILENT: "疑似停更",
    HealthState.OVERDUE: "采集逾期",
    HealthState.DISABLED: "已停用",
}


def health_state(
    *,
    enabled: bool,
    last_run_at: dt.datetime | None,
    consecutive_failures: int,
    empty_runs: int,
    next_run_at: dt.datetime | None,
    now: dt.datetime,
    silent_after_runs: int,
    overdue_grace: dt.timedelta = dt.timedelta(hours=1),
) -> str:
    """One word for a source's health, checked in order of what needs attention first."""
    if not enabled:
        return HealthState.DISABLED
    if last_run_at is None:
        return HealthState.NEVER_RUN
    if consecutive_failures > 0:
        return HealthState.FAILING
    if empty_runs >= silent_after_runs:
        return HealthState.SILENT
    if next_run_at is not None and now - next_run_at > overdue_grace:
        return HealthState.OVERDUE
    return HealthState.OK
