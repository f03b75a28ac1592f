"""Service functions of the ingest domain: sources, runs, imports, webhook deliveries, queries.

The CLI, the HTTP API and the scheduler call these; none of them talks to the store directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import itertools
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from croniter import CroniterError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yuqing.db import is_transient, transaction
from yuqing.ingest import runs
from yuqing.ingest import schedule as schedule_mod
from yuqing.ingest.connectors.base import Collected, ConnectorError, SourceSpec, get_connector
from yuqing.ingest.decoding import decode_document
from yuqing.ingest.errors import (
    FileTooLarge,
    InvalidSource,
    SourceNotFound,
    WebhookAuthError,
    WebhookTooLarge,
    WebhookUnreadable,
)
from yuqing.ingest.fetcher import Fetcher, FetchPolicy, bridge_hosts, charset_of, is_public_address
from yuqing.ingest.files import FileFormat, guess_format, read_rows
from yuqing.ingest.jsonstream import JSONLayout, json_layout, json_records
from yuqing.ingest.mapping import FieldMapping, MappingError
from yuqing.ingest.models import (
    FetchRun,
    MediaTier,
    Platform,
    RunOutcome,
    Source,
    SourceKind,
)
from yuqing.ingest.normalise import display_iso
from yuqing.ingest.prepare import SourceContext, prepare_batch
from yuqing.ingest.records import Document, IngestCounts, RawItem, Rejected
from yuqing.ingest.runs import close_interrupted_runs as close_interrupted_runs  # for the CLI, serve
from yuqing.ingest.store import PostWriter, record_dead_letters, store_document
from yuqing.runtime import Runtime
from yuqing.settings import Settings

log = logging.getLogger(__name__)
_T = TypeVar("_T")

FETCHED_KINDS = (SourceKind.RSS, SourceKind.WEB, SourceKind.API, SourceKind.RSSHUB)
# Below this size an import is over before a worker process would pay for itself.
PARALLEL_IMPORT_BYTES = 1024 * 1024
# An import into PostgreSQL refreshes the planner's statistics once it has stored this many rows
# (then ten times as many, and at the end): see `PostWriter.analyze`.
ANALYZE_AFTER_ROWS = 10_000
# `yuqing sources test` prepares only the first items it finds.
_PROBE_SAMPLE = 50


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        allow_private_addresses=settings.allow_private_addresses,
        max_bytes=settings.fetch_max_bytes,
        connect_timeout=settings.fetch_connect_timeout,
        read_timeout=settings.fetch_read_timeout,
        total_timeout=settings.fetch_total_timeout,
        max_redirects=settings.fetch_max_redirects,
        respect_robots_txt=settings.respect_robots_txt,
        user_agent=settings.user_agent,
        bridges=bridge_hosts(settings.bridge_instances),
    )


WEBHOOK_SOURCE_SECONDS = 1.0
RSSHUB_SCHEDULE = "30m"  # a route of a bridge, twice an hour unless the source says otherwise


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- sources ---------------------------------------------------------------------------------


def add_source(
    rt: Runtime,
    kind: str,
    url: str | None,
    *,
    name: str,
    schedule: str | None = None,
    platform: str | None = None,
    media_tier: str = MediaTier.OTHER.value,
    config: dict[str, Any] | None = None,
) -> tuple[Source, str | None]:
    """Create a source; for a webhook source also its token, shown once and stored hashed."""
    try:
        source_kind = SourceKind(kind)
    except ValueError:
        choices = "rss、rsshub、web、api、webhook、file"
        raise InvalidSource(f"未知的信息源类型 {kind!r}（可选：{choices}）") from None
    config = dict(config or {})
    if source_kind is SourceKind.RSSHUB:
        url, platform, schedule = _rsshub_setup(config, platform, schedule, rt.settings)
        _check_bridge(rt.settings, config["instance"], "RSSHub")
    elif config.get("bridge") == "wewe":
        _check_bridge(rt.settings, str(config.get("instance") or url or ""), "WeWe RSS")
    if source_kind in FETCHED_KINDS and not url:
        raise InvalidSource(f"{kind} 类型的信息源需要网址")
    if source_kind in FETCHED_KINDS and url and not re.match(r"(?i)https?://[^\s/?#]+", url.strip()):
        raise InvalidSource(f"网址应以 http:// 或 https:// 开头并含主机名，实为「{url}」")
    if source_kind in FETCHED_KINDS and url and source_kind is not SourceKind.RSSHUB:
        _check_fetched_url(rt.settings, url)
    if media_tier not in {t.value for t in MediaTier}:
        raise InvalidSource(f"未知的媒体级别 {media_tier!r}（可选：central、provincial、city、other）")
    platform = platform or (
        Platform.NEWS.value if source_kind in (SourceKind.RSS, SourceKind.WEB) else Platform.OTHER.value
    )
    if schedule:
        schedule_mod.Schedule.parse(schedule, rt.settings.timezone)  # raises ScheduleError
    try:
        FieldMapping.build(config.get("mapping"))
    except MappingError as exc:
        raise InvalidSource(str(exc)) from exc
    token = secrets.token_urlsafe(24) if source_kind is SourceKind.WEBHOOK else None
    with transaction(rt.sessions) as session:
        if session.scalar(select(Source.id).where(Source.name == name)) is not None:
            raise InvalidSource(f"已有同名信息源 {name!r}")
        source = Source(
            name=name,
            kind=source_kind.value,
            url=url,
            platform=platform,
            media_tier=media_tier,
            schedule=schedule,
            config=config,
            token_sha256=token_digest(token) if token else None,
            created_at=rt.clock(),
            consecutive_failures=0,
            empty_runs=0,
            enabled=True,
            next_run_at=rt.clock() if source_kind in FETCHED_KINDS else None,
        )
        session.add(source)
        session.flush()
    return source, token


def _rsshub_setup(
    config: dict[str, Any], platform: str | None, schedule: str | None, settings: Settings
) -> tuple[str, str, str]:
    """An RSSHub source's public URL, platform and schedule, from `config` (instance, route, and
    optionally access_key and auth). Its schedule may not be shorter than RSSHub's cache time."""
    from yuqing.ingest.connectors import rsshub

    try:
        config["instance"] = rsshub.check_instance(str(config.get("instance") or ""))
        config["route"] = rsshub.check_route(str(config.get("route") or ""))
    except ValueError as exc:
        raise InvalidSource(str(exc)) from None
    if config.get("auth", "code") not in ("code", "key"):
        raise InvalidSource("访问方式只能是 code（按路由计算的访问码，推荐）或 key（直接带密钥）")
    if not config.get("access_key"):
        config.pop("access_key", None)
        config.pop("auth", None)
    schedule = schedule or RSSHUB_SCHEDULE
    parsed = schedule_mod.Schedule.parse(schedule, settings.timezone)
    if parsed.shortest_interval() < rsshub.DEFAULT_CACHE_SECONDS:
        minutes = rsshub.DEFAULT_CACHE_SECONDS // 60
        raise InvalidSource(f"RSSHub 会缓存 {minutes} 分钟内的结果，采集间隔不能短于它（收到 {schedule}）")
    url = config["instance"] + config["route"]
    return url, platform or rsshub.platform_of(config["route"]), schedule


