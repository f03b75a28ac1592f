"""The scheduler loop run by `yuqing serve`: fetches each source when it is due.

State lives in the database (each source's next run time), so a restart resumes where it left
off and a run missed while the process was down happens at the next tick.
"""

from __future__ import annotations

import logging

from yuqing.background import PeriodicWorker
from yuqing.ingest import service
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
        due = list(service.due_sources(self._rt, self._rt.clock()))
        if not due:
            return []
        done = service.run_sources(self._rt, self._writer, due, stopping=lambda: self.stopping)
        return [summary for summary in done if isinstance(summary, service.RunSummary)]

    def work(self) -> bool:
        for summary in self.tick():
            log.info("source %s: %s %s", summary.source, summary.outcome, summary.counts.as_dict())
        return False
