"""CLI commands of the analysis domain: topics, word groups, the pipeline, events."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from yuqing.cli.common import emit_json, fail, runtime, user_errors

topics_app = typer.Typer(help="专题（监测规则）：add, list, test, groups.", no_args_is_help=True)
groups_app = typer.Typer(help="词组（地域词、主体词、事件词、排除词）：set, list.", no_args_is_help=True)
topics_app.add_typer(groups_app, name="groups")
analyze_app = typer.Typer(
    help="分析：对已入库信息运行分析流水线；或 sentiment / incidents / events 处理 JSON Lines。"
)
events_app = typer.Typer(help="事件：list, show.", no_args_is_help=True)


def _rule_error(exc: Exception) -> None:
    # The message already names the position ("第 N 个字符处…").
    fail(f"规则有误：{exc}")


@topics_app.command("add")
@user_errors
def topics_add(
    name: Annotated[str, typer.Argument(help="专题名称。")],
    rule: Annotated[str, typer.Option(help="规则，例如 '@地域 + @主体 + (投诉|事故|死亡) - 招聘'。")],
    unit: Annotated[str | None, typer.Option(help="负责监测该专题的单位。")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """添加监测专题。"""
    from yuqing.analysis import topics
    from yuqing.analysis.rules import RuleSyntaxError

    with runtime() as rt:
        try:
            view = topics.add_topic(rt, name, rule, unit)
        except RuleSyntaxError as exc:
            _rule_error(exc)
            return
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"已添加专题 {view['id']}：{view['name']}")


@topics_app.command("list")
@user_errors
def topics_list(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False) -> None:
    """列出专题。"""
    from yuqing.analysis import topics

    with runtime() as rt:
        views = topics.list_topics(rt)
    if as_json:
        emit_json(views)
        return
    for v in views:
        typer.echo(f"{v['id']:>4}  {v['name']}  {v['rule']}  {v['unit'] or ''}")


@topics_app.command("test")
@user_errors
def topics_test(
    rule: Annotated[str, typer.Argument(help="规则。")],
    text: Annotated[str, typer.Argument(help="用于测试规则的文本。")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """测试规则是否命中文本，以及触发了哪些词。"""
    from yuqing.analysis import topics
    from yuqing.analysis.rules import RuleSyntaxError

    with runtime() as rt:
        try:
            result = topics.try_rule(rt, rule, text)
        except RuleSyntaxError as exc:
            _rule_error(exc)
            return
    if as_json:
        emit_json(result)
    elif result["matched"]:
        typer.echo(f"命中；触发的词：{'、'.join(result['terms'])}")
    else:
        typer.echo("未命中")


@groups_app.command("set")
@user_errors
def groups_set(
    name: Annotated[str, typer.Argument(help="词组名称，在规则中以 @名称 引用。")],
    words: Annotated[list[str], typer.Argument(help="词组中的词。")],
    kind: Annotated[str, typer.Option(help="类型：地域、主体、事件、排除或 other。")] = "other",
    unit: Annotated[
        str | None,
        typer.Option(help="词组所属单位（默认：顶级单位；替换词组时不变）。"),
    ] = None,
) -> None:
    """新建或替换词组。"""
    from yuqing.analysis import topics

    with runtime() as rt:
        group = topics.set_word_group(rt, name, words, kind, unit=unit)
    typer.echo(f"词组 @{group['name']}：{'、'.join(group['words'])}")


@groups_app.command("list")
@user_errors
def groups_list(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False) -> None:
    """列出词组。"""
    from yuqing.analysis import topics

    with runtime() as rt:
        groups = topics.word_groups(rt)
    if as_json:
        emit_json(groups)
        return
    for name, words in groups.items():
        typer.echo(f"@{name}：{'、'.join(words)}")


@analyze_app.callback(invoke_without_command=True)
@user_errors
def analyze(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(help="最多分析 N 条信息。")] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="先把此前无法分析、已移入死信的信息重新加入分析队列。")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """对已入库但尚未分析的信息运行分析流水线。"""
    if ctx.invoked_subcommand is not None:
        return
    from yuqing.analysis.pipeline import AnalysisPipeline, pipeline_status, requeue_failed
    from yuqing.cli.progress import Progress

    with runtime() as rt:
        if retry_failed:
            queued = requeue_failed(rt)
            if not as_json:
                typer.echo(f"重新加入分析队列 {queued} 条")
        waiting = pipeline_status(rt)["backlog"]
        with Progress("分析", min(waiting, limit) if limit else waiting) as bar:
            counts = AnalysisPipeline(rt).run(limit=limit, on_batch=bar.advance)
    if counts.busy:
        fail("另一个分析进程正在运行（yuqing serve 或另一个 yuqing analyze），它会处理这些信息；稍后再试")
    if as_json:
        emit_json(counts.as_dict())
    else:
        typer.echo(
            f"分析 {counts.posts} 条信息，涉及事件 {counts.events_touched} 个，"
            f"新的定级或升级 {counts.signals} 次"
        )
        if counts.failed:
            typer.echo(
                f"无法分析 {counts.failed} 条，已移入死信（yuqing deadletters list）；"
                "问题修复后可用 yuqing analyze --retry-failed 重新分析"
            )


def _lines(source: str) -> Iterable[bytes]:
    """The lines of a file (gzip by its suffix), or of standard input for `-`."""
    if source == "-":
        return sys.stdin.buffer
    path = Path(source)
    if path.is_dir():
        fail(f"{source} 是文件夹，不是文件：请给出 JSON Lines 文件，或用 - 读标准输入")
    if not path.is_file():
        fail(f"文件不存在：{source}")
    import gzip

    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _read_jsonl(source: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(_lines(source), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            fail(f"第 {number} 行不是合法 JSON：{exc}")
        if not isinstance(record, dict):
            fail(f"第 {number} 行不是 JSON 对象")
        yield record


def _write(record: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(record) + b"\n")


@analyze_app.command("sentiment")
@user_errors
def analyze_sentiment(
    source: Annotated[
        str, typer.Argument(help="含 `text` 字段的 JSON Lines 文件，或用 - 表示标准输入。")
    ] = "-",
) -> None:
    """为读入的每个 JSON 对象添加 `sentiment: {label, negative}`。"""
    from itertools import islice

    from yuqing.analysis.sentiment import SentimentModel
    from yuqing.ingest.normalise import to_simplified

    model = SentimentModel.load()
    records = _read_jsonl(source)
    while batch := list(islice(records, 2000)):
        texts = [to_simplified(str(r.get("text") or "")) for r in batch]
        for record, result in zip(batch, model.predict(texts), strict=True):
            record["sentiment"] = {
                "label": result.label,
                "negative": round(result.negative, 4),
                "flags": list(result.flags),
            }
            _write(record)
    sys.stdout.flush()


def _read_jsonl_skipping(source: str, bad: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Like :func:`_read_jsonl`, but a line that is not a JSON object with a string `text` is
    reported on standard error, its number appended to ``bad``, and skipped."""
    for number, line in enumerate(_lines(source), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problem = f"不是合法 JSON：{exc}"
        else:
            if not isinstance(record, dict):
                problem = "不是 JSON 对象"
            elif not isinstance(record.get("text"), str):
                problem = "缺少字符串字段 text"
            else:
                yield number, record
                continue
        typer.echo(f"错误：第 {number} 行{problem}，已跳过", err=True)
        bad.append(number)


@analyze_app.command("incidents")
@user_errors
def analyze_incidents(
    source: Annotated[
        str, typer.Argument(help="含 `text` 字段的 JSON Lines 文件，或用 - 表示标准输入。")
    ] = "-",
) -> None:
    """为每个 JSON 对象添加 `incident: {incident, casualties, public_safety, domain, score}`。

    无法读取的行会在标准错误中注明行号并跳过，此时退出状态为 1。
    """
    from itertools import islice

    from yuqing.analysis.incidents import IncidentModel

    model = IncidentModel.load()
    bad: list[int] = []
    records = _read_jsonl_skipping(source, bad)
    while batch := list(islice(records, 2000)):
        results = model.predict([record["text"] for _, record in batch])
        for (_, record), result in zip(batch, results, strict=True):
            record["incident"] = result.as_dict()
            _write(record)
    sys.stdout.flush()
    if bad:
        shown = "、".join(str(n) for n in bad[:10]) + ("…" if len(bad) > 10 else "")
        fail(f"{len(bad)} 行无法读取，已跳过（第 {shown} 行）")


@analyze_app.command("events")
@user_errors
def analyze_events(
    source: Annotated[str, typer.Argument(help="JSON Lines 格式的信息，或用 - 表示标准输入。")] = "-",
) -> None:
    """按 `published_at` 顺序将信息聚类为事件，并为每条信息添加 `event_id`。"""
    from yuqing.analysis.clustering import assign_events

    for record in assign_events(_read_jsonl(source)):
        _write(record)
    sys.stdout.flush()


@events_app.command("list")
@user_errors
def events_list(
    limit: Annotated[int, typer.Option(help="最多列出的事件数。")] = 50,
    status: Annotated[str | None, typer.Option(help="状态：open 或 closed。")] = None,
    graded: Annotated[bool, typer.Option("--graded", help="只列出已定级的事件。")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """列出事件，最严重、最新的在前。"""
    from yuqing.analysis import queries

    with runtime() as rt:
        events = queries.list_events(rt, limit=limit, status=status, graded_only=graded)
    if as_json:
        emit_json(events)
        return
    for e in events:
        grade = e["grade"] or "未分级"
        typer.echo(f"{e['id']:>6}  {grade:<4}  {e['posts']:>6} 条  {e['title'][:50]}")


@events_app.command("show")
@user_errors
def events_show(
    event_id: Annotated[int, typer.Argument(help="事件 ID。")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """查看事件：定级理由、涉及对象、指标；加 --json 时还列出其各条信息的 ID。"""
    from yuqing.analysis import queries

    with runtime() as rt:
        event = queries.get_event(rt, event_id, with_posts=as_json)
    if as_json:
        emit_json(event)
        return
    typer.echo(f"{event['title']}\n等级：{event['grade'] or '未分级'}")
    for reason in event["reasons"]:
        posts = "、".join(f"#{p}" for p in reason.get("posts") or [])
        typer.echo(f"  - {reason['text']}" + (f"：{posts}" if posts else ""))
    if event["entities"]:
        names = "、".join(f"{e['name']}（{e['posts']}）" for e in event["entities"])
        typer.echo(f"涉及对象：{names}")