def _check_bridge(settings: Settings, instance: str, product: str) -> None:
    """Refuse a bridge source that every fetch would refuse: an instance on a private address
    (literal or ``localhost``; names are checked when fetched) or, for WeWe RSS, whose robots.txt
    forbids all robots, unless the administrator listed it in ``bridge_instances``."""
    try:
        url = httpx.URL(instance)
    except httpx.InvalidURL:
        raise InvalidSource(f"{product} 地址无效：{instance}") from None
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
    if bridge_hosts([origin]) <= bridge_hosts(settings.bridge_instances):
        return
    hint = (
        f"如这是本单位自建的 {product}，请管理员把 {origin} 加入 bridge_instances"
        "（环境变量 YUQING_BRIDGE_INSTANCES）"
    )
    if product == "WeWe RSS" and settings.respect_robots_txt:
        raise InvalidSource(f"WeWe RSS 的 robots.txt 禁止一切抓取，不能按 robots.txt 订阅 {origin}。{hint}")
    if not settings.allow_private_addresses and _is_private_host(url.host):
        raise InvalidSource(f"{product} 地址 {origin} 是内网地址，默认不允许访问。{hint}")


def _is_private_host(host: str) -> bool:
    """A literal non-public address or ``localhost`` (names are checked when fetched)."""
    try:
        return not is_public_address(host.strip("[]"))
    except ValueError:  # a host name: only localhost is known without asking DNS
        return host.lower() in ("localhost", "localhost.localdomain")


