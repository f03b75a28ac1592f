"""What the system's health looks like from outside: Prometheus metrics, readiness, JSON logs.

- `/metrics` (when `metrics_enabled`; with `metrics_token` set, only with that bearer token) in
  the Prometheus text format: posts stored per source, platform and source health (consecutive
  failures, seconds since the last success), posts analysed, the analysis backlog and the age of
  its oldest post, this process's posts and seconds per pipeline step (`analysis.topics`, …), the
  outbox by status, and request latency per route as a histogram. Database figures are counted
  at each scrape (indexed counts: tens of milliseconds on a 640,000-post SQLite file).
- `/readyz`: 200 when the database answers and its schema is current, else 503 with the reason
  (`/healthz` says only that the process is up).
- Logs: `log_format = "json"` writes one JSON object per line (time, level, logger, message, and
  the `step` of the pipeline or the fetch when the record carries one).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import func, select

from yuqing.runtime import Runtime

# Request latency buckets (seconds), as Prometheus' defaults trimmed to a web console.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ProcessMetrics:
    """Counters of this process (the database holds the rest): pipeline steps and requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.step_posts: dict[str, int] = {}
        self.step_seconds: dict[str, float] = {}
        # (method, route, status class) -> [bucket counts..., count, sum]
        self.requests: dict[tuple[str, str, str], list[float]] = {}

    def add_steps(self, posts: int, seconds: dict[str, float]) -> None:
        with self._lock:
            for step, spent in seconds.items():
                self.step_posts[step] = self.step_posts.get(step, 0) + posts
                self.step_seconds[step] = self.step_seconds.get(step, 0.0) + spent

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, f"{status // 100}xx")
        with self._lock:
            row = self.requests.get(key)
            if row is None:
                row = self.requests[key] = [0.0] * (len(_BUCKETS) + 2)
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += 1
            row[-1] += seconds

    def snapshot(self) -> tuple[dict[str, int], dict[str, float], dict[tuple[str, str, str], list[float]]]:
        with self._lock:
            return (
                dict(self.step_posts),
                dict(self.step_seconds),
                {k: list(v) for k, v in self.requests.items()},
            )


