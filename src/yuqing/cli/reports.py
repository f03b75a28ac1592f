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
        "--format",
        "-f",
        help="docx、pdf、html 或 xlsx（用于 response-table）。默认：按 -o 的扩展名，否则为 docx。",
    ),
]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="输出文件。默认：当前目录下以报告标题命名的文件。"),
]
Unit = Annotated[str | None, typer.Option("--unit", help="单位（ID 或名称）；默认：组织架构的顶级单位。")]
As = Annotated[
    str | None,
    typer.Option("--as", help="制作报告的人员（ID、登录名或姓名），记入归档。"),
]
Json = Annotated[bool, typer.Option("--json", help="以 JSON 格式输出归档记录。")]


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
    if output is not None:
        # checked before the report is made and archived: an archived report whose file could not
        # be written read as a failure, and a second try archived it twice
        folder = output.parent if str(output.parent) else Path(".")
        if not folder.is_dir():
            raise ValueError(f"输出目录 {folder} 不存在，报告未生成")
        if output.is_dir():
            raise ValueError(f"{output} 是目录，请给出文件名（如 {output / ('报告.' + fmt)}）")
    with runtime() as rt:
        person_id = None
        if person:
            from yuqing.org.service import find_person

            with rt.sessions() as session:
                person_id = find_person(session, person).id
        made = service.generate(rt, kind, params, fmt, person_id=person_id, via="cli")
    path = output or Path(made.report["filename"])
    try:
        path.write_bytes(made.content)
    except OSError as exc:
        raise OSError(
            f"报告已归档（第 {made.report['id']} 号），但写入文件 {path} 失败：{exc.strerror or exc}；"
            f"可用 yuqing report get {made.report['id']} -o 文件名 取出"
        ) from exc
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
    """为某一事件生成舆情专报。"""
    _make("special", {"event_id": event_id}, fmt, output, person, as_json)


@report_app.command("daily")
@user_errors
def daily(
    date: Annotated[str | None, typer.Option("--date", help="日期（YYYY-MM-DD）；默认：今天。")] = None,
    unit: Unit = None,
    fmt: Format = None,
    output: Output = None,
    person: As = None,
    as_json: Json = False,
) -> None:
    """生成单位的网络舆情日报（没有事件达到预警级别时为零报告）。"""
    _make("daily", {"date": date, "unit": unit}, fmt, output, person, as_json)


@report_app.command("weekly")
@user_errors
def weekly(
    week: Annotated[
        str | None, typer.Option("--week", help="ISO 周（如 2026-W47）或该周内的任意一天；默认：上周。")
    ] = None,
    unit: Unit = None,
    fmt: Format = None,
    output: Output = None,
    person: As = None,
    as_json: Json = False,
) -> None:
    """生成单位的网络舆情周报。"""
    _make("weekly", {"week": week, "unit": unit}, fmt, output, person, as_json)


@report_app.command("response-table")
@user_errors
def response_table(
    date_from: Annotated[
        str | None, typer.Option("--from", help="起始日（YYYY-MM-DD）；默认：本月 1 日。")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="截止日（YYYY-MM-DD）；默认：今天。")] = None,
    unit: Unit = None,
    fmt: Format = None,
    output: Output = None,
    person: As = None,
    as_json: Json = False,
) -> None:
    """生成网络舆情预警响应情况表（默认为 Excel 格式）。"""
    _make("response_table", {"from": date_from, "to": date_to, "unit": unit}, fmt, output, person, as_json)


@report_app.command("summary")
@user_errors
def summary(
    case_id: int, fmt: Format = None, output: Output = None, person: As = None, as_json: Json = False
) -> None:
    """为已进入总结阶段或已结案的工单生成总结评估。"""
    _make("summary", {"case_id": case_id}, fmt, output, person, as_json)


@report_app.command("list")
@user_errors
def list_command(
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="报告类型：special、daily、weekly、response_table、summary、drill。"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 30,
    as_json: Json = False,
) -> None:
    """列出已归档的报告，最新的在前。"""
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
    """保存已归档报告的文件，与当初发出的版本完全一致。"""
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
        bool, typer.Option("--force", help="立即执行，即使未到设定时间或当天为休息日。")
    ] = False,
) -> None:
    """如已到时间，生成并发送今日日报（即 `yuqing serve` 在 daily_report_time 所做的工作）。"""
    from yuqing.reports import service

    with runtime() as rt:
        made = service.send_daily_reports(rt, force=force)
    if not made:
        typer.echo("没有需要发送的日报：未到设定时间、非工作日，或今日日报已发送。")
        return
    for row in made:
        typer.echo(f"已生成并发送：第 {row['id']} 号 {row['title']}")