def _check_fetched_url(settings: Settings, url: str) -> None:
    """Refuse a source every fetch would refuse: a literal internal address (or ``localhost``)
    while `allow_private_addresses` is off and the address is not a listed bridge. It was
    accepted, then every run failed with 「拒绝访问内网或保留地址」."""
    if settings.allow_private_addresses:
        return
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        raise InvalidSource(f"网址无效：{url}") from None
    origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
    listed = bridge_hosts([origin]) <= bridge_hosts(settings.bridge_instances)
    if _is_private_host(parsed.host) and not listed:
        raise InvalidSource(
            f"网址 {url.strip()} 指向内网地址，默认不允许抓取（防止借信息源探测内网）。如确需抓取"
            "本单位内网站点，请管理员开启 allow_private_addresses（环境变量 YUQING_ALLOW_PRIVATE_ADDRESSES）"
        )


def set_source_enabled(rt: Runtime, ref: str | int, enabled: bool) -> Source:
    """Pause or resume a source; a resumed fetched source is due at once."""
    with transaction(rt.sessions) as session:
        source = find_source(session, ref)
        source.enabled = enabled
        if enabled and source.kind in FETCHED_KINDS:
            source.next_run_at = rt.clock()
        return source


def find_source(session: Session, ref: str | int) -> Source:
    """A source by id or by name."""
    source: Source | None = None
    if isinstance(ref, int) or str(ref).isdigit():
        source = session.get(Source, int(ref))
    if source is None:
        source = session.scalar(select(Source).where(Source.name == str(ref)))
    if source is None:
        raise SourceNotFound(ref)
    return source


def source_context(
    source: Source, settings: Settings, *, guess_platform: bool = False, relative_times: bool = True
) -> SourceContext:
    return SourceContext(
        source_id=source.id,
        platform=source.platform,
        media_tier=source.media_tier,
        mapping=FieldMapping.build((source.config or {}).get("mapping")),
        timezone=(source.config or {}).get("timezone", settings.timezone),
        min_content_chars=settings.dedup_min_content_chars,
        guess_platform=guess_platform,
        relative_times=relative_times,
    )


def _spec(source: Source) -> SourceSpec:
    return SourceSpec(
        id=source.id,
        name=source.name,
        kind=source.kind,
        url=source.url,
        config=source.config or {},
        etag=source.etag,
        last_modified=source.last_modified,
    )


# -- runs ------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    source_id: int
    source: str
    outcome: str
    counts: IngestCounts
    error: str | None = None
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "source": self.source,
            "run_id": self.run_id,
            "outcome": self.outcome,
            **self.counts.as_dict(),
            "errors": ([self.error] if self.error else []) + self.counts.errors,
        }


def probe_source(rt: Runtime, ref: str | int, fetcher: Fetcher | None = None) -> dict[str, Any]:
    """Fetch a source once without storing anything: what would be collected."""
    with rt.sessions() as session:
        source = find_source(session, ref)
        spec = _spec(source)
        context = source_context(source, rt.settings)
    if spec.kind not in FETCHED_KINDS:
        raise InvalidSource(f"{spec.kind} 类型的信息源不主动抓取，无法测试")
    own = fetcher is None
    fetcher = fetcher or Fetcher(fetch_policy(rt.settings), clock=rt.clock)
    try:
        collected = get_connector(spec.kind).collect(
            SourceSpec(spec.id, spec.name, spec.kind, spec.url, spec.config), fetcher
        )
    finally:
        if own:
            fetcher.close()
    found = 0
    raw: list[RawItem] = []
    problems: list[str] = []
    for item in collected.items:  # counted as a stream; only the first few are prepared
        found += 1
        if isinstance(item, RawItem) and len(raw) < _PROBE_SAMPLE:
            raw.append(item)
        elif isinstance(item, Rejected) and len(problems) < _PROBE_SAMPLE:
            problems.append(item.error)
    prepared = prepare_batch(raw, context, rt.clock())
    sample = [
        {
            "title": p.title,
            "url": p.url,
            "published_at": display_iso(p.published_at, rt.settings.timezone),
            "text": p.text[:120],
        }
        for p in prepared
        if not isinstance(p, Rejected)
    ][:5]
    problems += [p.error for p in prepared if isinstance(p, Rejected)]
    return {
        "source": spec.name,
        "items": found,
        "sample": sample,
        "problems": problems,
        "warnings": collected.warnings,
    }


