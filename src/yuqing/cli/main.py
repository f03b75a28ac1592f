"""Entry point of the `yuqing` command and its top-level commands."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from yuqing import __version__
from yuqing.cli import analysis, bench, calendar, drills, ingest, ops, org, pipeline, reports, response, users
from yuqing.cli.chinese import localise
from yuqing.cli.common import emit_json, runtime, user_errors
from yuqing.settings import CONFIG_FILE_NAME, Settings, load_settings, redacted, settings_markdown

if TYPE_CHECKING:
    from yuqing.runtime import Runtime

localise()  # typer's own words (panel titles, usage, --help) in Chinese
app = typer.Typer(
    help="yuqing — 网络舆情监测与应急处置平台。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(ingest.sources_app, name="sources")
app.add_typer(ingest.posts_app, name="posts")
app.add_typer(ingest.deadletters_app, name="deadletters")
app.add_typer(ingest.runs_app, name="runs")
app.add_typer(ingest.evidence_app, name="evidence")
app.add_typer(analysis.topics_app, name="topics")
app.add_typer(analysis.analyze_app, name="analyze")
app.add_typer(analysis.events_app, name="events")
app.add_typer(pipeline.pipeline_app, name="pipeline")
app.add_typer(bench.app, name="bench")
app.add_typer(calendar.calendar_app, name="calendar")
app.add_typer(org.org_app, name="org")
app.add_typer(org.people_app, name="people")
app.add_typer(org.duty_app, name="duty")
app.add_typer(response.alerts_app, name="alerts")
app.add_typer(response.cases_app, name="cases")
app.add_typer(response.response_app, name="response")
app.add_typer(users.users_app, name="users")
app.add_typer(users.audit_app, name="audit")
app.add_typer(reports.report_app, name="report")
app.add_typer(drills.drill_app, name="drill")
app.command("stats")(response.stats_command)
app.command("fetch")(ingest.fetch)
app.command("import")(ingest.import_file)
app.command("doctor")(ops.doctor)
app.command("backup")(ops.backup)
app.command("restore")(ops.restore)
app.command("worker")(pipeline.worker)


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="将进度日志输出到标准错误（stderr）。")
    ] = False,
) -> None:
    from yuqing.observability import configure_logging

    try:
        log_format = load_settings().log_format
    except Exception:  # a broken configuration is reported by the command that reads it
        log_format = "text"
    configure_logging(logging.INFO if verbose else logging.WARNING, log_format)


@app.command()
def version() -> None:
    """显示版本号。"""
    typer.echo(__version__)


@app.command()
@user_errors
def init() -> None:
    """创建数据库、在工作目录中生成配置文件，并创建首个管理员。"""
    config = Path(CONFIG_FILE_NAME)
    if not config.exists():
        config.write_text(_config_template(), encoding="utf-8")
        typer.echo(f"已创建配置文件 {config}")
    with runtime(new_ok=True) as rt:
        typer.echo(f"数据库已就绪：{rt.settings.database_url}")
        users.ensure_admin(rt)


@app.command("settings")
def show_settings(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="输出全部配置项的说明（Markdown 格式）。")
    ] = False,
) -> None:
    """显示当前生效的配置（或全部配置项的说明）。"""
    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    emit_json(redacted(load_settings()))


@app.command()
@user_errors
def serve(
    host: Annotated[str | None, typer.Option(help="监听地址。")] = None,
    port: Annotated[int | None, typer.Option(help="监听端口。")] = None,
) -> None:
    """在同一进程中运行 HTTP API（含 webhook 接口）和调度器。"""
    from yuqing.ingest.service import close_interrupted_runs
    from yuqing.web.server import run_server

    with runtime() as rt:
        close_interrupted_runs(rt)  # runs a killed process left open
        _listen_at(rt, host, port)
        run_server(rt, host=rt.settings.host, port=rt.settings.port)


def _listen_at(rt: Runtime, host: str | None, port: int | None) -> None:
    """The address given on the command line is the one served, and the one the links in
    notifications and reports lead to unless `public_url` says otherwise (they named port 8000
    while the server listened on the port given)."""
    update: dict[str, object] = {}
    if host:
        update["host"] = host
    if port:
        update["port"] = port
    if update:
        rt.settings = rt.settings.model_copy(update=update)


@app.command()
@user_errors
def demo(
    data: Annotated[Path | None, typer.Option(help="要加载的 CED 传播链文件（默认：共享数据）。")] = None,
    rows: Annotated[int | None, typer.Option(help="只加载前 N 行。")] = None,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="加载完成后启动服务。")] = True,
    host: Annotated[str | None, typer.Option(help="监听地址。")] = None,
    port: Annotated[int | None, typer.Option(help="监听端口。")] = None,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay/--no-replay",
            help="将前面的行作为历史数据加载，服务运行期间实时回放其后的传播链。",
        ),
    ] = True,
    speed: Annotated[
        float, typer.Option(min=0.1, help="回放速度：60 表示每分钟回放传播链中一小时的内容。")
    ] = 60.0,
) -> None:
    """用 CED 微博数据初始化演示数据库，并启动 `serve`。"""
    from yuqing.demo import DEMO_HISTORY_ROWS, find_ced_file, load_demo
    from yuqing.web.server import run_server

    live = replay and serve_after
    history = DEMO_HISTORY_ROWS if live and rows is None else rows
    with runtime(new_ok=True) as rt:
        load_demo(rt, data, rows=history, echo=typer.echo)
        # The demo's login page lists the demo accounts; a real installation's never does.
        rt.settings = rt.settings.model_copy(update={"demo_logins": True})
        _listen_at(rt, host, port)
        if serve_after:
            worker = None
            path = data or find_ced_file()
            if live and path is not None and history is not None:
                from yuqing.replay import demo_replay

                worker = demo_replay(rt, path, skip=history, speed=speed)
                worker.start()
                typer.echo(f"实时回放：第 {history} 行之后的传播链，{speed:g} 倍速送入（--no-replay 关闭）")
            try:
                run_server(rt, host=rt.settings.host, port=rt.settings.port)
            finally:
                if worker is not None:
                    worker.stop()


def _config_template() -> str:
    lines = ["# yuqing configuration. Environment variables YUQING_<NAME> override these.", ""]
    for name, field in Settings.model_fields.items():
        lines.append(f"# {field.description}")
        default = field.default
        value = str(default).lower() if isinstance(default, bool) else repr(default).replace("'", '"')
        lines.append(f"# {name} = {value}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    app()
