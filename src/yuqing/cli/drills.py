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

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Speed = Annotated[
    float,
    typer.Option("--speed", min=0.001, help="Replay speed: 60 plays an hour of the scenario per minute."),
]
Participants = Annotated[
    list[str] | None,
    typer.Option(
        "--participants",
        help="People taking part (id, login or name; repeatable or comma-separated): injects reach them.",
    ),
]
AllowExternal = Annotated[
    bool,
    typer.Option(
        "--allow-external",
        help="Also send the drill's notices by e-mail and DingTalk/WeCom/Feishu (default: in-app only).",
    ),
]
DrillUnit = Annotated[
    str | None,
    typer.Option(
        "--unit",
        help="The unit running the drill (its 办公室 operate it in the console; default: the top unit).",
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
    """Shipped scenarios and the drills run so far."""
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
    scenario: Annotated[str, typer.Argument(help="A shipped scenario (yuqing drill list) or a TOML file.")],
    speed: Speed = 1.0,
    participants: Participants = None,
    allow_external: AllowExternal = False,
    unit: DrillUnit = None,
    as_json: Json = False,
) -> None:
    """Create a drill for `yuqing serve` to replay once started (yuqing drill start ID)."""
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
    scenario: Annotated[str, typer.Argument(help="A shipped scenario (yuqing drill list) or a TOML file.")],
    speed: Speed = 1.0,
    participants: Participants = None,
    allow_external: AllowExternal = False,
    unit: DrillUnit = None,
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline/--no-pipeline",
            help="Also run the pipeline and response duties here (turn off while `yuqing serve` runs).",
        ),
    ] = True,
    as_json: Json = False,
) -> None:
    """Create a drill and replay it in the foreground until the whole scenario is fed."""
    from yuqing.drills.models import DrillRunner
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
    typer.echo(f"场景已回放完毕。处置完成后用 yuqing drill score {drill_id} 查看评分。")


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
    """Start a created drill: the running `yuqing serve` replays it."""
    _change("start", drill_id, as_json)


@drill_app.command("pause")
@user_errors
def drill_pause(drill_id: int, as_json: Json = False) -> None:
    """Pause a drill: its clock stands still until it is resumed."""
    _change("pause", drill_id, as_json)


@drill_app.command("resume")
@user_errors
def drill_resume(drill_id: int, as_json: Json = False) -> None:
    """Resume a paused drill; the rest of the scenario moves by the pause."""
    _change("resume", drill_id, as_json)


@drill_app.command("stop")
@user_errors
def drill_stop(drill_id: int, as_json: Json = False) -> None:
    """End a drill early; what was done can still be scored."""
    _change("stop", drill_id, as_json)


@drill_app.command("status")
@user_errors
def drill_status_command(
    drill_id: Annotated[int | None, typer.Argument(help="A drill (default: all drills).")] = None,
    as_json: Json = False,
) -> None:
    """A drill's progress and log (or every drill's progress)."""
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
    """Score a drill from the record: each subject against its limit, the plan's checks, deadlines."""
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
        str | None, typer.Option("--format", "-f", help="docx, pdf or html. Default: from -o, else docx.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write. Default: the report's title.")
    ] = None,
    as_json: Json = False,
) -> None:
    """The drill report (演练总结) as a Word, PDF or HTML document, kept in the reports archive."""
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
