"""`yuqing report …`: 舆情专报, 日报, 周报, 预警响应情况表, 总结评估 — written from stored data,
archived, and saved to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from yuqing.cli.common import emit_json, runtime, user_errors

report_app = typer.Typer(
    help="报告：special, daily, weekly, response-table, summary（--format docx|pdf|html|xlsx -o FILE）；"
    "list, get, send-daily.",
    no_args_is_help=True,
)

Format = Annotated[
    str | None,
    typer.Option(
        "--format", "-f", help="docx, pdf, html or xlsx (response-table). Default: from -o, else docx."
    ),
]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="File to write. Default: the report's title in the current folder."),
]
Unit = Annotated[
    str | None, typer.Option("--unit", help="Unit (id or name); default: the top of the organisation.")
]
As = Annotated[
    str | None,
    typer.Option("--as", help="The person making the report (id, login or name), for the archive."),
]
Json = Annotated[bool, typer.Option("--json", help="Print the archive entry as JSON.")]


def _make(
    kind: str, params: dict[str, Any], fmt: str | None, output: Path | None, person: str | None, as_json: bool
) -> None:
    from yuqing.reports import service

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = (
            suffix
            if suffix in ("docx", "pdf", "html", "xlsx")
            else ("xlsx" if kind == "response_table" and not output else "docx")
        )
    with runtime() as rt:
        person_id = None
        if person:
            from yuqing.org.service import find_person

            with rt.sessions() as session:
                person_id = find_person(session, person).id
        made = service.generate(rt, kind, params, fmt, person_id=person_id, via="cli")
    path = output or Path(made.report["filename"])
    path.write_bytes(made.content)
    if as_json:
        emit_json(made.report | {"path": str(path)})
        return
    typer.echo(f"已生成{made.report['kind_label']}：{made.report['title']}")
    typer.echo(f"  文件：{path}（{made.report['format']}，{made.report['size']} 字节）")
    typer.echo(f"  已归档：第 {made.report['id']} 号报告，SHA-256 {made.report['sha256'][:16]}…")


@report_app.command("special")
@user_errors
def special(
    event_id: int, fmt: Format = None, output: Output = None, person: As = None, as_json: Json = False
) -> None:
    """舆情专报 for one event."""
    _make("special", {"event_id": event_id}, fmt, output, person, as_json)


@report_app.command("daily")
@user_errors
def daily(
    date: Annotated[str | None, typer.Option("--date", help="The day (YYYY-MM-DD); default: today.")] = None,
    unit: Unit = None,
    fmt: Format = None,
    output: Output = None,
    person: As = None,
    as_json: Json = False,
) -> None:
    """网络舆情日报 of a unit (零报告 when nothing reached an alert grade)."""
    _make("daily", {"date": date, "unit": unit}, fmt, output, person, as_json)


@report_app.command("weekly")
@user_errors
def weekly(
    week: Annotated[
        str | None, typer.Option("--week", help="ISO week (2026-W47) or a day in it; default: last week.")
    ] = None,
    unit: Unit = None,
    fmt: Format = None,
    output: Output = None,
    person: As = None,
    as_json: Json = False,
) -> None:
    """网络舆情周报 of a unit."""
    _make("weekly", {"week": week, "unit": unit}, fmt, output, person, as_json)


@report_app.command("response-table")
@user_errors
def response_table(
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD); default: the 1st of the month.")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD); default: today.")
    ] = None,
    unit: Unit = None,
    fmt: Format = None,
    output: Output = None,
    person: As = None,
    as_json: Json = False,
) -> None:
    """网络舆情预警响应情况表 (Excel by default)."""
    _make("response_table", {"from": date_from, "to": date_to, "unit": unit}, fmt, output, person, as_json)


@report_app.command("summary")
@user_errors
def summary(
    case_id: int, fmt: Format = None, output: Output = None, person: As = None, as_json: Json = False
) -> None:
    """总结评估 of a case that is summed up or closed."""
    _make("summary", {"case_id": case_id}, fmt, output, person, as_json)


@report_app.command("list")
@user_errors
def list_command(
    kind: Annotated[
        str | None, typer.Option("--kind", help="special, daily, weekly, response_table, summary, drill.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 30,
    as_json: Json = False,
) -> None:
    """Archived reports, newest first."""
    from yuqing.reports import service

    with runtime() as rt:
        rows, total = service.list_reports(rt, kind=kind, limit=limit)
    if as_json:
        emit_json({"total": total, "items": rows})
        return
    if not rows:
        typer.echo("尚无已归档的报告。")
        return
    for row in rows:
        drill = "【演练】" if row["is_drill"] else ""
        typer.echo(
            f"{row['id']:>5}  {row['created_text']}  {row['kind_label']:<8} {row['format']:<4} "
            f"{drill}{row['title']}"
        )
    typer.echo(f"共 {total} 份")


@report_app.command("get")
@user_errors
def get(report_id: int, output: Output = None) -> None:
    """Save an archived report's file, exactly as it was issued."""
    from yuqing.reports import service

    with runtime() as rt:
        view, content = service.get_report(rt, report_id)
    path = output or Path(view["filename"])
    path.write_bytes(content)
    typer.echo(f"已保存：{path}（{view['size']} 字节）")


@report_app.command("send-daily")
@user_errors
def send_daily(
    force: Annotated[
        bool, typer.Option("--force", help="Now, even before the set time or on a rest day.")
    ] = False,
) -> None:
    """Write and send today's daily reports if due (what `yuqing serve` does at daily_report_time)."""
    from yuqing.reports import service

    with runtime() as rt:
        made = service.send_daily_reports(rt, force=force)
    if not made:
        typer.echo("没有需要发送的日报：未到设定时间、非工作日，或今日日报已发送。")
        return
    for row in made:
        typer.echo(f"已生成并发送：第 {row['id']} 号 {row['title']}")