def run_source(
    rt: Runtime, writer: PostWriter, ref: str | int, fetcher: Fetcher, *, rng_seed: int | None = None
) -> RunSummary:
    """Fetch one source now, store what it brings, and record the run and the source's health.

    Whatever goes wrong with the source (unreachable, not a feed, a bad mapping, a bug that a
    strange document triggers) ends as a failed run counted in its health, with a dead letter;
    what it brought before the failure stays stored. Only the source's absence and a failing
    database escape."""
    started = rt.clock()
    setup_error: str | None = None
    context: SourceContext | None = None
    with transaction(rt.sessions) as session:
        source = find_source(session, ref)
        spec = _spec(source)
        try:
            context = source_context(source, rt.settings)
        except MappingError as exc:
            setup_error = str(exc)
        run_id = runs.start_run(session, source.id, started)
    counts = IngestCounts()  # what the batches stored so far, kept if a later one fails
    error: str | None = None
    collected: Collected | None = None
    document_sha: str | None = None
    asked_wait: float | None = None
    try:
        if context is None:
            raise ConnectorError(f"信息源配置有误：{setup_error}")
        collected = get_connector(spec.kind).collect(spec, fetcher)
        if collected.document is not None:
            fetched = collected
            document = collected.document
            warnings: list[RawItem | Rejected] = [
                Rejected(spec.url or spec.name, "ingest.parse", w, document.data) for w in fetched.warnings
            ]
            unread = itertools.chain(fetched.items, warnings)
            pending: list[RawItem | Rejected] = []  # read, not yet in a committed batch

            def reading() -> Iterator[RawItem | Rejected]:
                # items may be a stream read once: a try that failed on the database is replayed
                # from what it read and the store did not commit
                yield from list(pending)
                for item in unread:
                    pending.append(item)
                    yield item

            def committed(batch: IngestCounts) -> None:
                counts.add(batch)
                pending.clear()

            def store() -> str:
                with transaction(rt.sessions) as session:
                    sha = store_document(session, document)
                    for extra in fetched.documents:
                        store_document(session, extra)
                writer.write(
                    context,
                    reading(),
                    run_id=run_id,
                    document_sha256=sha,
                    fetched_at=document.fetched_at,
                    on_batch=committed,
                )
                return sha

            # what was fetched is held until the store takes it: a feed that rotates its items
            # would not list them again (a lock held 30 s lost a document without a trace)
            document_sha = retry_on_database(store, f"source {spec.name}")
            counts.rejected -= len(warnings)  # a warning is a dead letter about the feed, not a row
            counts.errors.extend(collected.warnings)
    except ConnectorError as exc:
        error = str(exc)
        asked_wait = exc.retry_after
        failure = exc

        def record_failure() -> None:
            with transaction(rt.sessions) as session:
                error_document = store_document(session, failure.document) if failure.document else None
                raw = failure.document.data if failure.document else None
                record_dead_letters(
                    session,
                    [Rejected(spec.url or spec.name, "ingest.fetch", str(failure), raw)],
                    spec.id,
                    run_id,
                )
                failed_run = session.get(FetchRun, run_id)
                if error_document and failed_run is not None:
                    failed_run.document_sha256 = error_document

        retry_on_database(record_failure, f"source {spec.name}")
        counts.rejected += 1
    except Exception as exc:  # a bug a strange document triggers must not stop other sources
        if is_transient(exc):
            raise  # the database stayed unusable past the retries: the run is closed as interrupted
        log.exception("run %s of source %s failed", run_id, spec.name)
        error = f"内部错误（采集记录 {run_id}）：{type(exc).__name__}: {exc}"
        internal = error

        def record_bug() -> None:
            with transaction(rt.sessions) as session:
                record_dead_letters(
                    session, [Rejected(spec.url or spec.name, "ingest.fetch", internal)], spec.id, run_id
                )

        retry_on_database(record_bug, f"source {spec.name}")
        counts.rejected += 1

    if error is not None:
        outcome = RunOutcome.FAILED
    elif collected is not None and collected.not_modified:
        outcome = RunOutcome.NOT_MODIFIED
    elif counts.rejected or (collected is not None and collected.warnings):
        outcome = RunOutcome.PARTIAL
    else:
        outcome = RunOutcome.SUCCESS
    finished = rt.clock()

    def finish() -> None:
        with transaction(rt.sessions) as session:
            runs.finish_run(session, run_id, outcome, counts, error, finished, document_sha)
            updated = session.get(Source, spec.id)
            assert updated is not None
            _update_health(
                updated,
                rt.settings,
                outcome,
                counts,
                error,
                collected,
                finished,
                rng_seed,
                asked_wait=asked_wait,
            )

    retry_on_database(finish, f"source {spec.name}")
    return RunSummary(spec.id, spec.name, outcome.value, counts, error, run_id)


