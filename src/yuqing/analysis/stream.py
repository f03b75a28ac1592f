"""Analysis outside the web process: `yuqing worker` processes, woken by NATS JetStream.

With `YUQING_NATS_URL` set, `yuqing serve` stores posts and serves the console but analyses
nothing itself: its :class:`Announcer` publishes each post waiting in the analysis queue on the
JetStream stream ``YUQING_POSTS`` (subject ``yuqing.posts.stored``, up to 500 post ids per
message, ``Nats-Msg-Id`` naming them so a repeated announcement is dropped by the stream), and marks
them announced. `yuqing worker`
processes (:class:`Worker`) consume the stream with a durable pull consumer and explicit acks and
run the pipeline.

The analysis queue stays the record of what is left to analyse; the stream only wakes the worker
the moment a post is stored. So a NATS outage delays nothing and loses nothing: announcements wait
in the queue (`announced_at` null) and go out when NATS is back, and meanwhile a worker finds the
stored posts by looking at the queue every tick. A message is acked after the batch holding its
post has committed (or when its post was analysed already).

One worker analyses at a time: the pipeline lease (`analysis_lease_seconds`) makes the others
stand by; a worker killed mid-batch commits nothing of that batch, and another takes the lease
over when it expires, reloads the last committed clusterer state and goes on, so every stored post
is analysed once and the events are those of a single worker. Each worker records a heartbeat
(`pipeline_state` rows ``worker:<host>:<pid>:<id>``) that `yuqing pipeline status` lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, delete, select, update

from yuqing.analysis.models import AnalysisQueue, PipelineState
from yuqing.background import PeriodicWorker
from yuqing.db import one_of, transaction
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)

STREAM = "YUQING_POSTS"
SUBJECT = "yuqing.posts.stored"
CONSUMER = "analysis"
WORKER_PREFIX = "worker:"
# Post ids per announcement: a burst of thousands of posts a second is a few messages.
PER_MESSAGE = 500
_T = TypeVar("_T")


class StreamError(RuntimeError):
    """NATS or its JetStream could not be reached or refused a request."""


class NatsLink:
    """A synchronous handle on NATS JetStream for threads (nats-py is asyncio): one event loop in a
    daemon thread, one connection made on first use and again after any failure."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="yuqing-nats", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._sub: Any = None

    def _run(self, coro: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result((timeout or self._timeout) + 1.0)
        except Exception as exc:
            future.cancel()
            self._run_reset()
            raise StreamError(f"NATS {self.url}: {type(exc).__name__}: {exc}") from exc

    def _run_reset(self) -> None:
        async def reset() -> None:
            nc, self._nc, self._js, self._sub = self._nc, None, None, None
            if nc is not None:
                with contextlib.suppress(Exception):  # closing a broken connection
                    await nc.close()

        try:
            asyncio.run_coroutine_threadsafe(reset(), self._loop).result(self._timeout)
        except Exception:  # best effort
            log.debug("closing the NATS connection failed", exc_info=True)

    async def _jetstream(self) -> Any:
        if self._nc is None or self._nc.is_closed:
            import nats
            from nats.js.api import RetentionPolicy, StreamConfig
            from nats.js.errors import NotFoundError

            self._nc = await nats.connect(
                self.url,
                connect_timeout=min(self._timeout, 2.0),
                allow_reconnect=False,
                max_reconnect_attempts=0,
            )
            self._js = self._nc.jetstream(timeout=self._timeout)
            self._sub = None
            try:
                await self._js.stream_info(STREAM)
            except NotFoundError:
                await self._js.add_stream(
                    StreamConfig(
                        name=STREAM,
                        subjects=["yuqing.posts.>"],
                        retention=RetentionPolicy.WORK_QUEUE,
                        duplicate_window=600.0,
                    )
                )
        return self._js

    def publish(self, post_ids: Sequence[int]) -> None:
        """Announce these stored posts, up to :data:`PER_MESSAGE` ids per message (each message
        acknowledged by the stream before this returns)."""

        async def go() -> None:
            js = await self._jetstream()
            chunks = [post_ids[i : i + PER_MESSAGE] for i in range(0, len(post_ids), PER_MESSAGE)]
            await asyncio.gather(
                *(
                    js.publish(
                        SUBJECT,
                        ",".join(map(str, chunk)).encode(),
                        headers={"Nats-Msg-Id": message_id(chunk)},
                    )
                    for chunk in chunks
                )
            )

        self._run(go(), self._timeout * (1 + len(post_ids) // 20_000))

    def fetch(self, batch: int, wait: float) -> list[Any]:
        """Up to `batch` announcements, waiting at most `wait` seconds for the first."""

        async def go() -> list[Any]:
            js = await self._jetstream()
            if self._sub is None:
                self._sub = await js.pull_subscribe(SUBJECT, durable=CONSUMER, stream=STREAM)
            try:
                return list(await self._sub.fetch(batch=batch, timeout=wait))
            except TimeoutError:  # nothing new within `wait` (nats' own or asyncio's)
                return []

        return self._run(go(), wait + self._timeout)

    def ack(self, messages: Sequence[Any]) -> None:
        """Acknowledge these announcements; the server has them when this returns."""

        async def go() -> None:
            for message in messages:
                await message.ack()
            await self._nc.flush(timeout=self._timeout)

        if messages:
            self._run(go(), self._timeout * (1 + len(messages) // 5000))

    def pending(self) -> dict[str, int]:
        """Announcements on the stream not yet taken (`pending`) and taken but not acked."""

        async def go() -> dict[str, int]:
            from nats.js.errors import NotFoundError

            js = await self._jetstream()
            try:
                info = await js.consumer_info(STREAM, CONSUMER)
            except NotFoundError:
                stream = await js.stream_info(STREAM)
                return {"pending": int(stream.state.messages), "unacked": 0}
            return {"pending": int(info.num_pending), "unacked": int(info.num_ack_pending)}

        return self._run(go())

    def close(self) -> None:
        self._run_reset()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2.0)


def message_id(post_ids: Sequence[int]) -> str:
    """The `Nats-Msg-Id` of an announcement: the same posts announced again (a crash between
    publishing and recording it) are dropped by the stream's duplicate window."""
    return f"posts-{post_ids[0]}-{post_ids[-1]}-{len(post_ids)}"


def post_ids_of(message: Any) -> list[int]:
    """The post ids an announcement carries (none for a message that is not ours)."""
    try:
        return [int(part) for part in bytes(message.data).split(b",") if part]
    except ValueError:
        return []


def unannounced(limit: int) -> Select[int]:
    """The oldest queued posts not announced yet (from the partial index of only those)."""
    return (
        select(AnalysisQueue.post_id)
        .where(AnalysisQueue.announced_at.is_(None))
        .order_by(AnalysisQueue.post_id)
        .limit(limit)
    )


def announce(rt: Runtime, link: NatsLink, limit: int = 2000) -> int:
    """Publish the queued posts not announced yet (oldest first); returns how many. Raises
    :class:`StreamError` when NATS is unreachable: they stay unannounced, to go out next time."""
    with rt.sessions() as session:
        ids = list(session.scalars(unannounced(limit)))
    if not ids:
        return 0
    link.publish(ids)
    now = rt.clock()
    with transaction(rt.sessions) as session:
        for start in range(0, len(ids), 500):
            session.execute(
                update(AnalysisQueue)
                .where(one_of(session, AnalysisQueue.post_id, ids[start : start + 500]))
                .values(announced_at=now)
            )
    return len(ids)


class Announcer(PeriodicWorker):
    """Inside `yuqing serve` with NATS configured: announces stored posts as they are committed."""

    def __init__(self, rt: Runtime, link: NatsLink, interval: float = 0.5) -> None:
        super().__init__("yuqing-announcer", interval)
        self._rt = rt
        self._link = link
        self._failing = False

    def work(self) -> bool:
        try:
            sent = announce(self._rt, self._link)
        except StreamError as exc:
            if not self._failing:
                log.warning("NATS 不可达，已存储的信息稍后再发布（不会丢失）：%s", exc)
            self._failing = True
            return False
        if self._failing:
            log.info("NATS is reachable again; announcing the stored backlog")
        self._failing = False
        return sent > 0


# Announcements a worker holds unacked at most (500 post ids each).
MAX_HELD = 20


def _distinct(messages: list[Any]) -> list[Any]:
    """Announcements once each, by their stream sequence (a redelivered one is the same)."""
    seen: set[Any] = set()
    out = []
    for message in messages:
        try:
            key: Any = message.metadata.sequence.stream
        except (AttributeError, ValueError):
            key = id(message)
        if key not in seen:
            seen.add(key)
            out.append(message)
    return out


class Worker:
    """`yuqing worker`: takes the pipeline lease when free, analyses what the queue holds as soon
    as the stream announces it (or every `tick` seconds without NATS), acks the announcements of
    what it committed, and records a heartbeat."""

    def __init__(self, rt: Runtime, link: NatsLink | None, *, tick: float | None = None) -> None:
        from yuqing.analysis.pipeline import AnalysisPipeline

        self._rt = rt
        self._link = link
        self._tick = tick if tick is not None else rt.settings.analysis_tick_seconds
        self.pipeline = AnalysisPipeline(rt, keep_lease=True)
        self.identity = self.pipeline.identity  # its heartbeat names the lease it holds
        self.analysed = 0
        self._unacked: list[Any] = []
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def round(self) -> str:
        """One round: "working" (it holds the lease and analysed or waited for news), "standby"
        (another live worker holds it), or "waiting" (NATS unreachable: the queue is looked at)."""
        counts = self.pipeline.run(limit=20_000)
        if counts.busy:
            self._beat("standby")
            self._stop.wait(self._tick)
            return "standby"
        self.analysed += counts.posts
        state = "working"
        if self._link is not None:
            try:
                self._beat(state)
                self._take_news(wait=0.05 if counts.posts else self._tick)
            except StreamError as exc:
                log.warning("NATS 不可达，改为每 %.1f 秒查看分析队列：%s", self._tick, exc)
                self._unacked = []
                state = "waiting"
                self._stop.wait(self._tick)
        elif counts.posts == 0:
            self._stop.wait(self._tick)
        self._beat(state)
        return state

    def _take_news(self, wait: float) -> None:
        """Ack the announcements whose posts have been analysed (committed: they left the queue),
        keep the others for the next round, and take new ones — at once while the stream is
        behind, else waiting up to `wait` seconds for the next.

        At most `MAX_HELD` announcements are held: while the worker is behind, the queue already
        tells it what to do, and holding the whole stream would mean checking every held post
        against the queue each round (the cost grew with the backlog: a 636,000-post backlog ran
        at half the speed of one process)."""
        assert self._link is not None
        held, self._unacked = self._unacked, []
        for _ in range(50):
            room = MAX_HELD - len(held)
            news = self._link.fetch(batch=room, wait=wait if not held else 0.05) if room > 0 else []
            held = _distinct([*held, *news])  # an announcement held past its ack wait comes again
            done, waiting = self._committed(held)
            self._link.ack(done)
            held = waiting
            if room <= 0 or len(news) < room or waiting:
                break
        self._unacked = held

    def _committed(self, messages: list[Any]) -> tuple[list[Any], list[Any]]:
        """The announcements all of whose posts have left the queue, and the others."""
        wanted = sorted({post_id for m in messages for post_id in post_ids_of(m)})
        queued: set[int] = set()
        with self._rt.sessions() as session:
            for start in range(0, len(wanted), 1000):
                chunk = wanted[start : start + 1000]
                queued.update(
                    session.scalars(
                        select(AnalysisQueue.post_id).where(one_of(session, AnalysisQueue.post_id, chunk))
                    )
                )
        done = [m for m in messages if not queued.intersection(post_ids_of(m))]
        waiting = [m for m in messages if queued.intersection(post_ids_of(m))]
        return done, waiting

    def run(self) -> None:
        """Rounds until :meth:`stop`; then the lease is released for another worker at once."""
        try:
            while not self._stop.is_set():
                try:
                    self.round()
                except Exception:
                    log.exception("a round of analysis failed; trying again")
                    self._stop.wait(self._tick)
        finally:
            self.pipeline.release()
            with transaction(self._rt.sessions) as session:
                beat = WORKER_PREFIX + self.identity
                session.execute(delete(PipelineState).where(PipelineState.name == beat))

    def _beat(self, state: str) -> None:
        name = WORKER_PREFIX + self.identity
        data = json.dumps({"state": state, "analysed": self.analysed}).encode()
        now = self._rt.clock()
        with transaction(self._rt.sessions) as session:
            row = session.get(PipelineState, name)
            if row is None:
                session.add(PipelineState(name=name, data=data, cursor=0, updated_at=now))
            else:
                row.data, row.updated_at = data, now


def worker_rows(rt: Runtime) -> list[dict[str, Any]]:
    """The workers that reported lately (within three ticks plus the lease), as `pipeline status`
    lists them."""
    now = rt.clock()
    settings = rt.settings
    recent = now - dt.timedelta(seconds=3 * settings.analysis_tick_seconds + settings.analysis_lease_seconds)
    out: list[dict[str, Any]] = []
    with rt.sessions() as session:
        rows = session.scalars(
            select(PipelineState).where(
                PipelineState.name.startswith(WORKER_PREFIX), PipelineState.updated_at >= recent
            )
        )
        for row in rows:
            host, _, rest = row.name.removeprefix(WORKER_PREFIX).partition(":")
            host, pid = host.split("~", 1)[0], rest.split(":", 1)[0]
            info = json.loads(bytes(row.data) or b"{}")
            out.append(
                {
                    "host": host,
                    "pid": int(pid) if pid.isdigit() else None,
                    "id": row.name.removeprefix(WORKER_PREFIX),
                    "state": info.get("state", "working"),
                    "analysed": int(info.get("analysed", 0)),
                    "last_seen": row.updated_at.isoformat(),
                }
            )
    return out
