"""Background work inside `yuqing serve`: a daemon thread that repeats a unit of work.

The scheduler and the analysis pipeline both run this way. Their state lives in the database,
so stopping the thread at any point loses nothing that was committed.
"""

from __future__ import annotations

import logging
import threading

from yuqing.storage import StorageAlarm, StorageProblem, storage_problem

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Calls `work()` until stopped: again at once while it reports more to do, else after
    `interval` seconds, or sooner when `wake()` says there is work (new posts stored): then after
    `coalesce` seconds, so that a stream of small deliveries makes batches, not a round each.
    A failing round is logged and the next one runs as usual; a full disk or a read-only
    database is logged once when it starts, not at every round."""

    def __init__(self, name: str, interval: float, *, coalesce: float = 0.2) -> None:
        self.name = name
        self.interval = interval
        self.coalesce = coalesce
        self._stop = threading.Event()
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None
        self._alarm = StorageAlarm()

    def work(self) -> bool:
        """One round of work; True when more is waiting."""
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """There is work now: run the next round without waiting for the interval."""
        self._woken.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            more = False
            try:
                more = self.work()
            except Exception as exc:
                problem = storage_problem(exc)
                if problem in (StorageProblem.DISK_FULL, StorageProblem.READ_ONLY, StorageProblem.BUSY):
                    self._alarm.report(problem, exc, self.name)
                else:
                    log.exception("%s: a round of work failed", self.name)
            if not more and self._woken.wait(self.interval) and not self._stop.is_set():
                self._stop.wait(self.coalesce)  # let the deliveries of the next moment join
            self._woken.clear()
