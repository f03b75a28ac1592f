"""When the storage under yuqing fails: the disk is full, the database is read-only, another
writer holds the lock past the wait, or a number does not fit the database's integers. Each is
recognised from the exception the driver raised (SQLite, PostgreSQL, the operating system), told
to people in one Chinese sentence that says what to do, and logged once per condition rather than
once per request or per background round.
"""

from __future__ import annotations

import enum
import errno
import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, StatementError

__all__ = ["BUSY_RETRY_AFTER", "StorageAlarm", "StorageProblem", "storage_problem"]

log = logging.getLogger(__name__)

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_FULL = 13
# PostgreSQL SQLSTATEs: disk_full, insufficient_resources; read_only_sql_transaction;
# numeric_value_out_of_range.
_PG_DISK_FULL = frozenset({"53100", "53000"})
_PG_READ_ONLY = frozenset({"25006"})
_PG_OUT_OF_RANGE = frozenset({"22003"})
# lock_not_available, deadlock_detected
_PG_BUSY = frozenset({"55P03", "40P01"})


class StorageProblem(enum.StrEnum):
    DISK_FULL = "disk_full"
    READ_ONLY = "read_only"
    OUT_OF_RANGE = "out_of_range"
    BUSY = "busy"

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def http_status(self) -> int:
        """507 Insufficient Storage; 503 while the database only reads or is busy (with
        Retry-After); 404 for a number so large that nothing can have it."""
        return {"disk_full": 507, "read_only": 503, "out_of_range": 404, "busy": 503}[self.value]


_MESSAGES = {
    StorageProblem.DISK_FULL: (
        "磁盘空间已满，数据无法保存：请管理员清理磁盘或扩容后重试（已保存的数据不受影响）"
    ),
    StorageProblem.READ_ONLY: (
        "数据库是只读的（数据库文件或其所在目录不可写，或以只读方式挂载）：可以查看，不能保存；"
        "请管理员检查权限后重试"
    ),
    StorageProblem.OUT_OF_RANGE: "找不到：编号超出范围",
    StorageProblem.BUSY: "数据库正忙（另一项写入，如大批量导入，正在进行）：本次请求未保存，请稍后重试",
}
# How long a client is asked to wait after a busy store (seconds).
BUSY_RETRY_AFTER = 5


def storage_problem(exc: BaseException) -> StorageProblem | None:
    """The storage condition behind an exception, or None when it is something else."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        found = _direct(cause)
        if found is not None:
            return found
        cause = cause.__cause__ or cause.__context__
    return None


def _direct(exc: BaseException) -> StorageProblem | None:
    if isinstance(exc, DBAPIError | StatementError) and exc.orig is not None:
        return _direct(exc.orig)
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        text = str(exc).lower()
        if code == _SQLITE_FULL or "database or disk is full" in text:
            return StorageProblem.DISK_FULL
        if code == _SQLITE_READONLY or "readonly database" in text:
            return StorageProblem.READ_ONLY
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text:
            return StorageProblem.BUSY
        return None
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _PG_DISK_FULL:
            return StorageProblem.DISK_FULL
        if sqlstate in _PG_READ_ONLY:
            return StorageProblem.READ_ONLY
        if sqlstate in _PG_OUT_OF_RANGE:
            return StorageProblem.OUT_OF_RANGE
        if sqlstate in _PG_BUSY:
            return StorageProblem.BUSY
        return None
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageProblem.DISK_FULL
        if exc.errno == errno.EROFS:
            return StorageProblem.READ_ONLY
        return None
    # The sqlite3 module refuses to bind an int beyond 64 bits before SQLite sees it.
    if isinstance(exc, OverflowError) and "SQLite INTEGER" in str(exc):
        return StorageProblem.OUT_OF_RANGE
    return None


class StorageAlarm:
    """Logs a storage condition once when it starts, not at every request or round that meets it
    (the web app and each background worker keep one). A condition unseen for `quiet_seconds`
    counts as over: the next occurrence is logged again, with how many were met silently
    meanwhile."""

    def __init__(self, quiet_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._quiet = quiet_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last_seen: dict[StorageProblem, float] = {}
        self._silenced: dict[StorageProblem, int] = {}

    def report(self, problem: StorageProblem, exc: BaseException, where: str) -> bool:
        """Note one occurrence; True when it was logged (the first of its condition)."""
        now = self._clock()
        with self._lock:
            last = self._last_seen.get(problem)
            self._last_seen[problem] = now
            if last is not None and now - last < self._quiet:
                self._silenced[problem] = self._silenced.get(problem, 0) + 1
                return False
            silenced = self._silenced.pop(problem, 0)
        meanwhile = f"；此前又出现 {silenced} 次未逐条记录" if silenced else ""
        log.error(
            "%s：%s（%s: %s）。同类错误 %g 秒内不再逐条记录%s",
            where,
            problem.message,
            type(exc).__name__,
            _first_line(exc),
            self._quiet,
            meanwhile,
        )
        return True


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else ""
