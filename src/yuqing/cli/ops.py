"""Operations commands: `yuqing doctor` (what is missing), `yuqing backup` and `yuqing restore`.

`doctor` checks what an office's IT person would otherwise find out the hard way: the database and
its migrations, the Chinese font of PDF reports, the mail server and robot channels, the listed
RSSHub / WeWe RSS bridges, the holiday
schedule of this year and next (deadlines run on working days), and free disk space. Each line
says what is wrong and how to fix it; the exit status is 1 when something must be fixed.

`backup` copies a SQLite database while it is in use (SQLite's online backup: `serve` may keep
running) and checks the copy; for PostgreSQL it runs `pg_dump --format=custom` when the client
tools are installed (else prints the command) and checks the archive with `pg_restore --list`.
`restore` puts a checked SQLite copy back (the server must be stopped), then brings it to the
current schema; for PostgreSQL it prints, or with `--force` runs, `pg_restore`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from yuqing import migrate
from yuqing.cli.common import emit_json, fail
from yuqing.db import make_engine
from yuqing.settings import Settings, load_settings

Status = Literal["ok", "warn", "fail"]
_MARK = {"ok": "✓", "warn": "!", "fail": "✗"}
_GIB = 1024**3
# Robot channels of the chat platforms (ContactChannel.kind)
_ROBOT_KINDS = ("dingtalk", "wecom", "feishu")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出检查结果。")] = False,
) -> None:
    """检查运行环境：数据库与迁移、中文字体、邮件与机器人通道、桥接服务、节假日数据、磁盘空间，并说明如何修复。"""
    try:
        settings = load_settings()
    except Exception as exc:
        fail(f"配置无法读取：{exc}")
    checks = run_checks(settings)
    if as_json:
        emit_json([asdict(c) for c in checks])
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            typer.echo(f"{_MARK[c.status]} {c.name.ljust(width)}  {c.detail}")
            if c.fix:
                typer.echo(f"  {' ' * width}  → {c.fix}")
        failed = sum(c.status == "fail" for c in checks)
        warned = sum(c.status == "warn" for c in checks)
        typer.echo(f"\n{len(checks)} 项检查：{failed} 项需要修复，{warned} 项提醒。")
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


def run_checks(settings: Settings, *, today: dt.date | None = None) -> list[Check]:
    checks = [_python()]
    database = _database(settings)
    checks.append(database)
    checks.append(_fonts(settings))
    checks.append(_smtp(settings))
    checks.extend(_bridges(settings))
    reachable = database.status != "fail"
    if reachable:
        checks.append(_robots(settings))
        checks.append(_demo_accounts(settings))
        checks.append(_failed_notices(settings))
        checks.append(_daily_reports(settings))
        checks.extend(_holidays(settings, today or dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()))
    checks.append(_disk(settings))
    return checks


def _python() -> Check:
    return Check("Python", "ok", "版本 " + ".".join(str(v) for v in sys.version_info[:3]))


def _shown_url(settings: Settings) -> str:
    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except Exception:
        return "（无法解析的地址）"


def _database(settings: Settings) -> Check:
    shown = _shown_url(settings)
    try:
        engine = make_engine(settings)
    except Exception as exc:
        return Check("数据库", "fail", f"{shown}：{exc}", "检查设置 database_url")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        if not migrate.is_current(engine):
            return Check(
                "数据库",
                "warn",
                f"{shown}：可连接，但数据表结构不是最新版本",
                "运行 yuqing init（或启动 yuqing serve）自动升级",
            )
        return Check("数据库", "ok", f"{shown}：可连接，数据表结构为最新版本")
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Check(
            "数据库", "fail", f"{shown}：无法连接（{first}）", "检查数据库服务是否运行、地址与权限是否正确"
        )
    finally:
        engine.dispose()


def _fonts(settings: Settings) -> Check:
    from yuqing.reports.fonts import BUNDLED_FONT, find_fonts

    try:
        fonts = find_fonts(settings.report_font)
    except Exception as exc:
        return Check("中文字体", "fail", str(exc), "安装系统中文字体，或在设置 report_font 中指定字体文件")
    if fonts.text.path == BUNDLED_FONT:
        return Check(
            "中文字体",
            "warn",
            "系统中没有中文字体，PDF 报告使用随附的思源黑体子集（GB 2312 字符）",
            "如需显示生僻字，安装系统中文字体（如 fonts-noto-cjk）或设置 report_font",
        )
    return Check("中文字体", "ok", f"{fonts.text.path}")


def _smtp(settings: Settings) -> Check:
    if not settings.smtp_host:
        return Check(
            "邮件服务器",
            "warn",
            "未配置（smtp_host 为空）：邮件通知不会发出",
            "如需邮件通知，设置 smtp_host 等项",
        )
    try:
        with socket.create_connection((settings.smtp_host, settings.smtp_port), timeout=3):
            pass
    except OSError as exc:
        return Check(
            "邮件服务器",
            "fail",
            f"{settings.smtp_host}:{settings.smtp_port} 无法连接（{exc}）",
            "检查 smtp_host、smtp_port 与网络",
        )
    return Check("邮件服务器", "ok", f"{settings.smtp_host}:{settings.smtp_port} 可连接")


def _bridges(settings: Settings) -> list[Check]:
    """Each RSSHub / WeWe RSS listed in `bridge_instances` answers its home page (any HTTP answer:
    RSSHub's home answers even with an access key; what a route needs is the source's business)."""
    from dataclasses import replace

    from yuqing.ingest.fetcher import Fetcher, FetchError, HTTPStatusError
    from yuqing.ingest.service import fetch_policy

    checks: list[Check] = []
    policy = replace(fetch_policy(settings), connect_timeout=3.0, read_timeout=3.0, total_timeout=5.0)
    with Fetcher(policy) as fetcher:
        for origin in settings.bridge_instances:
            try:
                status = fetcher.get(origin + "/").status
            except HTTPStatusError as exc:
                status = exc.status
            except FetchError as exc:
                checks.append(
                    Check(
                        "桥接服务",
                        "fail",
                        f"{origin} 无法访问（{exc.reason}）",
                        "检查 RSSHub / WeWe RSS 是否在运行，bridge_instances 中的地址与端口是否正确",
                    )
                )
                continue
            checks.append(Check("桥接服务", "ok", f"{origin} 可访问（HTTP {status}）"))
    return checks


def _read(settings: Settings, query: Any) -> list[Any] | None:
    """The rows of one query for a doctor's check; None when the database cannot answer it (no
    tables yet, or an older schema)."""
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).all())
    except Exception:
        return None
    finally:
        engine.dispose()


def _robots(settings: Settings) -> Check:
    from yuqing.org.models import ContactChannel

    rows = _read(
        settings,
        select(ContactChannel.kind, func.count())
        .where(ContactChannel.kind.in_(_ROBOT_KINDS), ContactChannel.enabled.is_(True))
        .group_by(ContactChannel.kind),
    )
    if rows is None:
        return Check("机器人通道", "warn", "无法读取联系方式（数据表结构可能不是最新版本）")
    if not rows:
        return Check("机器人通道", "ok", "未配置钉钉、企业微信或飞书机器人（可选）")
    listed = "，".join(f"{kind} {n} 个" for kind, n in rows)
    return Check("机器人通道", "ok", f"已配置：{listed}")


def _failed_notices(settings: Settings) -> Check:
    """Notices given up in the last day (a robot refusing every notice lost them without a word)."""
    from yuqing.db import utcnow
    from yuqing.notify.models import Notification

    rows = _read(
        settings,
        select(Notification.kind, func.count())
        .where(Notification.status == "failed", Notification.created_at >= utcnow() - dt.timedelta(days=1))
        .group_by(Notification.kind),
    )
    if rows is None:
        return Check("通知发送", "warn", "无法读取通知（数据表结构可能不是最新版本）")
    if not rows:
        return Check("通知发送", "ok", "最近 24 小时没有发送失败的通知")
    listed = "，".join(f"{kind} {n} 条" for kind, n in rows)
    return Check(
        "通知发送",
        "warn",
        f"最近 24 小时有通知发送失败：{listed}",
        "在预警页的「通知记录」查看失败原因，检查人员的联系方式和机器人设置（关键词、签名）",
    )


def _daily_reports(settings: Settings) -> Check:
    """The units named for the scheduled daily report exist (an unknown one was silent)."""
    from yuqing.org.models import Unit

    if not settings.daily_report_time:
        return Check("日报", "ok", "未设置定时日报（daily_report_time 为空）")
    rows = _read(settings, select(Unit.id, Unit.name, Unit.parent_id))
    if rows is None:
        return Check("日报", "warn", "无法读取单位（数据表结构可能不是最新版本）")
    ids, names = {str(i) for i, _, _ in rows}, {name for _, name, _ in rows}
    unknown = [ref for ref in settings.daily_report_units if ref.strip() not in ids | names]
    if unknown:
        return Check(
            "日报",
            "fail",
            f"设置 daily_report_units 中的「{'」「'.join(unknown)}」不是已建立的单位，这些日报无法生成",
            "用 yuqing org list 查看单位名称，改正设置 daily_report_units",
        )
    units = "、".join(settings.daily_report_units) or next(
        (name for _, name, parent in rows if parent is None), "（尚未建立单位）"
    )
    return Check(
        "日报",
        "ok",
        f"每个工作日 {settings.daily_report_time} 为{units}生成日报（{settings.daily_report_format}）",
    )


def _demo_accounts(settings: Settings) -> Check:
    from yuqing.accounts.models import Account

    rows = _read(settings, select(Account.login).where(Account.demo.is_(True), Account.active.is_(True)))
    if rows is None:
        return Check("演示账号", "warn", "无法读取账户（数据表结构可能不是最新版本）")
    logins = [login for (login,) in rows]
    if not logins:
        return Check("演示账号", "ok", "没有仍使用演示密码的账号")
    shown = "、".join(logins[:10]) + ("等" if len(logins) > 10 else "")
    return Check(
        "演示账号",
        "warn",
        f"{len(logins)} 个账号仍使用公开的演示密码（{shown}），只能在 yuqing demo 下登录",
        "正式使用前用 yuqing users passwd 登录名 为每个账号设置新密码，或用 yuqing users disable 停用",
    )


def _holidays(settings: Settings, today: dt.date) -> list[Check]:
    from yuqing.runtime import open_runtime
    from yuqing.workcal.service import list_years

    try:
        rt = open_runtime(settings, upgrade=False)
    except Exception as exc:
        return [Check("节假日数据", "warn", f"无法读取：{exc}")]
    try:
        known = {c.year: c for c in list_years(rt)}
    except Exception:
        return [Check("节假日数据", "warn", "无法读取录入的节假日安排（数据表结构可能不是最新版本）")]
    finally:
        rt.close()
    out = []
    for year, missing_status in ((today.year, "fail"), (today.year + 1, "warn")):
        cover = known.get(year)
        if cover is None:
            out.append(
                Check(
                    f"{year} 年节假日",
                    missing_status,  # type: ignore[arg-type]
                    "没有节假日安排：期限按周一至周五计算，节假日和调休日会算错",
                    f"国务院办公厅发布通知后，用 yuqing calendar holidays import 文件 录入 {year} 年安排",
                )
            )
        else:
            source = "管理员录入" if cover.source == "entered" else "内置 chinese-calendar 数据"
            out.append(
                Check(
                    f"{year} 年节假日",
                    "ok",
                    f"{source}：{cover.holidays} 天假日，{cover.workdays} 天调休上班",
                )
            )
    return out


def _data_dir(settings: Settings) -> Path:
    url = make_url(settings.database_url)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return Path.cwd()


def _disk(settings: Settings) -> Check:
    folder = _data_dir(settings)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    shown = f"{folder}：剩余 {free / _GIB:.1f} GiB"
    if free < _GIB:
        return Check("磁盘空间", "fail", shown, "清理磁盘或迁移数据目录：空间不足时采集和写入会失败")
    if free < 5 * _GIB:
        return Check("磁盘空间", "warn", shown, "剩余空间不多，请及时清理")
    return Check("磁盘空间", "ok", shown)


# -- backup and restore ----------------------------------------------------------------------------


def _sqlite_path(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:":
        fail("内存数据库无法备份")
        raise AssertionError("unreachable")
    return Path(url.database)


def _libpq_url(settings: Settings) -> str:
    """The SQLAlchemy URL as the PostgreSQL client tools take it (no driver name)."""
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _pg_schema(settings: Settings) -> str:
    """The schema yuqing's tables live in (the connection's current schema)."""
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT current_schema()")).scalar_one())
    finally:
        engine.dispose()


def _check_sqlite_copy(path: Path) -> int:
    """Integrity of a SQLite copy; returns its number of stored posts. Raises ValueError."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ValueError(f"{path} 无法打开：{exc}") from exc
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()
        if not result or result[0] != "ok":
            raise ValueError(f"{path} 已损坏：{result[0] if result else '无结果'}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" not in tables or "posts" not in tables:
            raise ValueError(f"{path} 不是 yuqing 的数据库")
        return int(conn.execute("SELECT count(*) FROM posts").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path} 不是有效的 SQLite 数据库：{exc}") from exc
    finally:
        conn.close()


def backup(
    output: Annotated[Path, typer.Option("--output", "-o", help="备份文件。")],
    force: Annotated[bool, typer.Option("--force", help="覆盖已有的备份文件。")] = False,
) -> None:
    """备份数据库：SQLite 在线备份（服务可继续运行）；PostgreSQL 调用 pg_dump。备份后校验。"""
    settings = load_settings()
    if output.exists() and not force:
        fail(f"{output} 已存在；换一个文件名，或加 --force 覆盖")
    source = _sqlite_path(settings)
    if source is None:
        _pg_backup(settings, output)
        return
    if not source.is_file():
        fail(f"数据库文件不存在：{source}")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst, pages=4096)
        # one file: a copy in WAL mode (the live database's) grew `.partial-wal` and `.partial-shm`
        # beside it when it was checked, left behind after the rename
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        dst.close()
        partial.unlink(missing_ok=True)
        fail(f"备份失败：{exc}")
    finally:
        src.close()
    dst.close()
    try:
        posts = _check_sqlite_copy(partial)
    except ValueError as exc:
        partial.unlink(missing_ok=True)
        fail(f"备份校验失败：{exc}")
    partial.replace(output)
    typer.echo(f"已备份到 {output}（{output.stat().st_size / 1024**2:.1f} MiB，{posts} 条信息，校验通过）")


