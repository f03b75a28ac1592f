"""`yuqing calendar ...`: due times on the working-day clock, and the holiday schedules behind it."""

from __future__ import annotations

import datetime as dt
import getpass
import itertools
from pathlib import Path
from typing import Annotated

import typer

from yuqing.cli.common import emit_json, fail, runtime, user_errors

calendar_app = typer.Typer(
    help="工作日时钟：due（计算截止时间）、holidays（节假日安排）、show（查看某年）。", no_args_is_help=True
)
holidays_app = typer.Typer(help="节假日安排：import, list, delete.", no_args_is_help=True)
calendar_app.add_typer(holidays_app, name="holidays")


def _parse_start(text: str) -> dt.datetime:
    from yuqing.workcal.clock import SHANGHAI

    try:
        start = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--start 无法识别：{text!r}；应为 ISO 8601 时间，例如 2026-09-30T17:00:00+08:00")
        raise AssertionError("unreachable") from None
    return start.replace(tzinfo=SHANGHAI) if start.tzinfo is None else start


@calendar_app.command("due")
@user_errors
def due(
    start: Annotated[
        str | None,
        typer.Option(help="起始时间，ISO 8601 格式；不带时区偏移时按 Asia/Shanghai 时间。默认：当前时间。"),
    ] = None,
    working_hours: Annotated[
        float | None, typer.Option("--working-hours", help="要加上的工作小时数（跳过非工作时间）。")
    ] = None,
    working_days: Annotated[
        int | None,
        typer.Option("--working-days", help="工作日数：截止于之后第 N 个工作日结束时。"),
    ] = None,
    hours: Annotated[
        float | None, typer.Option("--hours", help="要加上的自然小时数（不区分工作时间）。")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON {due, uncovered_years}。")] = False,
) -> None:
    """按工作日时钟计算并输出时限的截止时间（ISO 8601，+08:00）。"""
    from yuqing.workcal.service import load_calendar

    given = [
        name
        for name, value in (
            ("--working-hours", working_hours),
            ("--working-days", working_days),
            ("--hours", hours),
        )
        if value is not None
    ]
    if len(given) != 1:
        told = f"（收到 {'、'.join(given)}）" if given else ""
        fail(f"请给出且只给出 --working-hours、--working-days、--hours 之一{told}")
    with runtime(new_ok=True) as rt:  # the working-day calendar needs no collected data
        moment = _parse_start(start) if start else rt.clock()
        calendar = load_calendar(rt)
    if working_hours is not None:
        result = calendar.add_working_time(moment, dt.timedelta(hours=working_hours))
    elif working_days is not None:
        result = calendar.add_working_days(moment, working_days)
    else:
        result = calendar.add_hours(moment, hours or 0.0)
    if result.warning:
        typer.echo(result.warning, err=True)
    if as_json:
        emit_json({"due": result.at.isoformat(), "uncovered_years": list(result.uncovered_years)})
    else:
        typer.echo(result.at.isoformat())


@holidays_app.command("import")
@user_errors
def holidays_import(
    file: Annotated[Path, typer.Argument(help="节假日文件，TOML 或 JSON 格式（见 docs/calendar.md）。")],
    by: Annotated[str | None, typer.Option("--by", help="录入人（默认：当前系统登录名）。")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """录入国务院发布的某年节假日安排（替换该年已有的安排）。"""
    from yuqing.workcal.service import import_holidays

    with runtime(new_ok=True) as rt:  # the working-day calendar needs no collected data
        result = import_holidays(rt, file, entered_by=by or _login_name())
    if as_json:
        emit_json(result.as_dict())
        return
    typer.echo(f"已录入 {result.year} 年节假日安排：放假 {result.holidays} 天，调休上班 {result.workdays} 天")
    if result.replaced and result.replaced.entered_at:
        typer.echo(
            f"（替换了 {_local(result.replaced.entered_at)} 由 {result.replaced.entered_by} 录入的安排）"
        )


@holidays_app.command("list")
@user_errors
def holidays_list(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False) -> None:
    """列出已有节假日安排的年份及其来源。"""
    from yuqing.workcal.clock import CHINESE_CALENDAR_VERSION, SHANGHAI
    from yuqing.workcal.service import list_years

    with runtime(new_ok=True) as rt:  # the working-day calendar needs no collected data
        years = list_years(rt)
        this_year = rt.clock().astimezone(SHANGHAI).year
    if as_json:
        emit_json([y.as_dict() for y in years])
        return
    for source, group in itertools.groupby(years, key=lambda y: y.source):
        rows = list(group)
        if source == "chinese_calendar":
            span = f"{rows[0].year}–{rows[-1].year}" if len(rows) > 1 else str(rows[0].year)
            typer.echo(f"{span:<10} 内置 chinese-calendar {CHINESE_CALENDAR_VERSION}")
            continue
        for row in rows:
            entered = _local(row.entered_at) if row.entered_at else ""
            note = f"：{row.note}" if row.note else ""
            typer.echo(
                f"{row.year:<10} 录入于 {entered} 由 {row.entered_by}{note}"
                f"（放假 {row.holidays} 天，调休上班 {row.workdays} 天）"
            )
    known = {y.year for y in years}
    for year in (this_year, this_year + 1):
        if year not in known:
            typer.echo(f"{year:<10} 未录入：按周末双休计算（请用 yuqing calendar holidays import 录入）")


@holidays_app.command("delete")
@user_errors
def holidays_delete(
    year: Annotated[int, typer.Argument(help="要删除录入安排的年份。")],
) -> None:
    """删除录入的节假日安排（该年改用内置 chinese-calendar 数据，或仅按周末双休计算）。"""
    from yuqing.workcal.clock import CHINESE_CALENDAR_YEARS
    from yuqing.workcal.service import delete_year

    with runtime(new_ok=True) as rt:  # the working-day calendar needs no collected data
        delete_year(rt, year)
    after = "恢复使用内置的 chinese-calendar 数据" if year in CHINESE_CALENDAR_YEARS else "将按周末双休计算"
    typer.echo(f"已删除 {year} 年录入的节假日安排；该年{after}")


@calendar_app.command("show")
@user_errors
def show(
    year: Annotated[int, typer.Argument(help="年份。")],
    month: Annotated[int | None, typer.Option(help="只看该月（1–12），并列出每个休息日。")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON，每天一条。")] = False,
) -> None:
    """列出某年的放假安排和调休上班日。"""
    from yuqing.workcal.clock import uncovered_warning
    from yuqing.workcal.service import load_calendar

    if month is not None and not 1 <= month <= 12:
        fail(f"--month 应为 1–12：{month}")
    if not 1 <= year <= 9998:
        fail(f"年份无效：{year}")
    with runtime(new_ok=True) as rt:  # the working-day calendar needs no collected data
        calendar = load_calendar(rt)
    days = calendar.days(year, month)
    if not calendar.is_covered(year):
        typer.echo(uncovered_warning([year]), err=True)
    if as_json:
        emit_json([d.as_dict() for d in days])
        return
    if month is not None:
        for day in days:
            if day.kind != "workday":
                typer.echo(day.label)
    else:
        for (kind, name), run in itertools.groupby(days, key=lambda d: (d.kind, d.name)):
            group = list(run)
            if kind == "holiday":
                first, last = group[0].day, group[-1].day
                typer.echo(f"{first.isoformat()} 至 {last.isoformat()}  放假 {len(group)} 天（{name}）")
            elif kind == "makeup":
                for day in group:
                    typer.echo(day.label)
    working = sum(d.is_workday for d in days)
    scope = f"{year} 年 {month} 月" if month else f"{year} 年"
    typer.echo(f"{scope}：工作日 {working} 天，休息日 {len(days) - working} 天")


def _local(moment: dt.datetime) -> str:
    from yuqing.workcal.clock import SHANGHAI

    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""
