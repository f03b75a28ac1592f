"""When the storage fails: a full disk and a read-only database are recognised from the drivers'
real errors, said in Chinese, logged once per condition; a read-only SQLite file still serves every
command that only reads."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from yuqing.storage import StorageAlarm, StorageProblem, storage_problem


def sqlite_error(database: str, *statements: str, uri: bool = False) -> sqlite3.Error:
    connection = sqlite3.connect(database, uri=uri)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    except sqlite3.Error as exc:
        return exc
    finally:
        connection.close()
    raise AssertionError("no error")


def test_the_drivers_errors_are_recognised(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    full = sqlite_error(
        db, "PRAGMA max_page_count=2", "INSERT INTO t VALUES (zeroblob(100000))"
    )  # the file may not grow: SQLite's "database or disk is full"
    read_only = sqlite_error(f"file:{db}?mode=ro", "INSERT INTO t VALUES (1)", uri=True)
    assert storage_problem(full) is StorageProblem.DISK_FULL
    assert storage_problem(read_only) is StorageProblem.READ_ONLY
    # As SQLAlchemy raises them, from an engine.
    engine = create_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    with pytest.raises(OperationalError) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    assert storage_problem(raised.value) is StorageProblem.READ_ONLY
    assert storage_problem(OSError(errno.ENOSPC, "No space left on device")) is StorageProblem.DISK_FULL
    assert storage_problem(OSError(errno.EROFS, "Read-only file system")) is StorageProblem.READ_ONLY
    assert storage_problem(psycopg.errors.DiskFull("could not extend file")) is StorageProblem.DISK_FULL
    assert storage_problem(psycopg.errors.ReadOnlySqlTransaction("read-only")) is StorageProblem.READ_ONLY
    assert storage_problem(sqlite_overflow()) is StorageProblem.OUT_OF_RANGE
    assert storage_problem(sqlite_error(db, "SELECT * FROM nowhere")) is None
    assert storage_problem(OSError(errno.ENOENT, "gone")) is None
    assert storage_problem(OverflowError("date value out of range")) is None  # a bug, not storage


def sqlite_overflow() -> OverflowError:
    try:
        sqlite3.connect(":memory:").execute("SELECT ?", (2**70,))
    except OverflowError as exc:
        return exc
    raise AssertionError("no error")


def test_a_condition_is_logged_once_until_it_has_been_quiet(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    alarm = StorageAlarm(quiet_seconds=60, clock=lambda: now[0])
    full = OSError(errno.ENOSPC, "No space left on device")
    with caplog.at_level(logging.INFO, logger="yuqing.storage"):
        logged = []
        for step in (0, 10, 20, 50, 100):  # met every few seconds: one condition
            now[0] = step
            logged.append(alarm.report(StorageProblem.DISK_FULL, full, "POST /api/v1/cases"))
        now[0] = 200  # quiet for 100 s: over; it comes back
        logged.append(alarm.report(StorageProblem.DISK_FULL, full, "POST /api/v1/cases"))
        logged.append(alarm.report(StorageProblem.READ_ONLY, full, "yuqing-notify"))
    assert logged == [True, False, False, False, False, True, True]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3 and all(r.exc_info is None for r in caplog.records)
    assert "磁盘空间已满" in messages[0] and "此前又出现 4 次" in messages[1]
    assert "数据库是只读的" in messages[2]


# ---- a read-only SQLite file, through the real command ---------------------------------------------


def _without_root_powers() -> list[str]:
    """How to run a command that file permissions bind: as is, or as root without the capabilities
    that override them (CI runs as root, where chmod alone changes nothing)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: chmod cannot make the database read-only")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def yuqing(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")}
    env["YUQING_DATABASE_URL"] = f"sqlite:///{database}"
    return subprocess.run(
        [*_without_root_powers(), sys.executable, "-m", "yuqing", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=database.parent,
        timeout=120,
        check=False,
    )


@pytest.fixture
def read_only_database(tmp_path: Path) -> Iterator[Path]:
    """A database with one unit, then the file and its folder made read-only."""
    folder = tmp_path / "data"
    folder.mkdir()
    database = folder / "yuqing.db"
    made = yuqing(database, "org", "add", "南京市人民政府", "--kind", "government")
    assert made.returncode == 0, made.stderr
    for companion in folder.glob("yuqing.db-*"):
        companion.unlink()  # as after a clean shutdown: no WAL index to share
    database.chmod(0o444)
    folder.chmod(0o555)
    try:
        yield database
    finally:
        folder.chmod(0o755)
        database.chmod(0o644)


def test_a_read_only_database_serves_what_reads_and_refuses_writes_in_chinese(
    read_only_database: Path,
) -> None:
    listed = yuqing(read_only_database, "org", "list")
    assert listed.returncode == 0, listed.stderr
    assert "南京市人民政府" in listed.stdout
    cases = yuqing(read_only_database, "cases", "list")
    assert cases.returncode == 0, cases.stderr

    refused = yuqing(read_only_database, "org", "add", "市教育局", "--kind", "bureau")
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"错误：{StorageProblem.READ_ONLY.message}"
    assert "unable to open" not in refused.stderr and "Traceback" not in refused.stderr
    assert yuqing(read_only_database, "org", "list").stdout.count("市教育局") == 0
