"""The scheduler loop run by `yuqing serve`: fetches each source when it is due.

State lives in the database (each source's next run time), so a restart resumes where it left
off and a run missed while the process was down happens at the next tick.
"""

from __future__ import annotations

import logging

from yuqing.background import PeriodicWorker
from yuqing.ingest import service
from yuqing.ingest.fetcher import Fetcher
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)


class SourceScheduler(PeriodicWorker):
    def __init__(self, rt: Runtime, writer: PostWriter) -> None:
        super().__init__("yuqing-scheduler", rt.settings.scheduler_tick_seconds)
        self._rt = rt
        self._writer = writer

    def tick(self) -> list[service.RunSummary]:
        """Run every source that is due now; one failing source does not stop the others."""
        summaries = []
        with Fetcher(service.fetch_policy(self._rt.settings), clock=self._rt.clock) as fetcher:
            for source_id in service.due_sources(self._rt, self._rt.clock()):
                if self.stopping:
                    break
                try:
                    summaries.append(service.run_source(self._rt, self._writer, source_id, fetcher))
                except Exception:
                    log.exception("scheduled run of source %s failed", source_id)
        return summaries

    def work(self) -> bool:
        for summary in self.tick():
            log.info("source %s: %s %s", summary.source, summary.outcome, summary.counts.as_dict())
        return False
