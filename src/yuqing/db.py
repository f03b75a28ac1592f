"""Database access: the engine, sessions, the declarative base and column types shared by domains.

SQLite is the embedded default (WAL journal, busy timeout, foreign keys on); PostgreSQL is the
scale-out store. Timestamps are stored in UTC and always come back as aware datetimes. A SQLite
file this process may not write (its permissions, its directory's, a read-only mount) is opened
read-only, so that what only reads still works and every write says the database is read-only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    String,
    TypeDecorator,
    any_,
    create_engine,
    event,
    literal,
    make_url,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from yuqing.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored in UTC; naive values are refused so no local time slips in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def one_of(session: Session, column: Any, values: Sequence[int] | Sequence[str]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one parameter whatever the
    number of values, so the statement is the same for every batch (an expanded IN of 500 ids is
    a new statement for the driver to parse each time: a quarter of the analysis time of a batch).
    """
    if session.get_bind().dialect.name == "postgresql":
        items = list(values)
        element = String if items and isinstance(items[0], str) else BigInteger
        return column == any_(literal(items, ARRAY(element)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


# Every id column is an INTEGER, which PostgreSQL stores in 32 bits: no row has a larger id.
MAX_ID = 2**31 - 1


def _sqlite_pragmas(busy_timeout_ms: int, *, read_only: bool = False) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not read_only:  # switching the journal is a write
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages of bulk writes stay hot
        # Checkpoint the WAL every ~32 MiB rather than 4 MiB: bulk imports write pages once, not twice.
        cursor.execute("PRAGMA wal_autocheckpoint=8000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and for in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):
        return None  # already a SQLite URI: opened as written
    return Path(parsed.database)


def sqlite_read_only(path: Path) -> bool:
    """Whether an existing SQLite file can only be read by this process: the file is not writable,
    or its directory is not and SQLite could not create its journal (or WAL and shared-memory
    files) there."""
    if not path.exists():
        return False
    if not os.access(path, os.W_OK):
        return True
    if os.access(path.parent, os.W_OK):
        return False
    companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    return not all(p.exists() and os.access(p, os.W_OK) for p in companions)


def _read_only_uri(path: Path) -> str:
    """A read-only SQLite URI for the file. Where SQLite cannot create the WAL index (a read-only
    directory or mount without a `-shm` file), the file is opened as immutable: nothing can change
    it there anyway."""
    options = "mode=ro"
    shm = path.with_name(path.name + "-shm")
    if not os.access(path.parent, os.W_OK) and not shm.exists():
        options += "&immutable=1"
    return f"sqlite:///file:{quote(str(path.resolve()))}?{options}&uri=true"


def is_read_only(engine: Engine) -> bool:
    """Whether the engine opened its SQLite file read-only (`make_engine` does for files this
    process may not write)."""
    return engine.url.get_backend_name() == "sqlite" and engine.url.query.get("mode") == "ro"


def json_text(value: Any) -> str:
    """JSON columns' text: orjson (a post's analysis writes three documents; the standard
    library's encoder was a tenth of the analysis time), with the standard library's rules where
    orjson has none of its own (integer keys become strings, as there)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False)


def make_engine(settings: Settings) -> Engine:
    """An engine for the configured database, with SQLite tuned for one writer and many readers."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        read_only = path is not None and sqlite_read_only(path)
        if read_only and path is not None:
            url = _read_only_uri(path)
        elif path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000, "check_same_thread": False},
            json_serializer=json_text,
        )
        event.listen(engine, "connect", _sqlite_pragmas(settings.sqlite_busy_timeout_ms, read_only=read_only))
        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=json_text)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error."""
    with factory() as session, session.begin():
        yield session


def is_transient(exc: BaseException) -> bool:
    """A failure of the database (a lost connection, a lock that timed out, the pool exhausted) or
    of memory, not of the rows at hand: the work is tried again later as it is, never set aside
    as the rows' fault."""
    from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout | MemoryError)
