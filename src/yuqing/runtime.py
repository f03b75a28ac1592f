"""The running application's shared parts: settings, database engine, sessions, clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from yuqing import migrate
from yuqing.db import is_read_only, make_engine, make_session_factory, utcnow
from yuqing.settings import Settings, load_settings
from yuqing.storage import StorageProblem


class OutdatedReadOnlyDatabase(RuntimeError):
    """The database can only be read and its tables are older than this version of yuqing."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    # A SQLite file this process may not write: commands that only read work, writes are refused.
    read_only: bool = False

    def close(self) -> None:
        self.engine.dispose()


def open_runtime(
    settings: Settings | None = None,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    upgrade: bool = True,
) -> Runtime:
    """Connect to the configured database, bringing its schema up to date unless told not to (or
    the database is read-only: then its schema must already be current)."""
    settings = settings or load_settings()
    engine = make_engine(settings)
    read_only = is_read_only(engine)
    if read_only:
        if upgrade and not migrate.is_current(engine):
            engine.dispose()
            raise OutdatedReadOnlyDatabase(
                f"{StorageProblem.READ_ONLY.message}；而且数据表结构不是最新版本，只读时无法升级"
            )
    elif upgrade:
        migrate.upgrade(engine)
    return Runtime(settings, engine, make_session_factory(engine), clock, read_only)
