"""`yuqing serve`: the HTTP server, the scheduler, the analysis pipeline, the response duties
(alerts, escalation, deadline sweep, follow-up), notification delivery and the replay of started
drills, in one process. With `YUQING_NATS_URL` set the analysis runs in `yuqing worker` processes
instead, and this process announces stored posts to them (`yuqing.analysis.stream`)."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

from yuqing.background import PeriodicWorker
from yuqing.ingest.scheduler import SourceScheduler
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime
from yuqing.settings import Settings
from yuqing.web.app import create_app

log = logging.getLogger(__name__)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `X-Forwarded-For`: believed from `trusted_proxies` only. uvicorn's
    own default trusts 127.0.0.1, so any process on the server's host could claim any client
    address to the login limits and the audit log."""
    proxies = settings.trusted_proxies.strip()
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}


def run_server(rt: Runtime, *, host: str, port: int) -> None:
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    app = create_app(rt, writer)
    scheduler = SourceScheduler(rt, writer) if rt.settings.scheduler_enabled else None
    if scheduler is not None:
        scheduler.start()
    analysis: PeriodicWorker | None = None
    link = None
    if rt.settings.nats_url:
        # The analysis runs in `yuqing worker` processes: announce stored posts to them.
        from yuqing.analysis.stream import Announcer, NatsLink

        link = NatsLink(rt.settings.nats_url)
        analysis = Announcer(rt, link)
        analysis.start()
    elif rt.settings.analysis_enabled:
        from yuqing.analysis.pipeline import PipelineRunner

        analysis = PipelineRunner(rt)
        analysis.start()
        # Posts stored by a webhook or a fetch are analysed within moments, not at the next tick
        # (at 1,000 posts/s through the webhook, p95 arrival -> graded fell from 2.1 s to 0.23 s).
        # The announcer is not woken so: batches every 0.2 s made the workers' batches so small
        # that over ten minutes the backlog grew (p95 1.3 s, against 0.4 s at its 0.5 s tick).
        writer.on_stored = analysis.wake
    from yuqing.cases.followup import ResponseWorker
    from yuqing.drills.runner import DrillWorker
    from yuqing.notify.outbox import notification_workers
    from yuqing.reports.service import DailyReportWorker

    background = [
        ResponseWorker(rt, rt.settings.response_tick_seconds),
        *notification_workers(rt),
        DrillWorker(rt),
        DailyReportWorker(rt),  # the daily report at `daily_report_time` on working days
    ]
    for worker in background:
        worker.start()
    print(f"yuqing 已启动：http://{host}:{port}/  （API 文档：/docs，登录后可见；Ctrl+C 退出）", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", **proxy_options(rt.settings))
    finally:
        if scheduler is not None:
            scheduler.stop()
        if analysis is not None:
            analysis.stop()
        if link is not None:
            link.close()
        for worker in background:
            worker.stop()
