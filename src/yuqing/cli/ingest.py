"""CLI commands of the ingest domain: sources, fetch, import, posts, dead letters, evidence."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import orjson
import typer

from yuqing.cli.common import emit_json, fail, runtime, user_errors
from yuqing.ingest import queries, service
from yuqing.ingest.evidence import export_evidence, verify_package
from yuqing.ingest.files import FORMATS, FileFormat, guess_format
from yuqing.ingest.records import IngestCounts
from yuqing.ingest.store import PostWriter

log = logging.getLogger(__name__)
sources_app = typer.Typer(help="信息源：add, list, test, enable, disable.", no_args_is_help=True)
posts_app = typer.Typer(help="采集到的信息：list, show.", no_args_is_help=True)
deadletters_app = typer.Typer(help="死信（无法入库的输入）：list.", no_args_is_help=True)
runs_app = typer.Typer(help="采集记录：list.", no_args_is_help=True)
evidence_app = typer.Typer(help="证据包：export, verify.", no_args_is_help=True)


@sources_app.command("add")
@user_errors
def sources_add(
    kind: Annotated[
        str, typer.Argument(help="类型：rss、rsshub、wewe（WeWe RSS 公众号）、web、api 或 webhook。")
    ],
    url: Annotated[
        str | None,
        typer.Argument(
            help="订阅源、网页或 API 的 URL（webhook 不需要）；rsshub 填路由（如 /weibo/user/1195230310）"
            "或预设（如 weibo-hot、weibo-user:1195230310，见 yuqing sources presets）；wewe 填公众号 id"
            "（如 MP_WXS_3941633310）或 all。"
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="信息源名称，不可重复。")] = "",
    schedule: Annotated[str | None, typer.Option(help="Cron 表达式或间隔（如 30m、2h）。")] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            help="平台：news、weibo、wechat、forum、video、zhihu、bilibili、douyin、xiaohongshu、kuaishou、"
            "tieba、other（rsshub 按路由判断）。"
        ),
    ] = None,
    media_tier: Annotated[
        str, typer.Option(help="媒体级别：central（中央）、provincial（省级）、city（市级）或 other。")
    ] = "other",
    mapping: Annotated[str | None, typer.Option(help='字段映射（JSON），例如 {"text": "body"}。')] = None,
    items_path: Annotated[str | None, typer.Option(help="用于 api 信息源：条目列表的路径。")] = None,
    link_pattern: Annotated[
        str | None, typer.Option(help="用于 web 信息源：抓取与该正则表达式匹配的链接。")
    ] = None,
    instance: Annotated[
        str | None,
        typer.Option(
            help="用于 rsshub / wewe：RSSHub 或 WeWe RSS 的地址，如 https://rsshub.example.gov.cn。"
        ),
    ] = None,
    include: Annotated[
        str | None, typer.Option(help="用于 wewe：标题须含其中一个词（用 | 分隔），由 WeWe RSS 过滤。")
    ] = None,
    exclude: Annotated[
        str | None, typer.Option(help="用于 wewe：标题含其中任一词则不要（用 | 分隔）。")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(help="用于 wewe：每次读取的文章数（WeWe 默认单个公众号 10 篇、全部 30 篇）。"),
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="用于 rsshub：实例的访问密钥（ACCESS_KEY），保密保存，不会显示。")
    ] = None,
    auth: Annotated[
        str, typer.Option(help="用于 rsshub：code（按路由计算访问码，推荐）或 key（直接带密钥）。")
    ] = "code",
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """添加信息源。"""
    config: dict[str, Any] = {}
    if kind == "wewe":
        from yuqing.ingest.connectors import wewe

        try:
            feed = url or "all"
            url = wewe.feed_url(instance or "", feed, include, exclude, limit)
        except ValueError as exc:
            fail(str(exc))
        kind, platform, name = "rss", platform or "wechat", name or wewe.default_name(feed)
        config.update(bridge="wewe", instance=wewe.instance_of(instance or ""))
    elif include or exclude or limit is not None:
        fail("--include / --exclude / --limit 只用于 wewe 信息源")
    if kind == "rsshub":
        route, default_name = _rsshub_route(url)
        config.update(instance=instance or "", route=route)
        if key:
            config.update(access_key=key, auth=auth)
        url, name = None, name or default_name
    if mapping:
        try:
            config["mapping"] = orjson.loads(mapping)
        except orjson.JSONDecodeError as exc:
            fail(f"--mapping 不是合法 JSON：{exc}")
    if items_path:
        config["items_path"] = items_path
    if link_pattern:
        config["link_pattern"] = link_pattern
    with runtime() as rt:
        source, token = service.add_source(
            rt,
            kind,
            url,
            name=name or (url or kind),
            schedule=schedule,
            platform=platform,
            media_tier=media_tier,
            config=config,
        )
        view = queries.source_view(source, rt.settings, rt.clock(), reveal=True)
    if token:
        view["token"] = token
        view["webhook_path"] = f"/api/v1/webhooks/{source.id}"
    if as_json:
        emit_json(view)
        return
    typer.echo(f"已添加信息源 {source.id}：{source.name}（{source.kind}）")
    if token:
        typer.echo(f"推送地址：POST {view['webhook_path']}，请求头 Authorization: Bearer {token}")
        typer.echo("令牌只显示这一次，请妥善保存。")


def _rsshub_route(spec: str | None) -> tuple[str, str]:
    """The route and a default name from a route or a preset (`name` or `name:parameter`)."""
    from yuqing.ingest.connectors import rsshub

    if not spec:
        fail("rsshub 信息源需要路由或预设，例如 /weibo/search/hot 或 weibo-user:1195230310")
        raise AssertionError  # fail() exits
    if spec.startswith("/"):
        return spec, spec
    preset, _, value = spec.partition(":")
    try:
        route = rsshub.preset_route(preset, value or None)
    except ValueError as exc:
        fail(str(exc))
        raise AssertionError from exc
    label = rsshub.PRESETS[preset].label
    return route, f"{label} {value}" if value else label


@sources_app.command("presets")
@user_errors
def sources_presets(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False) -> None:
    """RSSHub 常用路由预设（yuqing sources add rsshub 预设[:参数] --instance 实例地址）。"""
    from yuqing.ingest.connectors import rsshub

    rows = [
        {"preset": name, "label": p.label, "route": p.route, "param": p.param, "hot_list": p.hot_list}
        for name, p in rsshub.PRESETS.items()
    ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        param = f"：{row['param']}" if row["param"] else ""
        hot = "（热榜）" if row["hot_list"] else ""
        typer.echo(f"{row['preset']:<16}{row['label']}{hot}  {row['route']}{param}")


@sources_app.command("list")
@user_errors
def sources_list(as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False) -> None:
    """列出信息源及其健康状况。"""
    with runtime() as rt:
        views = queries.list_sources(rt, reveal=True)
    if as_json:
        emit_json(views)
        return
    for v in views:
        health = v["health"]
        typer.echo(
            f"{v['id']:>4}  {v['name']}  [{v['kind']}/{v['platform']}/{v['media_tier']}]  "
            f"{health['label']}  上次成功：{health['last_success_at'] or '—'}  "
            f"下次：{health['next_run_at'] or '—'}"
        )


@sources_app.command("disable")
@user_errors
def sources_disable(source: Annotated[str, typer.Argument(help="信息源 ID 或名称。")]) -> None:
    """停止采集信息源（已采集的信息保留）。"""
    with runtime() as rt:
        found = service.set_source_enabled(rt, source, False)
    typer.echo(f"已停用信息源 {found.id}：{found.name}")


@sources_app.command("enable")
@user_errors
def sources_enable(source: Annotated[str, typer.Argument(help="信息源 ID 或名称。")]) -> None:
    """恢复采集信息源；调度器下一轮即会采集。"""
    with runtime() as rt:
        found = service.set_source_enabled(rt, source, True)
    typer.echo(f"已启用信息源 {found.id}：{found.name}")


@sources_app.command("test")
@user_errors
def sources_test(
    source: Annotated[str, typer.Argument(help="信息源 ID 或名称。")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """试采集信息源一次（不入库），显示能采集到的内容。"""
    with runtime() as rt:
        report = service.probe_source(rt, source)
    if as_json:
        emit_json(report)
        return
    typer.echo(f"{report['source']}：找到 {report['items']} 条")
    for item in report["sample"]:
        typer.echo(f"  - {item['published_at'] or '无时间'}  {item['title'] or item['text'][:40]}")
    for problem in report["problems"] + report["warnings"]:
        typer.echo(f"  ! {problem}")


@user_errors
def fetch(
    once: Annotated[
        bool, typer.Option("--once", help="立即采集一次后退出（定时采集由 serve 负责）。")
    ] = False,
    source: Annotated[str | None, typer.Option(help="仅限该信息源（ID 或名称）。")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """立即采集所有信息源（或指定的一个），并逐个输出摘要。"""
    if not once:
        fail("请加 --once 立即采集一次；定时采集由 yuqing serve 负责")
    with runtime() as rt:
        service.close_interrupted_runs(rt)
        ids: list[str | int] = [source] if source else list(service.fetchable_source_ids(rt))
        writer = PostWriter(rt.sessions, rt.settings, rt.clock)
        summaries: list[service.RunSummary] = []
        for ref, done in zip(ids, service.run_sources(rt, writer, ids), strict=True):
            if isinstance(done, service.RunSummary):
                summaries.append(done)
                continue
            if source:
                raise done
            error = f"内部错误：{type(done).__name__}: {done}"
            summaries.append(service.RunSummary(int(ref), str(ref), "failed", IngestCounts(), error))
    if as_json:
        emit_json([s.as_dict() for s in summaries])
    else:
        for s in summaries:
            c = s.counts
            typer.echo(
                f"{s.source}：新增 {c.new}，重复 {c.duplicate}，近似重复 {c.near_duplicate}，"
                f"拒收 {c.rejected}（{s.outcome}）"
            )
            if s.error:
                typer.echo(f"  错误：{s.error}")
            for warning in c.errors:
                typer.echo(f"  警告：{warning}")
    if summaries and all(s.outcome == "failed" for s in summaries):
        raise typer.Exit(1)


@user_errors
def import_file(
    file: Annotated[str, typer.Argument(help="要导入的文件，或用 - 表示标准输入；也可读取 .gz 文件。")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="文件格式：jsonl、json、csv 或 xlsx。")
    ] = None,
    source: Annotated[str | None, typer.Option(help="导入的行归入的信息源名称。")] = None,
    platform: Annotated[str | None, typer.Option(help="行中未注明平台时使用的平台。")] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            help="按某种工具的输出读取：mediacrawler（MediaCrawler 的 JSON/JSONL/CSV 文件，含评论）。"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """从文件导入信息，并输出新增、重复、近似重复和拒收的条数。"""
    if file_format is not None and file_format not in FORMATS:
        fail(f"不支持的格式 {file_format!r}（可选：{', '.join(FORMATS)}）")
    if file == "-":
        data, origin = sys.stdin.buffer.read(), "stdin"
        if file_format is None:
            file_format = "jsonl"
    else:
        path = Path(file)
        if path.is_dir():
            fail(f"{file} 是文件夹，不是文件：请给出要导入的文件，如 {Path(file) / 'posts.jsonl'}")
        if not path.is_file():
            fail(f"文件不存在：{file}")
        size = path.stat().st_size
        if size > service.IMPORT_MAX_FILE_BYTES:  # refused before a gigabyte is read into memory
            with runtime() as rt:
                service.refuse_large_import(rt, size, origin=str(path), source_name=source, platform=platform)
        data, origin = path.read_bytes(), str(path)
    fmt: FileFormat | None = file_format  # type: ignore[assignment]

    stop = threading.Event()
    from yuqing.cli.progress import Progress

    bar = Progress("导入", _row_estimate(data, fmt or guess_format(origin, data)), unit="行")

    def progress(batch: IngestCounts) -> None:
        if stop.is_set():  # asked to stop: the batch just written is committed, nothing is open
            raise KeyboardInterrupt
        bar.advance(batch.read)

    # SIGTERM and a first Ctrl+C stop the import after the batch being written (a stop raised in
    # the middle of a write left SQLite's write lock held, and closing the run then waited on it);
    # a second Ctrl+C stops at once. Either way the run is closed as interrupted, the worker stopped.

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    with runtime() as rt:
        service.close_interrupted_runs(rt)
        writer = PostWriter(rt.sessions, rt.settings, rt.clock)
        try:
            with bar:
                counts = service.import_data(
                    rt,
                    writer,
                    data,
                    origin=origin,
                    file_format=fmt,
                    source_name=source,
                    platform=platform,
                    on_batch=progress,
                    layout=layout,
                )
        except KeyboardInterrupt:
            fail("导入已中断（进程中断）：已入库的批次保留，再次导入同一文件不会重复入库", code=130)
            return
    if as_json:
        emit_json(counts.as_dict())
        return
    typer.echo(
        f"读取 {counts.read} 行：新增 {counts.new}，重复 {counts.duplicate}，"
        f"近似重复 {counts.near_duplicate}，拒收 {counts.rejected}"
    )
    if counts.rejected:
        typer.echo("被拒收的行见 yuqing deadletters list")


def _row_estimate(data: bytes, fmt: str) -> int | None:
    """Rows of a JSON Lines or CSV file, counted by its line ends (for the progress bar's total;
    a CSV field spanning lines makes it a little high). None when it cannot be told cheaply."""
    if fmt not in ("jsonl", "csv") or data[:2] == b"\x1f\x8b":
        return None
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return max(lines - (1 if fmt == "csv" else 0), 0)


@posts_app.command("list")
@user_errors
def posts_list(
    limit: Annotated[int, typer.Option(help="条数，最新的在前。")] = 20,
    offset: Annotated[int, typer.Option(help="跳过的条数。")] = 0,
    source: Annotated[str | None, typer.Option(help="仅限该信息源（ID 或名称）。")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """列出已入库的信息，最新的在前。"""
    with runtime() as rt:
        posts = queries.list_posts(rt, limit=limit, offset=offset, source=source)
    if as_json:
        emit_json(posts)
        return
    for p in posts:
        text = (p["title"] or p["text"]).replace("\n", " ")[:60]
        typer.echo(f"{p['id']:>8}  {p['published_at'] or '—':<25}  {p['platform']:<7} {text}")


@posts_app.command("show")
@user_errors
def posts_show(
    post_id: Annotated[int, typer.Argument(help="信息 ID。")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """查看一条信息及其全部存储内容。"""
    with runtime() as rt:
        post = queries.get_post(rt, post_id)
    if as_json:
        emit_json(post)
        return
    for key in ("id", "platform", "url", "title", "author", "published_at", "fetched_at", "media_tier"):
        typer.echo(f"{key}: {post[key]}")
    typer.echo(f"engagement: {post['engagement']}")
    typer.echo(post["text_original"])


@deadletters_app.command("list")
@user_errors
def deadletters_list(
    limit: Annotated[int, typer.Option(help="条数，最新的在前。")] = 100,
    source: Annotated[str | None, typer.Option(help="仅限该信息源（ID 或名称）。")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """列出无法入库的输入及原因。"""
    with runtime() as rt:
        letters = queries.list_dead_letters(rt, limit=limit, source=source, reveal=True)
    if as_json:
        emit_json(letters)
        return
    for d in letters:
        again = f"  （又收到 {d['repeats']} 次，最近 {d['last_seen_at']}）" if d["repeats"] else ""
        where = d["location"] or ""
        typer.echo(f"{d['id']:>6}  {d['created_at']}  源 {d['source_id']}  {where}  {d['error']}{again}")


@runs_app.command("list")
@user_errors
def runs_list(
    source: Annotated[str | None, typer.Option(help="仅限该信息源（ID 或名称）。")] = None,
    limit: Annotated[int, typer.Option(help="条数，最新的在前。")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON。")] = False,
) -> None:
    """列出采集与导入记录。"""
    with runtime() as rt:
        runs = queries.list_runs(rt, source=source, limit=limit, reveal=True)
    if as_json:
        emit_json(runs)
        return
    for r in runs:
        typer.echo(
            f"{r['id']:>6}  源 {r['source_id']}  {r['started_at']}  {r['outcome']}  读 {r['read']} "
            f"新 {r['new']} 重 {r['duplicate']} 近 {r['near_duplicate']} 拒 {r['rejected']}"
        )


@evidence_app.command("export")
@user_errors
def evidence_export(
    post_ids: Annotated[list[int], typer.Argument(help="信息 ID（可多个）。")],
    output: Annotated[Path, typer.Option("-o", "--output", help="要写入的 zip 文件。")],
) -> None:
    """导出证据包：采集时的原始字节、元数据和 SHA-256 清单。"""
    with runtime() as rt:
        manifest = export_evidence(rt, post_ids, output)
    typer.echo(f"已导出 {len(manifest['posts'])} 条信息的证据包：{output}（{len(manifest['files'])} 个文件）")


@evidence_app.command("verify")
@user_errors
def evidence_verify(package: Annotated[Path, typer.Argument(help="要校验的 zip 文件。")]) -> None:
    """按 SHA-256 校验证据包中的每个文件。"""
    problems = verify_package(package)
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1)
    typer.echo("证据包完整：所有文件的 SHA-256 与清单一致")
