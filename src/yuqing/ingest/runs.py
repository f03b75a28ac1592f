"""Fetch runs: opened with the process that owns them, closed with their outcome and counts, and
closed as interrupted when that process ended without closing them (kill -9, a crash, a power cut).

Every import, fetch and webhook delivery is a run. A run left open by a process that is gone is
closed at the next start of `yuqing import`, `fetch` or `serve` (`close_interrupted_runs`), with
the outcome `interrupted` and the note 「进程中断」. A run owned by a process that is still alive
(another import under way) is left alone; so is one owned by another machine, whose processes
cannot be seen from here.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.db import transaction
from yuqing.ingest.models import DeadLetter, FetchRun, Post, RunOutcome
from yuqing.ingest.records import IngestCounts
from yuqing.process import is_alive, process_identity
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)
INTERRUPTED_NOTE = "进程中断"


def start_run(
    session: Session, source_id: int, started_at: dt.datetime, document_sha256: str | None = None
) -> int:
    """Open a run owned by this process; returns its id."""
    run = FetchRun(
        source_id=source_id,
        started_at=started_at,
        document_sha256=document_sha256,
        owner=process_identity(),
    )
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    outcome: RunOutcome,
    counts: IngestCounts,
    error: str | None,
    finished_at: dt.datetime,
    document_sha: str | None = None,
) -> None:
    run = session.get(FetchRun, run_id)
    assert run is not None
    run.finished_at = finished_at
    run.outcome = outcome.value
    run.error = error
    run.document_sha256 = run.document_sha256 or document_sha
    if outcome is RunOutcome.INTERRUPTED and run.items_read > counts.read:
        return  # a batch committed before its counts reached the caller: the stored ones are right
    run.items_read = counts.read
    run.items_new = counts.new
    run.items_duplicate = counts.duplicate
    run.items_near_duplicate = counts.near_duplicate
    run.items_rejected = counts.rejected


def close_interrupted_runs(rt: Runtime) -> list[int]:
    """Close every open run whose process is gone, as interrupted; returns their ids."""
    closed: list[int] = []
    now = rt.clock()
    with transaction(rt.sessions) as session:
        for run in session.scalars(select(FetchRun).where(FetchRun.finished_at.is_(None))):
            if owner_alive(run.owner) is not False:
                continue
            run.finished_at = now
            run.outcome = RunOutcome.INTERRUPTED.value
            run.error = INTERRUPTED_NOTE
            closed.append(run.id)
            if run.items_read:
                continue  # its batches added their counts as they committed (`store.add_run_progress`)
            # A run of an earlier version: what its committed batches stored still counts, read
            # from the run's own posts and dead letters (duplicates left no row of their own).
            new, near = session.execute(
                select(
                    func.count().filter(Post.near_duplicate_of.is_(None)),
                    func.count().filter(Post.near_duplicate_of.is_not(None)),
                ).where(Post.fetch_run_id == run.id)
            ).one()
            rejected = session.scalar(
                select(func.count()).select_from(DeadLetter).where(DeadLetter.fetch_run_id == run.id)
            )
            run.items_new, run.items_near_duplicate, run.items_rejected = new, near, rejected or 0
            run.items_read = run.items_new + run.items_near_duplicate + run.items_rejected
    if closed:
        log.warning("closed %d run(s) left open by a process that ended: %s", len(closed), closed)
    return closed


def owner_alive(owner: str | None) -> bool | None:
    """Whether the process that owns a run is still running: None when that cannot be told from
    here (another machine). A run without an owner predates owners and counts as abandoned."""
    return is_alive(owner)
