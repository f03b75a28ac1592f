"""`yuqing drill …`: scenarios and drills — run one in the foreground, or create it and let
`yuqing serve` replay it (start, pause, resume, stop), watch it, score it, write its report. Thin
calls into `yuqing.drills`."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from yuqing.cli.common import emit_json, runtime, user_errors

drill_app = typer.Typer(
    help="演练：list, run, create, start, pause, resume, stop, status, score, report.", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="输出 JSON。")]
Speed = Annotated[
    float,
    typer.Option("--speed", min=0.001, help="回放速度：60 表示每分钟回放场景中一小时的内容。"),
]
Participants = Annotated[
    list[str] | None,
    typer.Option(
        "--participants",
        help="参演人员（ID、登录名或姓名；可重复或用逗号分隔）：情景注入发给这些人。",
    ),
]
AllowExternal = Annotated[
    bool,
    typer.Option(
        "--allow-external",
        help="演练通知也通过邮件和钉钉/企业微信/飞书发送（默认：仅站内通知）。",
    ),
]
DrillUnit = Annotated[
    str | None,
    typer.Option(
        "--unit",
        help="组织演练的单位（由其办公室在控制台操作；默认：顶级单位）。",
    ),
]
# Seconds between the rounds of `drill run`; tests replace it to move an injected clock.
sleep = time.sleep


# ---- output -------------------------------------------------------------------------------------


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain table whose columns line up with Chinese text (wide characters count twice)."""
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    for number, row in enumerate(cells):
        typer.echo("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip())
        if number == 0:
            typer.echo("  ".join("-" * w for w in widths))


def _people(values: Sequence[str] | None) -> list[str]:
    return [part.strip() for value in values or () for part in re.split(r"[,，、]", value) if part.strip()]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f}"


def _ids(values: Sequence[int]) -> str:
    return "、".join(f"#{i}" for i in values) or "无"


def _print_drill(view: dict[str, Any]) -> None:
    typer.echo(f"演练 #{view['id']}「{view['name']}」：{view['state_label']}（{view['speed']:g} 倍速）")
    at, total = _minutes(view["scenario_seconds"]), _minutes(view["scenario_duration_seconds"])
    posts = f"{view['posts_fed']}/{view['posts_total']}"
    injects = f"{view['injects_fed']}/{view['injects_total']}"
    typer.echo(f"  场景进度：第 {at} / {total} 分钟；信息 {posts} 条，情景注入 {injects} 个")
    if view.get("expected_finish_at"):
        typer.echo(f"  预计回放完毕：{view['expected_finish_at']}")
    typer.echo(
        f"  参演人员：{'、'.join(view['participants']) or '未指定'}；"
        f"外部通知渠道：{'允许' if view['allow_external'] else '不允许（仅站内通知）'}"
    )
    events, alerts, cases = (_ids(view[key]) for key in ("events", "alerts", "cases"))
    typer.echo(f"  演练事件：{events}；预警：{alerts}；工单：{cases}")
    for warning in view.get("warnings", []):
        typer.echo(f"  ⚠ {warning}")


# ---- commands -----------------------------------------------------------------------------------


@drill_app.command("list")
@user_errors
def drill_list(as_json: Json = False) -> None:
    """列出内置场景和已进行的演练。"""
    from yuqing.drills.service import list_drills, list_scenarios

    scenarios = list_scenarios()
    with runtime() as rt:
        drills = list_drills(rt)
    if as_json:
        emit_json({"scenarios": scenarios, "drills": drills})
        return
    typer.echo("内置场景：")
    _table(
        ("场景", "名称", "信息", "情景注入", "时长（小时）", "预期等级"),
        [
            (
                s["key"],
                s["name"],
                s["posts"],
                "、".join(i["kind"] for i in s["injects"]),
                f"{s['duration_seconds'] / 3600:.1f}",
                s["expect_grade"] or "-",
            )
            for s in scenarios
        ],
    )
    typer.echo("")
    if not drills:
        typer.echo("尚无演练（yuqing drill run 场景 --speed 60 开始一次）")
        return
    typer.echo("演练：")
    _table(
        ("编号", "场景", "状态", "速度", "进度（信息）", "预警", "工单", "创建时间"),
        [_row(d) for d in drills],
    )


def _row(d: dict[str, Any]) -> tuple[Any, ...]:
    return (
        d["id"],
        d["name"],
        d["state_label"],
        f"{d['speed']:g}",
        f"{d['posts_fed']}/{d['posts_total']}",
        len(d["alerts"]),
        len(d["cases"]),
        (d["created_at"] or "")[:16].replace("T", " "),
    )


