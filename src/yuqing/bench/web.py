"""`yuqing bench web`: console pages served by a real `yuqing serve` over a large SQLite database.

The database is built from real data: the texts, kinds and timestamps of the CED Weibo file,
cycled up to N posts. Each CED cascade (an original post and its reposts) becomes an event; every
copy of the file gives new events, each placed at a random start in the 30 days before "now" and
keeping the real offsets of its posts (clipped to 72 hours). Post ids follow time, as in a live
database. Events get their hourly series and sentiment mix, posts a `post_analysis` row (30%
negative), the graded events alerts, cases and clocks; one account signs in.

Measured in the same run:
- yuqing: a `yuqing serve` subprocess on 127.0.0.1, signed in through `POST /login`, requests
  from a thread pool (httpx) in a shuffled mix of the dashboard, the event list, the page of the
  largest event and a post search for a real word. The app exposes no server timing, so the
  latency is the client's, on the loopback interface (HTTP, rendering and all).
- baseline "naive queries": the access pattern common in open-source consoles, run directly
  through SQLAlchemy on the same database while the server is up (no HTTP at all, so in its
  favour): deep-OFFSET pagination of all posts ordered by time, the largest event's last page of
  posts by OFFSET ordered by time, and a post search as `COUNT(*) … LIKE '%word%'` over all posts
  plus its first page.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import func, insert, select

from yuqing.bench.common import format_table
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import load_settings

NOW = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
SPAN = 30 * 86400
LOGIN = "bench-office"
PASSWORD = "bench-pass-1"  # noqa: S105 - the throwaway benchmark account
WORD = "中国"  # a real, common word of the CED texts
TARGET_MS = 200.0
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass
class WebResult:
    table: str
    build_seconds: float | None  # None when an existing database was reused
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    server_stopped: bool = False
    posts: int = 0
    events: int = 0


# ---- the database -------------------------------------------------------------------------------


def _read_ced(path: Path, limit: int) -> tuple[list[str], list[str], np.ndarray, np.ndarray, list[str]]:
    texts: list[str] = []
    kinds: list[str] = []
    stamps: list[float] = []
    cascades: list[str] = []
    users: list[str] = []
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
        for line in handle:
            row = orjson.loads(line)
            value, text = row.get("published_at"), row.get("text")
            if not value or not text:
                continue
            at = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            texts.append(str(text))
            kinds.append("repost" if row.get("kind") == "repost" else "original")
            stamps.append((at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp())
            cascades.append(str(row.get("cascade") or row.get("id")))
            users.append(str(row.get("uid") or ""))
            if len(texts) >= limit:
                break
    if not texts:
        raise ValueError(f"{path} 中没有可用的帖子")
    _names, cascade_idx = np.unique(np.array(cascades), return_inverse=True)
    return texts, kinds, np.array(stamps), cascade_idx.astype(np.int64), users


def build_database(url: str, ced: Path, posts: int, *, seed: int = 7) -> Runtime:
    """Create the schema and fill it with `posts` posts cycled from the CED file (see module doc)."""
    from argon2 import PasswordHasher

    from yuqing.accounts import service as accounts
    from yuqing.alerts.models import Alert
    from yuqing.analysis.models import Event, PostAnalysis
    from yuqing.cases.models import Case, Deadline
    from yuqing.db import transaction
    from yuqing.ingest.models import Post, Source
    from yuqing.org import service as org

    rng = np.random.default_rng(seed)
    texts, kinds, stamps, cascade, users = _read_ced(ced, posts)
    m = len(texts)
    cascades = int(cascade.max()) + 1
    # Offsets inside each cascade, from its first post, clipped to 72 hours.
    first_of = np.full(cascades, np.inf)
    np.minimum.at(first_of, cascade, stamps)
    offset = np.minimum(stamps - first_of[cascade], 72 * 3600.0)
    source_row = np.arange(posts) % m
    copy = np.arange(posts) // m
    raw_event = copy * cascades + cascade[source_row]
    _keys, ev_of_post = np.unique(raw_event, return_inverse=True)
    ev_of_post = ev_of_post.astype(np.int64)
    events = int(ev_of_post.max()) + 1
    starts = rng.uniform(0, SPAN - 72 * 3600.0, events)
    times = starts[ev_of_post] + offset[source_row]
    order = np.argsort(times, kind="stable")  # post ids follow time
    times, ev_of_post, source_row = times[order], ev_of_post[order], source_row[order]
    negative = rng.random(posts) < 0.3
    base = (NOW - dt.timedelta(seconds=SPAN)).timestamp()

    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast sign-in
    rt = open_runtime(load_settings(database_url=url), clock=lambda: NOW)
    with transaction(rt.sessions) as s:
        s.add(Source(name="新浪微博", kind="rss", url="https://weibo.com/feed", platform="weibo"))
        city = org.create_unit(s, "南京市人民政府", kind="government", regions=["南京"])
        office = org.add_person(s, "李办公室", city.id)
        org.grant_role(s, office.id, "office", city.id)
        accounts.create_account(s, office.id, LOGIN, PASSWORD, now=NOW)
        unit_id = city.id

    sizes = np.bincount(ev_of_post, minlength=events)
    first = np.full(events, np.inf)
    last = np.zeros(events)
    np.minimum.at(first, ev_of_post, times)
    np.maximum.at(last, ev_of_post, times)
    first_post = np.full(events, -1, dtype=np.int64)
    first_post[ev_of_post[::-1]] = np.arange(posts)[::-1]  # each event's earliest post
    hour_idx = (times // 3600).astype(np.int64)
    uniq, inv = np.unique(ev_of_post * 100_000 + hour_idx, return_inverse=True)
    counts = np.bincount(inv)
    negs = np.bincount(inv, weights=negative)
    hourly: dict[int, list[dict[str, Any]]] = {}
    for k, c, n in zip(uniq.tolist(), counts.tolist(), negs.tolist(), strict=True):
        e, h = divmod(k, 100_000)
        hour = dt.datetime.fromtimestamp(base + h * 3600, dt.UTC).astimezone(SHANGHAI).isoformat()
        hourly.setdefault(e, []).append({"hour": hour, "posts": c, "negative": int(n)})
    neg_share = np.bincount(ev_of_post, weights=negative, minlength=events) / np.maximum(sizes, 1)
    names = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
    rows: list[dict[str, Any]] = []
    for e in range(events):
        size = int(sizes[e])
        code = None
        if size >= 50 and e % 3 == 0:
            code = "I" if size > 5000 else "II" if size > 1000 else "III" if size > 200 else "IV"
        last_seen = dt.datetime.fromtimestamp(base + last[e], dt.UTC)
        rows.append(
            {
                "id": e + 1,
                "cluster_key": f"c{e}",
                "topic_id": None,
                "title": texts[int(source_row[first_post[e]])][:40],
                "keywords": [],
                "first_seen": dt.datetime.fromtimestamp(base + first[e], dt.UTC),
                "last_seen": last_seen,
                "status": "open" if last_seen >= NOW - dt.timedelta(hours=72) else "closed",
                "post_count": size,
                "grade_code": code,
                "grade": names.get(code) if code else None,
                "reasons": [{"text": f"事件帖子数 {size} ≥ 50"}] if code else [],
                "metrics": {
                    "posts": size,
                    "negative_share": round(float(neg_share[e]), 4),
                    "sites": 1,
                    "hourly": hourly.get(e, []),
                    "site_list": ["weibo.com"],
                    "platform_counts": {"weibo": size},
                    "flags": {},
                    "region_list": [],
                },
            }
        )
        if len(rows) == 20_000:
            with transaction(rt.sessions) as s:
                s.execute(insert(Event), rows)
            rows = []
    if rows:
        with transaction(rt.sessions) as s:
            s.execute(insert(Event), rows)

    batch = 50_000
    for lo in range(0, posts, batch):
        hi = min(lo + batch, posts)
        post_rows, analysis_rows = [], []
        for i in range(lo, hi):
            j = int(source_row[i])
            when = dt.datetime.fromtimestamp(base + float(times[i]), dt.UTC)
            post_rows.append(
                {
                    "id": i + 1,
                    "source_id": 1,
                    "platform": "weibo",
                    "url": f"https://weibo.com/{users[j]}/{i + 1}",
                    "url_key": f"weibo.com/{users[j]}/{i + 1}",
                    "kind": kinds[j],
                    "title": None,
                    "text_original": texts[j],
                    "text": texts[j],
                    "published_at": when,
                    "fetched_at": when,
                    "media_tier": "other",
                }
            )
            analysis_rows.append(
                {
                    "post_id": i + 1,
                    "analysed_at": when,
                    "sentiment": "negative" if negative[i] else "neutral",
                    "negative": 0.9 if negative[i] else 0.1,
                    "flags": [],
                    "topics": [],
                    "event_id": int(ev_of_post[i]) + 1,
                }
            )
        with transaction(rt.sessions) as s:
            s.execute(insert(Post), post_rows)
            s.execute(insert(PostAnalysis), analysis_rows)

    stages = ["detected", "reported", "assessed", "disposing", "following", "summarised", "closed"]
    with transaction(rt.sessions) as s:
        graded = s.execute(
            select(Event.id, Event.grade_code, Event.grade, Event.title, Event.last_seen)
            .where(Event.grade_code.is_not(None))
            .order_by(Event.last_seen.desc())
            .limit(300)
        ).all()
        for n, (eid, code, grade, title, seen) in enumerate(graded):
            alert = Alert(
                event_id=eid,
                unit_id=unit_id,
                merge_key=f"event:{eid}:unit:{unit_id}",
                kind="new",
                grade_code=code,
                grade=grade,
                title=title,
                reasons=[],
                status="open" if n % 3 == 0 else "acknowledged",
                created_at=seen,
                updated_at=seen,
                chain=[],
                level=0,
            )
            s.add(alert)
            s.flush()
            if n % 2:
                continue
            case = Case(
                title=title,
                event_id=eid,
                alert_id=alert.id,
                unit_id=unit_id,
                stage=stages[n % 7],
                grade_code=code,
                grade=grade,
                detected_at=seen,
                known_at=seen,
                opened_at=seen,
                stage_changed_at=seen,
            )
            s.add(case)
            s.flush()
            for kind, hours in (("report", 2), ("release", 5), ("first_response", 3)):
                due = seen + dt.timedelta(hours=hours)
                s.add(
                    Deadline(
                        case_id=case.id,
                        kind=kind,
                        unit_id=unit_id,
                        owner_role="office",
                        rule=f"{hours}h",
                        started_at=seen,
                        due_at=due,
                        original_due_at=due,
                        state="pending" if n % 7 < 6 else "met",
                    )
                )
    return rt


# ---- the server and the load --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(
    url: str, port: int, log: Path, *, analysis: bool = False, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")}
    env |= {
        "YUQING_DATABASE_URL": url,
        "YUQING_HOST": "127.0.0.1",
        "YUQING_PORT": str(port),
        "YUQING_SCHEDULER_ENABLED": "false",
        "YUQING_ANALYSIS_ENABLED": "true" if analysis else "false",
        **(extra_env or {}),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "yuqing", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop_server(process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    return process.poll() is not None


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"yuqing serve 已退出：{log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("yuqing serve 未在时限内就绪")


def _login(client: Any) -> None:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or found is None:
        raise RuntimeError(f"登录页异常：{page.status_code}")
    answer = client.post("/login", data={"login": LOGIN, "password": PASSWORD, "csrf_token": found.group(1)})
    if answer.status_code != 303:
        raise RuntimeError(f"登录失败：{answer.status_code}")


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return float(np.median(ordered)), p95, ordered[-1]


def _timed_pool(jobs: list[tuple[str, Callable[[], None]]], concurrency: int) -> dict[str, list[float]]:
    def one(job: tuple[str, Callable[[], None]]) -> tuple[str, float]:
        started = time.perf_counter()
        job[1]()
        return job[0], (time.perf_counter() - started) * 1000

    out: dict[str, list[float]] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for name, ms in pool.map(one, jobs):
            out.setdefault(name, []).append(ms)
    return out


def _baselines(rt: Runtime, big_event: int, big_size: int, total: int) -> dict[str, Callable[[], None]]:
    from yuqing.analysis.models import PostAnalysis
    from yuqing.ingest.models import Post

    deep = max(total // 2, 0)
    last_page = max(big_size - 20, 0)

    def posts_offset() -> None:
        with rt.sessions() as s:
            s.execute(select(Post).order_by(Post.published_at.desc()).limit(50).offset(deep)).all()

    def event_offset() -> None:
        with rt.sessions() as s:
            s.execute(
                select(Post, PostAnalysis.sentiment)
                .join(PostAnalysis, PostAnalysis.post_id == Post.id)
                .where(PostAnalysis.event_id == big_event)
                .order_by(Post.published_at.desc())
                .limit(20)
                .offset(last_page)
            ).all()

    def like_search() -> None:
        pattern = f"%{WORD}%"
        with rt.sessions() as s:
            s.scalar(select(func.count()).select_from(Post).where(Post.text.like(pattern)))
            s.execute(
                select(Post).where(Post.text.like(pattern)).order_by(Post.published_at.desc()).limit(30)
            ).all()

    return {
        f"baseline: all posts ORDER BY published_at LIMIT 50 OFFSET {deep:,}": posts_offset,
        f"baseline: event {big_event} posts by published_at LIMIT 20 OFFSET {last_page:,}": event_offset,
        f"baseline: COUNT(*) WHERE text LIKE '%{WORD}%' + first 30": like_search,
    }


def measure(
    ced: Path,
    *,
    posts: int = 1_000_000,
    requests: int = 200,
    concurrency: int = 4,
    db: Path | None = None,
    baseline_requests: int | None = None,
    echo: Callable[[str], None] = print,
) -> WebResult:
    import httpx

    from yuqing.analysis.models import Event
    from yuqing.ingest.models import Post

    with tempfile.TemporaryDirectory() as tmp:
        path = db or Path(tmp) / "web.db"
        url = f"sqlite:///{path}"
        build_seconds: float | None = None
        if path.exists():
            echo(f"沿用已有数据库 {path}")
            rt = open_runtime(load_settings(database_url=url), clock=lambda: NOW)
        else:
            started = time.perf_counter()
            rt = build_database(url, ced, posts)
            build_seconds = time.perf_counter() - started
            echo(f"建库：{posts:,} 条帖子，用时 {build_seconds:,.1f} s（{path}）")
        try:
            with rt.sessions() as s:
                total = int(s.scalar(select(func.count()).select_from(Post)) or 0)
                events = int(s.scalar(select(func.count()).select_from(Event)) or 0)
                big_event, big_size = s.execute(
                    select(Event.id, Event.post_count).order_by(Event.post_count.desc()).limit(1)
                ).one()
            pages = {
                "/ (dashboard)": "/",
                "/events": "/events",
                f"/events/{big_event} ({big_size:,} posts)": f"/events/{big_event}",
                f"/posts?q={WORD}": f"/posts?q={WORD}",
            }
            port = _free_port()
            log = Path(tmp) / "serve.log"
            process = _start_server(url, port, log)
            stopped = False
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_healthy(base, process, log)
                limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
                with httpx.Client(base_url=base, timeout=60, limits=limits) as client:
                    _login(client)

                    def fetch(target: str) -> Callable[[], None]:
                        def go() -> None:
                            answer = client.get(target)
                            if answer.status_code != 200:
                                raise RuntimeError(f"{target}：HTTP {answer.status_code}")

                        return go

                    for target in pages.values():  # warm up: templates, caches
                        fetch(target)()
                    names = list(pages)
                    jobs = [
                        (names[i % len(names)], fetch(pages[names[i % len(names)]])) for i in range(requests)
                    ]
                    random.Random(7).shuffle(jobs)
                    timings = _timed_pool(jobs, concurrency)
                    naive = _baselines(rt, big_event, big_size, total)
                    per = baseline_requests or max(min(requests // len(names), 20), 1)
                    base_jobs = [(name, job) for name, job in naive.items() for _ in range(per)]
                    random.Random(8).shuffle(base_jobs)
                    base_timings = _timed_pool(base_jobs, concurrency)
            finally:
                stopped = _stop_server(process)
        finally:
            rt.close()
    rows: list[tuple[Any, ...]] = []
    for name in pages:
        p50, p95, worst = _percentiles(timings[name])
        verdict = "ok" if p95 < TARGET_MS else "MISSED"
        rows.append((name, len(timings[name]), p50, p95, worst, f"< {TARGET_MS:.0f} ({verdict})"))
    for name in naive:
        p50, p95, worst = _percentiles(base_timings[name])
        rows.append((name, len(base_timings[name]), p50, p95, worst, "-"))
    title = (
        f"yuqing serve on 127.0.0.1, {total:,} posts / {events:,} events, concurrency {concurrency}: "
        "client-side latency (the app exposes no server timing); baselines run directly through "
        "SQLAlchemy on the same database (no HTTP)"
    )
    table = format_table(["page", "requests", "p50 ms", "p95 ms", "max ms", "target p95 ms"], rows)
    build = f"build: {build_seconds:,.1f} s\n" if build_seconds is not None else "build: reused database\n"
    return WebResult(
        table=f"{title}\n{build}{table}",
        build_seconds=build_seconds,
        rows=rows,
        pages=list(pages),
        server_stopped=stopped,
        posts=total,
        events=events,
    )


def run(
    ced: Path,
    *,
    posts: int = 1_000_000,
    requests: int = 200,
    concurrency: int = 4,
    db: Path | None = None,
) -> str:
    return measure(ced, posts=posts, requests=requests, concurrency=concurrency, db=db).table
