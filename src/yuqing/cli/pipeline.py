"""`yuqing pipeline status`: how far analysis is behind ingestion, and who is analysing."""

from __future__ import annotations

from typing import Annotated

import typer

from yuqing.cli.common import emit_json, runtime, user_errors

pipeline_app = typer.Typer(help="分析流水线：进度与积压。", no_args_is_help=True)

_STATES = {
    "working": "正在分析",
    "idle": "空闲",
    "expired": "已失联（租约过期）",
    "standby": "待命（另一进程持有租约）",
    "waiting": "NATS 不可达，轮询分析队列",
}


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
    if found["failed"]:
        typer.echo(
            f"无法分析 {found['failed']} 条（已移入死信，见 yuqing deadletters list；"
            "问题修复后可用 yuqing analyze --retry-failed 重新分析）"
        )
    if found["mode"] == "nats":
        stream = found.get("stream", {})
        on_stream = (
            f"流上待取 {stream['pending']} 条，已取未确认 {stream['unacked']} 条"
            if "pending" in stream
            else f"NATS 不可达：{stream.get('error', '')}"
        )
        typer.echo(f"NATS 模式：待发布 {found['unannounced']} 条；{on_stream}")
    for worker in found["workers"]:
        state = _STATES.get(worker["state"], worker["state"])
        typer.echo(f"分析进程 {worker['host']}:{worker['pid']}：{state}，最近一次 {worker['last_seen']}")
    if not found["workers"]:
        typer.echo("尚无分析进程运行过")


def worker(
    tick: Annotated[
        float | None, typer.Option(min=0.1, help="无新消息时查看分析队列的间隔（秒），默认取配置。")
    ] = None,
) -> None:
    """分析进程：与 `yuqing serve` 分开运行分析流水线（可运行多个，同一时间一个在分析，其余待命）。

    配置了 YUQING_NATS_URL 时，由 NATS JetStream 上的入库通知唤醒；否则每隔 tick 秒查看分析队列。
    收到 SIGTERM 或 Ctrl+C 时在当前批次后退出并交出租约。"""
    import signal

    from yuqing.analysis.stream import NatsLink, Worker

    with runtime() as rt:
        link = NatsLink(rt.settings.nats_url) if rt.settings.nats_url else None
        running = Worker(rt, link, tick=tick)
        previous = signal.signal(signal.SIGTERM, lambda *_: running.stop())
        mode = f"NATS {rt.settings.nats_url}" if link else "轮询分析队列"
        typer.echo(f"分析进程已启动（{mode}），进程标识 {running.identity}", err=True)
        try:
            running.run()
        except KeyboardInterrupt:
            running.stop()
        finally:
            signal.signal(signal.SIGTERM, previous)
            if link is not None:
                link.close()
        typer.echo(f"分析进程已退出，共分析 {running.analysed} 条", err=True)