@drill_app.command("create")
@user_errors
def drill_create(
    scenario: Annotated[str, typer.Argument(help="内置场景（见 yuqing drill list）或 TOML 文件。")],
    speed: Speed = 1.0,
    participants: Participants = None,
    allow_external: AllowExternal = False,
    unit: DrillUnit = None,
    as_json: Json = False,
) -> None:
    """创建演练；开始后（yuqing drill start ID）由 `yuqing serve` 回放。"""
    from yuqing.drills.service import create_drill

    with runtime() as rt:
        view = create_drill(
            rt,
            scenario,
            speed=speed,
            participants=_people(participants),
            allow_external=allow_external,
            unit=unit,
        )
    if as_json:
        emit_json(view)
        return
    _print_drill(view)
    typer.echo(f"已创建。yuqing serve 运行时，用 yuqing drill start {view['id']} 开始回放。")


@drill_app.command("run")
@user_errors
def drill_run(
    scenario: Annotated[str, typer.Argument(help="内置场景（见 yuqing drill list）或 TOML 文件。")],
    speed: Speed = 1.0,
    participants: Participants = None,
    allow_external: AllowExternal = False,
    unit: DrillUnit = None,
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline/--no-pipeline",
            help="同时在本进程中运行分析流水线和处置任务（`yuqing serve` 运行时请关闭）。",
        ),
    ] = True,
    as_json: Json = False,
) -> None:
    """创建演练并在前台回放，直到整个场景送入完毕。"""
    from yuqing.drills.models import DrillRunner, DrillState
    from yuqing.drills.runner import StepResult, run_foreground
    from yuqing.drills.service import create_drill, drill_status, start_drill

    with runtime() as rt:
        view = create_drill(
            rt,
            scenario,
            speed=speed,
            participants=_people(participants),
            allow_external=allow_external,
            runner=DrillRunner.FOREGROUND,
            unit=unit,
        )
        drill_id = view["id"]
        start_drill(rt, drill_id)
        if not as_json:
            _print_drill(view)
            typer.echo("回放中（Ctrl+C 可中断；yuqing drill stop 编号 结束演练）……")

        def progress(result: StepResult) -> None:
            if as_json:
                return
            if result.posts or result.injects:
                typer.echo(
                    f"  +{result.posts} 条信息" + (f"，{result.injects} 个情景注入" if result.injects else "")
                )

        run_foreground(
            rt, drill_id, sleep=lambda seconds: sleep(seconds), pipeline=pipeline, on_step=progress
        )
        final = drill_status(rt, drill_id)
    if as_json:
        emit_json(final)
        return
    _print_drill(final)
    if final["state"] != DrillState.FINISHED.value:
        return  # stopped from elsewhere: its state is printed above
    typer.echo(
        f"场景已回放完毕。处置完成后用 yuqing drill stop {drill_id} 结束演练（演练工单时限随之终止），"
        f"用 yuqing drill score {drill_id} 查看评分。"
    )


def _change(action: str, drill_id: int, as_json: bool) -> None:
    from yuqing.drills import service

    functions = {
        "start": service.start_drill,
        "pause": service.pause_drill,
        "resume": service.resume_drill,
        "stop": service.stop_drill,
    }
    with runtime() as rt:
        view = functions[action](rt, drill_id)
    if as_json:
        emit_json(view)
    else:
        _print_drill(view)


@drill_app.command("start")
@user_errors
def drill_start(drill_id: int, as_json: Json = False) -> None:
    """开始已创建的演练：由运行中的 `yuqing serve` 回放。"""
    _change("start", drill_id, as_json)


@drill_app.command("pause")
@user_errors
def drill_pause(drill_id: int, as_json: Json = False) -> None:
    """暂停演练：演练时钟停止，直到恢复。"""
    _change("pause", drill_id, as_json)


@drill_app.command("resume")
@user_errors
def drill_resume(drill_id: int, as_json: Json = False) -> None:
    """恢复已暂停的演练；场景余下部分按暂停时长顺延。"""
    _change("resume", drill_id, as_json)


@drill_app.command("stop")
@user_errors
def drill_stop(drill_id: int, as_json: Json = False) -> None:
    """结束演练：回放中的演练提前结束，回放完毕的演练在处置完毕后结束；未完成的科目不再计时，演练工单时限随之终止。"""
    _change("stop", drill_id, as_json)