def run_sources(
    rt: Runtime,
    writer: PostWriter,
    refs: Sequence[str | int],
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> list[RunSummary | Exception]:
    """`run_source` for each source, `fetch_concurrency` at a time (each worker with its own
    Fetcher; the writer serialises the stores): a slow or hanging source delays no other (one at a
    time, four sources timing out held a healthy one-minute source to every 2.4 to 3.8 minutes).
    Results in the order given; a source whose run raised gives its exception, logged."""
    results: dict[int, RunSummary | Exception] = {}
    queue = list(enumerate(refs))
    lock = threading.Lock()

    def drain() -> None:
        with Fetcher(fetch_policy(rt.settings), clock=rt.clock) as fetcher:
            while not stopping():
                with lock:
                    if not queue:
                        return
                    index, ref = queue.pop(0)
                try:
                    results[index] = run_source(rt, writer, ref, fetcher)
                except Exception as exc:  # one source must not stop the others
                    log.exception("run of source %s failed", ref)
                    results[index] = exc

    workers = max(1, min(rt.settings.fetch_concurrency, len(refs)))
    if workers == 1:
        drain()
    else:
        threads = [
            threading.Thread(target=drain, name=f"yuqing-fetch-{n}", daemon=True) for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return [results[index] for index in sorted(results)]


# How long a fetch run keeps trying to store what it fetched while the database is locked or
# unreachable (each try waits the database's own busy timeout as well), and the first pause.
STORE_RETRY_SECONDS = 120.0
STORE_RETRY_FIRST_WAIT = 2.0


def retry_on_database(work: Callable[[], _T], what: str) -> _T:
    """`work` run again while it fails on the database (a lock held by another process, a lost
    connection), pausing 2, 4, 8… seconds, for up to STORE_RETRY_SECONDS: what a run fetched is
    held in memory meanwhile instead of being lost with the failed transaction. Other failures,
    and a database still failing after that, are raised."""
    deadline = time.monotonic() + STORE_RETRY_SECONDS
    wait = STORE_RETRY_FIRST_WAIT
    while True:
        try:
            return work()
        except Exception as exc:
            if not is_transient(exc) or isinstance(exc, MemoryError) or time.monotonic() + wait > deadline:
                raise
            log.warning("%s: the database failed (%s); trying again in %.0f s", what, exc, wait)
            time.sleep(wait)
            wait = min(wait * 2, 30.0)


def _update_health(
    source: Source,
    settings: Settings,
    outcome: RunOutcome,
    counts: IngestCounts,
    error: str | None,
    collected: Collected | None,
    now: dt.datetime,
    rng_seed: int | None,
    *,
    asked_wait: float | None = None,
) -> None:
    import random

    source.last_run_at = now
    if outcome is RunOutcome.FAILED:
        source.consecutive_failures += 1
        source.last_error = error
    else:
        source.consecutive_failures = 0
        source.last_success_at = now
        source.last_error = "; ".join(counts.errors) or None
        source.last_items = counts.read
        source.empty_runs = source.empty_runs + 1 if counts.new + counts.near_duplicate == 0 else 0
        if counts.new + counts.near_duplicate:
            source.last_new_at = now
        if collected is not None:
            # a cut-off document's validators would make the complete copy a 304 next time
            source.etag = None if collected.cut_off else collected.etag
            source.last_modified = None if collected.cut_off else collected.last_modified
    # The run is recorded whatever the schedule says: a schedule that has no next time (stored
    # before such schedules were refused) must not leave the run open and the source due at every
    # tick. The source waits `backoff_max_seconds` and says why.
    try:
        spec = schedule_mod.Schedule.parse(source.schedule or settings.default_schedule, settings.timezone)
        source.next_run_at = schedule_mod.next_run(
            spec,
            now,
            consecutive_failures=source.consecutive_failures,
            jitter_seconds=settings.schedule_jitter_seconds,
            backoff_base_seconds=settings.backoff_base_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
            rng=random.Random(rng_seed) if rng_seed is not None else None,
        )
        if collected is not None and collected.min_interval_seconds:
            # Sooner would only bring the copy the bridge has cached.
            earliest = now + dt.timedelta(seconds=collected.min_interval_seconds)
            source.next_run_at = max(source.next_run_at, earliest)
        if asked_wait:
            # a server that said how long to wait (429/503 Retry-After) is not asked again sooner
            source.next_run_at = max(source.next_run_at, now + dt.timedelta(seconds=asked_wait))
    except (schedule_mod.ScheduleError, CroniterError, OverflowError, ValueError) as exc:
        wait = dt.timedelta(seconds=settings.backoff_max_seconds)
        source.next_run_at = now + wait
        problem = (
            f"采集计划有误：{exc}；请修改信息源的采集计划，暂定 {wait.total_seconds() / 3600:g} 小时后再采集"
        )
        source.last_error = "; ".join(filter(None, [source.last_error, problem]))


def due_sources(rt: Runtime, now: dt.datetime) -> list[int]:
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(Source.id)
                .where(
                    Source.enabled.is_(True),
                    Source.kind.in_([k.value for k in FETCHED_KINDS]),
                    or_(Source.next_run_at.is_(None), Source.next_run_at <= now),
                )
                .order_by(Source.next_run_at)
            )
        )


