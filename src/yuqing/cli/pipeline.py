"""`yuqing pipeline status`: how far analysis is behind ingestion, and who is analysing."""

from __future__ import annotations

from typing import Annotated

import typer

from yuqing.cli.common import emit_json, runtime, user_errors

pipeline_app = typer.Typer(help="分析流水线：进度与积压。", no_args_is_help=True)

_STATES = {"working": "正在分析", "idle": "空闲", "expired": "已失联（租约过期）"}


@pipeline_app.command("status")
@user_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出。")] = False,
) -> None:
    """已入库、已分析、待分析的信息数，以及正在分析的进程。"""
    from yuqing.analysis.pipeline import pipeline_status

    with runtime() as rt:
        found = pipeline_status(rt)
    if as_json:
        emit_json(found)
        return
    typer.echo(f"已入库 {found['stored']} 条，已分析 {found['analysed']} 条，待分析 {found['backlog']} 条")
    if found["backlog"]:
        typer.echo(f"最早的待分析信息已等待 {found['oldest_waiting_seconds']} 秒")
    for worker in found["workers"]:
        state = _STATES[worker["state"]]
        typer.echo(f"分析进程 {worker['host']}:{worker['pid']}：{state}，最近一次 {worker['last_seen']}")
    if not found["workers"]:
        typer.echo("尚无分析进程运行过")