@drill_app.command("status")
@user_errors
def drill_status_command(
    drill_id: Annotated[int | None, typer.Argument(help="演练编号（默认：全部演练）。")] = None,
    as_json: Json = False,
) -> None:
    """查看演练的进度和日志（或全部演练的进度）。"""
    from yuqing.drills.service import drill_status, list_drills

    with runtime() as rt:
        result: Any = drill_status(rt, drill_id) if drill_id is not None else list_drills(rt)
    if as_json:
        emit_json(result)
        return
    if drill_id is None:
        if not result:
            typer.echo("尚无演练")
            return
        _table(
            ("编号", "场景", "状态", "速度", "进度（信息）", "预警", "工单", "创建时间"),
            [_row(d) for d in result],
        )
        return
    _print_drill(result)
    typer.echo("演练日志：")
    _table(
        ("时间", "场景分钟", "内容"),
        [
            (
                (e["at"] or "")[11:19],
                "" if e["scenario_minutes"] is None else f"{e['scenario_minutes']:g}",
                e["text"],
            )
            for e in result["log"]
        ],
    )


@drill_app.command("score")
@user_errors
def drill_score(drill_id: int, as_json: Json = False) -> None:
    """根据记录为演练评分：各科目是否在时限内完成、预案检查项、各项时限。"""
    from yuqing.drills.service import score_drill

    with runtime() as rt:
        result = score_drill(rt, drill_id)
    if as_json:
        emit_json(result)
        return
    drill = result["drill"]
    typer.echo(
        f"演练 #{drill['id']}「{drill['name']}」（{drill['state_label']}）评分，截至 {result['scored_at']}"
    )
    typer.echo(f"发现（首条预警）：{result['detected_at'] or '未产生预警'}")
    typer.echo("")
    _table(
        ("科目", "完成动作", "时限（分钟）", "用时（分钟）", "得分", "情况"),
        [
            (
                s["name"],
                s["action_label"],
                f"{s['limit_minutes']:g}",
                "-" if s["minutes"] is None else f"{s['minutes']:.0f}",
                f"{s['score']:g}",
                s["status"],
            )
            for s in result["subjects"]
        ],
    )
    for s in result["subjects"]:
        typer.echo(f"  {s['name']}：{s['reason']}")
    typer.echo("")
    _table(
        ("检查", "结果", "扣分", "说明"),
        [
            (
                c["label"],
                {True: "符合", False: "不符", None: "-"}[c["passed"]],
                f"{c['deduction']:g}",
                c["reason"],
            )
            for c in result["checks"]
        ],
    )
    counts = result["deadline_counts"]
    typer.echo("")
    typer.echo(
        f"时限：按时完成 {counts['met']}，超时完成 {counts['missed']}，超时未完成 {counts['overdue']}，"
        f"未到期 {counts['pending']}"
    )
    for d in result["deadlines"]:
        if d["state"] in ("missed", "overdue"):
            typer.echo(
                f"  工单 #{d['case_id']} {d['reason']}（应于 {d['due_at'][:16].replace('T', ' ')} 前）"
            )
    typer.echo("")
    typer.echo(f"总分：{result['overall']:g}（{result['rating']}）")
    for reason in result["reasons"]:
        typer.echo(f"  - {reason}")
    if result["shortcomings"]:
        typer.echo("发现的不足：")
        for item in result["shortcomings"]:
            typer.echo(f"  - {item}")
    if result["improvements"]:
        typer.echo("改进建议：")
        for item in result["improvements"]:
            typer.echo(f"  - {item}")


@drill_app.command("report")
@user_errors
def drill_report(
    drill_id: int,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="docx、pdf 或 html。默认：按 -o 的扩展名，否则为 docx。"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="输出文件。默认：以报告标题命名的文件。")
    ] = None,
    as_json: Json = False,
) -> None:
    """生成演练总结（Word、PDF 或 HTML 文档），并存入报告归档。"""
    from yuqing.reports import service

    suffix = output.suffix.lower().lstrip(".") if output else ""
    chosen = fmt or (suffix if suffix in ("docx", "pdf", "html") else "docx")
    if chosen not in ("docx", "pdf", "html"):
        raise ValueError(f"演练总结支持 docx、pdf、html 格式，不支持 {chosen!r}")
    with runtime() as rt:
        made = service.generate(rt, "drill", {"drill_id": drill_id}, chosen, via="cli")
    path = output or Path(made.report["filename"])
    path.write_bytes(made.content)
    if as_json:
        emit_json(made.report | {"path": str(path)})
        return
    typer.echo(f"已生成演练总结：{made.report['title']}")
    typer.echo(f"  文件：{path}（{made.report['format']}，{made.report['size']} 字节）")
    typer.echo(f"  已归档：第 {made.report['id']} 号报告")