def fetchable_source_ids(rt: Runtime) -> list[int]:
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(Source.id)
                .where(Source.enabled.is_(True), Source.kind.in_([k.value for k in FETCHED_KINDS]))
                .order_by(Source.id)
            )
        )


# -- imports and webhook deliveries ----------------------------------------------------------


def ensure_file_source(rt: Runtime, name: str, platform: str | None) -> int:
    with transaction(rt.sessions) as session:
        existing = session.scalar(select(Source).where(Source.name == name))
        if existing is not None:
            return existing.id
        source = Source(
            name=name,
            kind=SourceKind.FILE.value,
            url=None,
            platform=platform or Platform.OTHER.value,
            media_tier=MediaTier.OTHER.value,
            config={},
            created_at=rt.clock(),
            consecutive_failures=0,
            empty_runs=0,
            enabled=True,
        )
        session.add(source)
        session.flush()
        return source.id


# The largest file one import takes: the file is kept whole as evidence, and one value in the
# database holds at most about 10^9 bytes (SQLite's default limit; PostgreSQL's is 1 GiB).
IMPORT_MAX_FILE_BYTES = 900_000_000


def refuse_large_import(
    rt: Runtime, size: int, *, origin: str, source_name: str | None = None, platform: str | None = None
) -> None:
    """Refuse a file over `IMPORT_MAX_FILE_BYTES` before reading it: a failed run of its source
    with a dead letter saying how to split it, then FileTooLarge with the same message."""
    message = (
        f"文件 {origin} 有 {size:,} 字节，超过单个文件 {IMPORT_MAX_FILE_BYTES:,} 字节的导入上限"
        "（导入的文件整体存为证据）；请拆分后分别导入，例如 split -l 1000000 文件 part_，"
        "再逐个导入（重复导入的行不会重复入库）"
    )
    source_id = ensure_file_source(rt, source_name or f"导入:{origin.rsplit('/', 1)[-1]}", platform)
    now = rt.clock()
    with transaction(rt.sessions) as session:
        run_id = runs.start_run(session, source_id, now)
        record_dead_letters(session, [Rejected(origin, "ingest.receive", message)], source_id, run_id)
        runs.finish_run(session, run_id, RunOutcome.FAILED, IngestCounts(rejected=1), message, now)
    raise FileTooLarge(message)


