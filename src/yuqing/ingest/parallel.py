"""Running the pure stages (`ingest.map`, `ingest.normalise`) in a worker process.

A large import is bound by two things of about equal cost: preparing rows (parsing, mapping,
OpenCC, hashing) and writing them. On a machine with two cores, a forked worker prepares batch
n+1 while the parent writes batch n. The worker never touches the database, so a crash of either
side loses only batches that were not yet committed, and re-running the import is safe.

The worker dies with its parent, however the parent ends (kill -9 included): on Linux the kernel
sends it SIGKILL when the parent goes (PR_SET_PDEATHSIG); elsewhere, and as a second guard, it
checks its parent at least every `_PARENT_CHECK_SECONDS` while it waits to hand over a batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import logging
import multiprocessing
import os
import queue
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from yuqing.ingest.prepare import SourceContext, prepare_batch
from yuqing.ingest.records import PostDraft, RawItem, Rejected

log = logging.getLogger(__name__)
Prepared = list[PostDraft | Rejected]
_DONE = "done"
_ERROR = "error"
_BATCH = "batch"
_QUEUE_DEPTH = 3  # batches prepared ahead of the writer; bounds memory
_PARENT_CHECK_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def prepare_all(batch: list[RawItem | Rejected], context: SourceContext, when: dt.datetime) -> Prepared:
    prepared: Prepared = [item for item in batch if isinstance(item, Rejected)]
    prepared.extend(prepare_batch([i for i in batch if isinstance(i, RawItem)], context, when))
    return prepared


def prepared_batches(
    items: Callable[[], Iterable[RawItem | Rejected]],
    context: SourceContext,
    when: dt.datetime,
    batch_size: int,
    *,
    use_worker: bool,
) -> Iterator[Prepared]:
    """Batches of prepared items in input order, from a worker process when asked and possible."""
    if not use_worker or "fork" not in multiprocessing.get_all_start_methods() or (os.cpu_count() or 1) < 2:
        yield from _in_process(items(), context, when, batch_size)
        return
    ctx = multiprocessing.get_context("fork")
    channel: Any = ctx.Queue(maxsize=_QUEUE_DEPTH)
    worker = ctx.Process(
        target=_work, args=(items, context, when, batch_size, channel, os.getpid()), daemon=True
    )
    worker.start()
    try:
        while True:
            try:
                kind, payload = channel.get(timeout=5)
            except queue.Empty:
                if not worker.is_alive():
                    raise RuntimeError("准备数据的子进程意外退出") from None
                continue
            if kind == _DONE:
                break
            if kind == _ERROR:
                raise payload
            yield payload
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join(5)
        if worker.is_alive():  # never wait for it again at exit: multiprocessing joins children
            worker.kill()
            worker.join()
        channel.close()


def _in_process(
    items: Iterable[RawItem | Rejected], context: SourceContext, when: dt.datetime, batch_size: int
) -> Iterator[Prepared]:
    iterator = iter(items)
    while batch := list(islice(iterator, batch_size)):
        yield prepare_all(batch, context, when)


def _work(
    items: Callable[[], Iterable[RawItem | Rejected]],
    context: SourceContext,
    when: dt.datetime,
    batch_size: int,
    channel: Any,
    parent: int,
) -> None:
    die_with_parent(parent)
    # The parent's handlers came with the fork: SIGTERM would raise KeyboardInterrupt here and
    # the exit would then wait for a queue nobody reads. The parent stops the worker; SIGTERM
    # ends it at once, and Ctrl+C (sent to the whole process group) is the parent's to handle.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for prepared in _in_process(items(), context, when, batch_size):
            _hand_over(channel, (_BATCH, prepared), parent)
        _hand_over(channel, (_DONE, None), parent)
    except Exception as exc:  # reported to the parent, which raises it to the user
        try:
            _hand_over(channel, (_ERROR, exc), parent)
        except Exception:  # an exception that cannot be pickled
            error = RuntimeError(f"准备数据时出错：{type(exc).__name__}: {exc}")
            _hand_over(channel, (_ERROR, error), parent)


def die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when its parent ends (Linux); exit at once if the
    parent is already gone (it may have died before the request was made)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            log.debug("prctl(PR_SET_PDEATHSIG) is not available; polling the parent instead")
    if os.getppid() != parent:
        os._exit(1)


def _hand_over(channel: Any, message: tuple[str, Any], parent: int) -> None:
    """Put a message for the parent, giving up (and exiting) when the parent is gone: a full
    queue nobody reads would otherwise block the worker for ever."""
    while True:
        try:
            channel.put(message, timeout=_PARENT_CHECK_SECONDS)
            return
        except queue.Full:
            if os.getppid() != parent:
                os._exit(1)