def _pg_backup(settings: Settings, output: Path) -> None:
    url = _libpq_url(settings)
    shown = _shown_url(settings).replace("+psycopg", "")
    # Only yuqing's own schema: a database shared with other applications (or other schemas) is
    # neither copied nor, at restore time (`pg_restore --clean` drops what the archive holds),
    # overwritten.
    schema = _pg_schema(settings)
    command = ["pg_dump", "--format=custom", "--no-owner", f"--schema={schema}", f"--file={output}", url]
    if shutil.which("pg_dump") is None:
        fail(
            "未找到 pg_dump（PostgreSQL 客户端工具）。安装后重试，或手动运行：\n"
            f"  pg_dump --format=custom --no-owner --schema={schema} --file={output} '{shown}'"
        )
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        output.unlink(missing_ok=True)
        fail(f"pg_dump 失败：{result.stderr.strip()}")
    pg_restore = shutil.which("pg_restore") or "pg_restore"
    listed = subprocess.run(  # noqa: S603
        [pg_restore, "--list", str(output)], capture_output=True, text=True, check=False
    )
    if listed.returncode != 0 or "TABLE DATA" not in listed.stdout:
        fail(f"备份校验失败：pg_restore --list 无法读取 {output}：{listed.stderr.strip()}")
    problem = _pg_unreadable(output)
    if problem:
        fail(f"备份校验失败：pg_restore 无法完整读取 {output}：{problem}")
    typer.echo(
        f"已备份到 {output}（{output.stat().st_size / 1024**2:.1f} MiB，"
        "pg_restore --list 校验通过，全部数据可完整读取）"
    )