PROCESS = ProcessMetrics()


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: object) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, object], float]]
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(**labels)} {_number(value)}")


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def render_metrics(rt: Runtime, process: ProcessMetrics = PROCESS) -> str:
    """Every metric in the Prometheus text exposition format (version 0.0.4)."""
    from yuqing.analysis.models import AnalysisQueue, PostAnalysis
    from yuqing.ingest.models import Post, Source
    from yuqing.notify.models import Notification

    now = rt.clock()
    out = _Writer()
    with rt.sessions() as session:
        stored = dict(session.execute(select(Post.source_id, func.count()).group_by(Post.source_id)).all())
        sources = session.execute(
            select(
                Source.id,
                Source.name,
                Source.kind,
                Source.platform,
                Source.enabled,
                Source.consecutive_failures,
                Source.last_success_at,
            ).where(Source.drill_id.is_(None))
        ).all()
        analysed = session.scalar(select(func.count()).select_from(PostAnalysis)) or 0
        backlog = session.scalar(select(func.count()).select_from(AnalysisQueue)) or 0
        oldest = session.scalar(select(func.min(AnalysisQueue.queued_at)))
        outbox = dict(
            session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all()
        )
    named = {s.id: s for s in sources}
    out.family(
        "yuqing_posts_stored_total",
        "counter",
        "Posts stored, by source.",
        (
            (
                {
                    "source": named[sid].name if sid in named else f"#{sid}",
                    "platform": named[sid].platform if sid in named else "drill",
                },
                n,
            )
            for sid, n in sorted(stored.items())
        ),
    )
    out.family(
        "yuqing_source_consecutive_failures",
        "gauge",
        "Failed fetches in a row, by source (0: the last one succeeded).",
        (({"source": s.name, "kind": s.kind}, s.consecutive_failures or 0) for s in sources if s.enabled),
    )
    out.family(
        "yuqing_source_seconds_since_success",
        "gauge",
        "Seconds since the last successful fetch or delivery, by source (absent: never).",
        (
            ({"source": s.name, "kind": s.kind}, round((now - s.last_success_at).total_seconds(), 1))
            for s in sources
            if s.enabled and s.last_success_at is not None
        ),
    )
    out.family("yuqing_posts_analysed_total", "counter", "Posts analysed.", [({}, analysed)])
    out.family("yuqing_analysis_backlog", "gauge", "Posts stored and waiting for analysis.", [({}, backlog)])
    waited = (now - oldest).total_seconds() if oldest is not None else 0.0
    out.family(
        "yuqing_analysis_oldest_waiting_seconds",
        "gauge",
        "How long the oldest post waiting for analysis has waited.",
        [({}, round(max(waited, 0.0), 1))],
    )
    step_posts, step_seconds, requests = process.snapshot()
    out.family(
        "yuqing_pipeline_step_posts_total",
        "counter",
        "Posts through each pipeline step in this process.",
        (({"step": k}, v) for k, v in sorted(step_posts.items())),
    )
    out.family(
        "yuqing_pipeline_step_seconds_total",
        "counter",
        "Seconds spent in each pipeline step in this process.",
        (({"step": k}, round(v, 6)) for k, v in sorted(step_seconds.items())),
    )
    out.family(
        "yuqing_outbox_notifications",
        "gauge",
        "Notifications in the outbox, by status (pending, sending, sent, failed, cancelled).",
        (({"status": k}, v) for k, v in sorted(outbox.items())),
    )
    name = "yuqing_http_request_duration_seconds"
    out.lines.append(f"# HELP {name} Time to answer HTTP requests, by route template.")
    out.lines.append(f"# TYPE {name} histogram")
    for (method, route, status), row in sorted(requests.items()):
        base = {"method": method, "route": route, "status": status}
        for bound, count in zip(_BUCKETS, row, strict=False):
            out.lines.append(f"{name}_bucket{_labels(**base, le=bound)} {_number(count)}")
        out.lines.append(f"{name}_bucket{_labels(**base, le='+Inf')} {_number(row[-2])}")
        out.lines.append(f"{name}_count{_labels(**base)} {_number(row[-2])}")
        out.lines.append(f"{name}_sum{_labels(**base)} {row[-1]!r}")
    return "\n".join(out.lines) + "\n"


def readiness(rt: Runtime) -> tuple[bool, str]:
    """Whether this process can serve: the database answers and its schema is current."""
    from sqlalchemy import text

    from yuqing import migrate

    try:
        with rt.engine.connect() as conn:
            conn.execute(text("select 1"))
        if not migrate.is_current(rt.engine):
            return False, "数据表结构不是最新版本"
    except Exception as exc:
        # /readyz answers anyone: the driver's message (host, port, user name) goes to the log only
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        logging.getLogger(__name__).warning("readiness: the database does not answer: %s", first)
        return False, f"数据库无法连接（{type(exc).__name__}，详情见服务日志）"
    return True, "ok"


def install(app: FastAPI, rt: Runtime) -> None:
    """Add `/readyz`, `/metrics` (when enabled) and the request-latency middleware to the app."""
    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        ready, reason = readiness(rt)
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "reason": reason}, 200 if ready else 503
        )

    if not rt.settings.metrics_enabled:
        return

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        token = rt.settings.metrics_token
        if token:
            import hmac

            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return PlainTextResponse("需要 metrics_token\n", 401, headers={"WWW-Authenticate": "Bearer"})
        return PlainTextResponse(render_metrics(rt), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.middleware("http")
    async def timed(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", None) or "(unmatched)"
        PROCESS.observe_request(request.method, template, response.status_code, time.perf_counter() - start)
        return response


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, step, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("step", "source", "event", "posts"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int, log_format: str = "text") -> None:
    """Logging of the `yuqing` command: to standard error, as text or as JSON lines."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
