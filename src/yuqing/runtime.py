"""The running application's shared parts: settings, database engine, sessions, clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from yuqing import migrate
from yuqing.db import make_engine, make_session_factory, utcnow
from yuqing.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    def close(self) -> None:
        self.engine.dispose()


def open_runtime(
    settings: Settings | None = None,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    upgrade: bool = True,
) -> Runtime:
    """Connect to the configured database, bringing its schema up to date unless told not to."""
    settings = settings or load_settings()
    engine = make_engine(settings)
    if upgrade:
        migrate.upgrade(engine)
    return Runtime(settings, engine, make_session_factory(engine), clock)
