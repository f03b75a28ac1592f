"""Helpers shared by CLI commands: JSON output, user-facing errors, opening the runtime."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import orjson
import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from yuqing.ingest.connectors.base import ConnectorError
from yuqing.ingest.errors import IngestError
from yuqing.ingest.schedule import ScheduleError
from yuqing.runtime import OutdatedReadOnlyDatabase, Runtime, open_runtime
from yuqing.storage import storage_problem

P = ParamSpec("P")
R = TypeVar("R")
USER_ERRORS: tuple[type[Exception], ...] = (
    IngestError,
    ConnectorError,
    ScheduleError,
    ValueError,
    LookupError,
    OSError,
)


def emit_json(value: Any) -> None:
    """UTF-8 JSON on standard output and nothing else."""
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> None:
    """One line on standard error, then a non-zero exit."""
    first_line = " ".join(message.strip().splitlines()) or "未知错误"
    typer.echo(f"错误：{first_line}", err=True)
    raise typer.Exit(code)


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the domain's errors into a one-line reason and exit status 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except BrokenPipeError:
            # `yuqing events list | head`: the reader has what it wanted; say nothing (and let
            # nothing flushed at exit complain either)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            fail(f"配置有误：{problems}")
        except OutdatedReadOnlyDatabase as exc:
            fail(str(exc))
        except (DBAPIError, OSError) as exc:
            problem = storage_problem(exc)  # a full disk or a read-only database, said plainly
            if problem is not None:
                fail(problem.message)
            if isinstance(exc, OperationalError):
                fail(f"数据库错误：{exc.orig}")
            if isinstance(exc, OSError):
                fail(str(exc))
            raise
        except USER_ERRORS as exc:
            fail(str(exc))
        raise AssertionError("unreachable")

    return wrapper


@contextmanager
def runtime(*, new_ok: bool = False) -> Iterator[Runtime]:
    """The runtime of the configured database. A SQLite file that does not exist yet is created;
    unless the command is meant to create one (`new_ok`: init, demo), that is said on stderr: a
    command run in the wrong directory answered from a new empty database, as if nothing had
    been collected."""
    from yuqing.db import sqlite_file
    from yuqing.settings import load_settings

    path = sqlite_file(load_settings().database_url)
    new = path is not None and not path.exists()
    rt = open_runtime()
    if new and not new_ok:
        assert path is not None
        typer.echo(
            f"提示：数据库文件 {path.resolve()} 不存在，已新建空数据库。"
            "如需使用已有数据，请在其所在目录运行，或设置 YUQING_DATABASE_URL。",
            err=True,
        )
    try:
        yield rt
    finally:
        rt.close()