def _pg_unreadable(archive: Path) -> str:
    """What stops pg_restore from reading the whole archive (empty when it reads to the end): the
    table of contents of a file cut short reads fine (`--list`), its data does not."""
    pg_restore = shutil.which("pg_restore") or "pg_restore"
    result = subprocess.run(  # noqa: S603
        [pg_restore, f"--file={os.devnull}", str(archive)], capture_output=True, text=True, check=False
    )
    return "" if result.returncode == 0 else (result.stderr.strip() or f"退出码 {result.returncode}")


def restore(
    backup_file: Annotated[Path, typer.Argument(help="由 yuqing backup 生成的备份文件。")],
    force: Annotated[bool, typer.Option("--force", help="替换现有的数据库（先停止 yuqing serve）。")] = False,
) -> None:
    """从备份恢复数据库：SQLite 先校验备份、再替换（须先停止服务）；PostgreSQL 调用 pg_restore。"""
    settings = load_settings()
    if not backup_file.is_file():
        fail(f"备份文件不存在：{backup_file}")
    using = _in_use(settings)
    if using:
        fail(f"{using} 正在使用该数据库：先停止它（yuqing serve / yuqing worker），再恢复")
    target = _sqlite_path(settings)
    if target is None:
        _pg_restore(settings, backup_file, force)
        return
    try:
        posts = _check_sqlite_copy(backup_file)
    except ValueError as exc:
        fail(f"无法恢复：{exc}")
    if target.exists() and not force:
        fail(f"数据库 {target} 已存在；先停止 yuqing serve，再加 --force 用备份替换它")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=settings.sqlite_busy_timeout_ms / 1000)
    try:
        src.backup(dst)  # page by page into the live file, under SQLite's own locks
    except sqlite3.Error as exc:
        fail(f"恢复失败（数据库可能正在使用，请先停止 yuqing serve）：{exc}")
    finally:
        src.close()
        dst.close()
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    typer.echo(f"已从 {backup_file} 恢复到 {target}（{posts} 条信息），数据表结构已升级到最新版本")