def import_data(
    rt: Runtime,
    writer: PostWriter,
    data: bytes,
    *,
    origin: str,
    file_format: FileFormat | None = None,
    source_name: str | None = None,
    platform: str | None = None,
    on_batch: Callable[[IngestCounts], None] | None = None,
    layout: str | None = None,
) -> IngestCounts:
    """Import a file's bytes: kept once as evidence, every row stored once or dead-lettered.
    `layout="mediacrawler"` reads a MediaCrawler output file (`ingest.mediacrawler`).

    A file that cannot be read at all is a failed run with a dead letter. An import stopped by
    the user or a signal closes its run as interrupted (what was committed stays); one killed
    outright is closed so at the next start (`runs.close_interrupted_runs`)."""
    if layout not in (None, "mediacrawler"):
        raise InvalidSource(f"未知的文件格式布局 {layout!r}（可选：mediacrawler）")
    fmt = file_format or guess_format(origin, data)

    def rows(items: Iterable[RawItem | Rejected]) -> Iterable[RawItem | Rejected]:
        if layout == "mediacrawler":
            from yuqing.ingest.mediacrawler import converted

            return converted(items, origin)
        return items

    if len(data) > IMPORT_MAX_FILE_BYTES:
        refuse_large_import(rt, len(data), origin=origin, source_name=source_name, platform=platform)
    source_id = ensure_file_source(rt, source_name or f"导入:{origin.rsplit('/', 1)[-1]}", platform)
    started = rt.clock()
    with transaction(rt.sessions) as session:
        source = find_source(session, source_id)
        # a file's rows were read at a time it does not say: 「5分钟前」 in it is a dead letter
        context = source_context(source, rt.settings, guess_platform=platform is None, relative_times=False)
        document_sha = store_document(session, Document(data, origin, f"import/{fmt}", started))
        run_id = runs.start_run(session, source_id, started, document_sha)
    error: str | None = None
    counts = IngestCounts()
    limit = rt.settings.import_max_decompressed_bytes

    def batch_done(batch: IngestCounts) -> None:
        counts.add(batch)
        if on_batch is not None:
            on_batch(batch)

    try:
        writer.write(
            context,
            lambda: rows(read_rows(data, fmt, max_decompressed=limit)),
            run_id=run_id,
            document_sha256=document_sha,
            fetched_at=started,
            on_batch=batch_done,
            prepare_in_worker=rt.settings.import_worker and len(data) > PARALLEL_IMPORT_BYTES,
            analyze_after_rows=ANALYZE_AFTER_ROWS,
        )
    except ConnectorError as exc:
        error = str(exc)
        with transaction(rt.sessions) as session:
            record_dead_letters(session, [Rejected(origin, "ingest.parse", error)], source_id, run_id)
        counts.rejected += 1
        counts.errors.append(error)
    except BaseException:
        with transaction(rt.sessions) as session:
            runs.finish_run(
                session, run_id, RunOutcome.INTERRUPTED, counts, runs.INTERRUPTED_NOTE, rt.clock()
            )
        raise
    outcome = RunOutcome.FAILED if error else RunOutcome.PARTIAL if counts.rejected else RunOutcome.SUCCESS
    finished = rt.clock()
    with transaction(rt.sessions) as session:
        runs.finish_run(session, run_id, outcome, counts, error, finished)
        updated = session.get(Source, source_id)
        assert updated is not None
        updated.last_run_at = finished
        if not error:
            updated.last_success_at = finished
        updated.last_items = counts.read
    return counts


def authenticate_webhook(
    rt: Runtime, source_id: int, token: str | None, *, cache: dict[int, tuple[float, Source]] | None = None
) -> Source:
    """The enabled webhook source whose token this is. With `cache` (the web server's), a source
    read within the last `WEBHOOK_SOURCE_SECONDS` is not read again: loading it cost a quarter of
    a single-post delivery; a token changed or a source switched off takes effect within that time.
    """
    now = time.monotonic()
    cached = cache.get(source_id) if cache is not None else None
    if cached is not None and cached[0] > now:
        source = cached[1]
    else:
        with rt.sessions() as session:
            found = session.get(Source, source_id)
            if found is not None:
                session.expunge(found)
        if found is None or found.kind != SourceKind.WEBHOOK.value or not found.enabled:
            if cache is not None:
                cache.pop(source_id, None)
            raise SourceNotFound(source_id)
        source = found
        if cache is not None:
            cache[source_id] = (now + WEBHOOK_SOURCE_SECONDS, source)
    expected = source.token_sha256 or ""
    if not token or not hmac.compare_digest(token_digest(token), expected):
        raise WebhookAuthError("推送令牌无效")
    return source