def _in_use(settings: Settings) -> str:
    """The yuqing process analysing on this database, when one still runs (「进程 host:pid」); empty
    otherwise. A restore under a running serve left PostgreSQL with broken keys and the serve
    writing into tables being replaced; on SQLite the serve went on over a swapped file."""
    from yuqing.analysis.models import PipelineState
    from yuqing.analysis.pipeline import LEASE_STATE
    from yuqing.db import sqlite_file, utcnow
    from yuqing.process import is_alive

    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        return ""
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(PipelineState.data, PipelineState.updated_at).where(PipelineState.name == LEASE_STATE)
            ).first()
    except Exception:  # no tables yet, or an older schema: nothing of ours runs on it
        return ""
    finally:
        engine.dispose()
    if row is None or not row.data:
        return ""
    holder = bytes(row.data)
    if holder.startswith(b"released:"):
        return ""
    identity = holder.decode(errors="replace")
    alive = is_alive(identity)
    if alive is None:  # another machine: alive while it renews its lease
        updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=dt.UTC)
        alive = updated > utcnow() - dt.timedelta(seconds=settings.analysis_lease_seconds)
    host, _, rest = identity.partition(":")
    return f"进程 {host.split('~', 1)[0]}:{rest.split(':', 1)[0]}" if alive else ""


def _pg_restore(settings: Settings, backup_file: Path, force: bool) -> None:
    shown = _shown_url(settings).replace("+psycopg", "")
    manual = f"pg_restore --clean --if-exists --no-owner --dbname='{shown}' {backup_file}"
    if not force:
        fail(
            "PostgreSQL 的恢复会替换现有数据：先停止 yuqing serve，再加 --force 运行，"
            f"或手动运行：\n  {manual}"
        )
    if shutil.which("pg_restore") is None:
        fail(f"未找到 pg_restore（PostgreSQL 客户端工具）。安装后重试，或手动运行：\n  {manual}")
    # read to the end first: `--clean` drops the tables before the data is read, and a file cut
    # short emptied the live database
    problem = _pg_unreadable(backup_file)
    if problem:
        fail(f"备份文件不完整或已损坏，未恢复，现有数据未改动：{problem}")
    result = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            # all or nothing: a failure half-way leaves the database as it was
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={_libpq_url(settings)}",
            str(backup_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        fail(f"pg_restore 失败，已整体回退，现有数据未改动：{result.stderr.strip()}")
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    typer.echo(f"已从 {backup_file} 恢复，数据表结构已升级到最新版本")