def webhook_json_bytes(body: bytes, media_type: str | None) -> bytes:
    """A delivery's bytes as UTF-8 for the JSON reader: a body declared in another charset
    (`Content-Type: application/json; charset=gbk`) is decoded with it first. The evidence keeps
    the bytes as they came; the evidence export reads them back through this same function."""
    charset = charset_of(media_type)
    if charset is None:
        # JSON is UTF-8 (RFC 8259), but Chinese senders post GBK without saying so: bytes that are
        # not UTF-8 and read as GB18030 are taken as such, as a file import would (the parser
        # answered them 「lexical error: invalid bytes in UTF8 string」)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            try:
                return body.decode("gb18030").encode("utf-8")
            except UnicodeDecodeError:
                return body
        return body
    if charset.replace("-", "").replace("_", "") in ("utf8", "usascii", "ascii"):
        return body
    return decode_document(body, charset, kind="text").text.encode("utf-8")


def refuse_webhook(rt: Runtime, source: Source, body: bytes, message: str) -> None:
    """A delivery refused whole (too many posts, too many bytes): a failed run of the source and a
    dead letter holding what was received of the body (at most `WEBHOOK_REFUSED_KEEP` bytes), so
    the sender's mistake is on record and its data can be recovered."""
    received = rt.clock()
    refused = Rejected("body", "ingest.receive", message, body[:WEBHOOK_REFUSED_KEEP])
    with transaction(rt.sessions) as session:
        run_id = runs.start_run(session, source.id, received)
        record_dead_letters(session, [refused], source.id, run_id)
        runs.finish_run(session, run_id, RunOutcome.FAILED, IngestCounts(rejected=1), message, received)


# How much of a refused webhook body its dead letter keeps.
WEBHOOK_REFUSED_KEEP = 1 << 20


def receive_webhook(
    rt: Runtime, writer: PostWriter, source: Source, body: bytes, media_type: str | None
) -> IngestCounts:
    """Store a webhook delivery: the body is kept as evidence, each post in it stored once.

    The posts are counted first, without building them: a delivery of more than
    `webhook_max_items` is refused whole (WebhookTooLarge, a dead letter saying so) before
    anything is stored, and the rest are read as a stream, batch by batch."""
    received = rt.clock()
    context = source_context(source, rt.settings)
    readable = webhook_json_bytes(body, media_type)
    layout: JSONLayout | None = None
    unreadable: str | None = None
    try:
        layout = json_layout(lambda: io.BytesIO(readable), count=True)
    except ConnectorError as exc:  # not JSON: the delivery is kept as evidence and dead-lettered
        unreadable = (
            "推送内容为空（请求体没有内容）"
            if not body.strip()
            else f"推送内容不是合法 JSON：{str(exc).removeprefix('JSON 无法解析：')}"
        )
    limit = rt.settings.webhook_max_items
    if layout is not None and (layout.count or 0) > limit:
        message = f"推送内容有 {layout.count} 条信息，超过每次 {limit} 条的上限，请分批推送"
        refuse_webhook(rt, source, body, message)
        raise WebhookTooLarge(message)
    with transaction(rt.sessions) as session:
        document_sha = store_document(session, Document(body, f"webhook:{source.id}", media_type, received))
        run_id = runs.start_run(session, source.id, received, document_sha)
    items: Iterable[RawItem | Rejected]
    if layout is not None:
        items = json_records(readable, layout=layout)
    else:
        items = [Rejected("body", "ingest.parse", unreadable or "推送内容不是合法 JSON", body)]
    counts = IngestCounts()
    error: str | None = None
    try:
        writer.write(
            context,
            items,
            run_id=run_id,
            document_sha256=document_sha,
            fetched_at=received,
            on_batch=counts.add,
        )
    except ConnectorError as exc:  # the body could not be read past its first posts
        error = str(exc)
        with transaction(rt.sessions) as session:
            record_dead_letters(session, [Rejected("body", "ingest.parse", error, body)], source.id, run_id)
        counts.rejected += 1
    if layout is None:  # nothing readable: a failed delivery, not a partial success of the source
        error = unreadable or "推送内容不是合法 JSON"
    outcome = RunOutcome.FAILED if error else RunOutcome.PARTIAL if counts.rejected else RunOutcome.SUCCESS
    finished = rt.clock()
    with transaction(rt.sessions) as session:
        runs.finish_run(session, run_id, outcome, counts, error, finished)
        updated = session.get(Source, source.id)
        assert updated is not None
        updated.last_run_at = finished
        if not error:
            updated.last_success_at = finished
        updated.last_items = counts.read
    if layout is None:  # recorded above: the delivery as evidence, its dead letter and its run
        raise WebhookUnreadable(unreadable or "推送内容不是合法 JSON")
    return counts
