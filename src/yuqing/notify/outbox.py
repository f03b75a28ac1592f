"""The durable outbox: notifications are rows first, deliveries second.

`enqueue` adds a notification inside the caller's transaction, so it is committed together with
whatever caused it (an alert, a case step) or not at all. The payload is rendered then and stored,
so a later template change does not alter what is already queued. A dedup key makes enqueueing
idempotent: the same key twice is one notification.

`deliver_due` (run by `NotificationWorker`s inside `yuqing serve`, one per channel kind, so that
an SMTP server that stalls does not hold up the in-app notice or the duty robot) claims due rows,
sends them outside any database transaction, and records each attempt in `notification_attempts`. A claim
is a lease: the row becomes `sending` until `lease_until`, under a claim token. Two workers never
claim the same row: PostgreSQL locks the candidates with `FOR UPDATE SKIP LOCKED`; SQLite has one
writer and the claim is a conditional UPDATE that only succeeds if the row is still as it was
read. A worker that dies mid-send leaves its rows `sending`; once the lease expires another worker
takes them over, logs the interrupted attempt and sends again. A claim also names the claiming
process (`claimed_by`, host:pid:start): when `yuqing serve` starts again after a crash, its worker
ends at once the leases of a process of this machine that is gone (`reclaim_abandoned`), and as
rows go out oldest first, the interrupted ones go before anything queued since. Results are written
only while the token still matches, so a worker that overran its lease cannot overwrite its
successor's result.

Delivery is therefore *at least once* at the transport level, which is the best any webhook or
SMTP server allows: none of them takes an idempotency key. The dedup key and the claim make a
duplicate possible only if the process dies (or loses the database) after the remote side
accepted a message and before our commit of the result. E-mails keep one Message-ID across
retries, so mail clients fold even that duplicate.

Failed attempts are retried after `notify_retry_seconds`, doubling each time (or later if the
server asks so with Retry-After), up to `notify_max_attempts`; then the notification is `failed`
with the reason. A final refusal (a bad address, a wrong signature, HTTP 4xx) fails at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from yuqing.background import PeriodicWorker
from yuqing.db import transaction, utcnow
from yuqing.notify.channels import (
    Channel,
    ChannelUnavailable,
    DeliveryError,
    NotifyError,
    Receipt,
    channel_status,
    get_channel,
)
from yuqing.notify.messages import Message
from yuqing.notify.models import Notification, NotificationAttempt, NotificationStatus, can_transition
from yuqing.process import is_alive, process_identity
from yuqing.runtime import Runtime

log = logging.getLogger(__name__)

S = NotificationStatus
IN_APP = "in_app"
MAX_DEDUP_KEY_CHARS = 255
# Rows claimed per transaction; the lease covers sending all of them one after the other.
CLAIM_BATCH = 10
# Due rows looked at per claim, as a multiple of the batch: rows of a server already in the batch,
# or failing, are passed over for the next ones.
CLAIM_LOOKAHEAD = 5
LEASE_MARGIN_SECONDS = 60.0
# One SMTP delivery is several round trips, each bounded by the timeout.
SEND_TIMEOUTS_PER_MESSAGE = 3
MAX_BACKOFF_SECONDS = 24 * 3600.0
MAX_CLAIM_MISSES = 3
INTERRUPTED = "上次投递未完成（进程中断或超出租约），结果未知，重新投递"
INTERNAL_ONLY = "仅限站内通知（演练通知；启动演练时未允许外部渠道），未发往此渠道"


@dataclass
class DeliveryCounts:
    """What one `deliver_due` round did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"claimed": self.claimed, "sent": self.sent, "retrying": self.retrying, "failed": self.failed}


@dataclass(frozen=True)
class _Claim:
    """A claimed row, detached from any session while it is being sent."""

    id: int
    server: str | None
    token: str
    kind: str
    address: str
    secret: str | None
    message: dict[str, Any]
    payload: dict[str, Any] | None
    attempt: int
    lease_until: dt.datetime


@dataclass
class _Result:
    ok: bool
    detail: str
    retryable: bool | None = None
    http_status: int | None = None
    code: str | None = None
    retry_after: float | None = None
    duration_ms: int = 0
    rendered: dict[str, Any] | None = field(default=None, repr=False)


# -- enqueueing ---------------------------------------------------------------------------------


def enqueue(
    session: Session,
    kind: str,
    address: str,
    message: Message,
    *,
    dedup_key: str,
    person_id: int | None = None,
    subject: tuple[str, int] | None = None,
    secret: str | None = None,
    not_before: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Notification:
    """Queue `message` for `address` over channel `kind`, in the caller's transaction.

    The same `dedup_key` twice is a no-op returning the existing notification, so a key should
    name what is sent to whom (e.g. ``alert:12:dingtalk:<contact id>``). `not_before` delays the
    first attempt (a reminder); otherwise it goes at the worker's next round. `now` (the caller's
    clock, default the real time) only stamps `created_at`. A channel that cannot be loaded does
    not raise: the notification is stored as failed with the reason. A message marked
    `internal_only` (a drill's notice) is kept for the record but never sent over a channel other
    than in-app: it is stored as cancelled with the reason.
    """
    if not dedup_key or len(dedup_key) > MAX_DEDUP_KEY_CHARS:
        raise ValueError(f"dedup_key must have 1 to {MAX_DEDUP_KEY_CHARS} characters")
    existing = _by_dedup_key(session, dedup_key)
    if existing is not None:
        return existing
    now = now or utcnow()
    payload: dict[str, Any] | None = None
    problem: str | None = None
    withheld = message.internal_only and kind != IN_APP
    if not withheld:
        try:
            payload = get_channel(kind).render(message)
        except ChannelUnavailable as exc:
            problem = str(exc)
        except Exception as exc:  # a plugin's template bug must not break the caller's transaction
            log.exception("rendering a %s notification failed", kind)
            problem = f"通知渠道 {kind} 生成消息失败：{exc.__class__.__name__} {exc}"
    if problem:
        log.warning("notification %s cannot be sent: %s", dedup_key, problem)
    values: dict[str, Any] = {
        "created_at": now,
        "kind": kind,
        "address": address,
        "secret": secret,
        "person_id": person_id,
        "subject_kind": subject[0] if subject else None,
        "subject_id": subject[1] if subject else None,
        "dedup_key": dedup_key,
        "title": message.title,
        "level": message.level.value,
        "message": message.to_dict(),
        "payload": payload,
        "status": (S.CANCELLED if withheld else S.FAILED if problem else S.PENDING).value,
        "attempts": 0,
        "next_attempt_at": not_before,
        "last_error": INTERNAL_ONLY if withheld else problem,
    }
    inserted = _insert_once(session, values)
    row = _by_dedup_key(session, dedup_key)
    assert row is not None
    if inserted and problem:
        session.add(
            NotificationAttempt(
                notification_id=row.id, attempt=0, at=now, ok=False, retryable=False, detail=problem
            )
        )
        session.flush()
    return row


def _by_dedup_key(session: Session, dedup_key: str) -> Notification | None:
    return session.scalars(select(Notification).where(Notification.dedup_key == dedup_key)).one_or_none()


def _insert_once(session: Session, values: dict[str, Any]) -> bool:
    """Insert unless the dedup key exists (also when a concurrent transaction just added it)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql_insert(Notification).values(**values)
        statement = statement.on_conflict_do_nothing(index_elements=["dedup_key"])
    elif dialect == "sqlite":
        lite = sqlite_insert(Notification).values(**values)
        lite = lite.on_conflict_do_nothing(index_elements=["dedup_key"])
        return bool(session.execute(lite.returning(Notification.id)).first())
    else:
        session.execute(insert(Notification).values(**values))
        return True
    return bool(session.execute(statement.returning(Notification.id)).first())


# -- delivering ---------------------------------------------------------------------------------


def _due(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            Notification.status == S.PENDING.value,
            or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
        ),
        and_(Notification.status == S.SENDING.value, Notification.lease_until <= now),
    )


def lease_length(timeout_seconds: float, batch: int) -> dt.timedelta:
    """How long a worker owns a claimed batch: long enough to send each message in turn."""
    return dt.timedelta(seconds=LEASE_MARGIN_SECONDS + batch * SEND_TIMEOUTS_PER_MESSAGE * timeout_seconds)


def retry_delay(retry_seconds: float, attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt: retry_seconds, doubling each time."""
    return dt.timedelta(seconds=min(retry_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


@dataclass(frozen=True)
class Lane:
    """The channel kinds one delivery loop sends: `kinds`, or every kind but `others_than`'s
    (None and None: all). A server that stalls (an SMTP host that accepts and never answers)
    holds up only its own lane, not the in-app notice or the duty robot of the same alert."""

    kinds: tuple[str, ...] | None = None
    others_than: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        if self.kinds is not None:
            return "+".join(self.kinds)
        return "other" if self.others_than else "all"

    def condition(self) -> ColumnElement[bool] | None:
        if self.kinds is not None:
            return Notification.kind.in_(self.kinds)
        if self.others_than:
            return Notification.kind.not_in(self.others_than)
        return None


ALL_CHANNELS = Lane()


def lanes(kinds: Iterable[str]) -> list[Lane]:
    """One lane per channel kind, and one for kinds unknown now (a plugin that failed to load)."""
    known = tuple(sorted(set(kinds)))
    return [*(Lane(kinds=(kind,)) for kind in known), Lane(others_than=known)]


def deliver_due(rt: Runtime, *, limit: int = 100, lane: Lane = ALL_CHANNELS) -> DeliveryCounts:
    """Send up to `limit` due notifications of `lane`, one at a time, recording every attempt."""
    counts = DeliveryCounts()
    channels: dict[str, Channel | ChannelUnavailable] = {}
    # Servers that failed this round (a dead robot URL, a stalled SMTP host): their other rows wait
    # for the next round instead of costing a timeout each, so a dead robot delays the notices
    # queued behind it by one timeout, not one per notice of its own (5.5 minutes before).
    failing: set[str] = set()
    failed_addresses: set[str] = set()  # theirs are left out of the claim's query itself
    misses = 0
    while counts.claimed < limit:
        before = counts.claimed
        claims, examined = _claim(
            rt, min(CLAIM_BATCH, limit - counts.claimed), counts, lane, failing, failed_addresses
        )
        if not examined:
            break
        # Another worker took every row we saw (SQLite): look again, but not forever.
        misses = misses + 1 if counts.claimed == before else 0
        if misses >= MAX_CLAIM_MISSES:
            break
        for claim in claims:
            if rt.clock() >= claim.lease_until:
                # Overran the lease: another worker may own the rest now; it logs them as interrupted.
                log.warning("notification worker overran its lease; leaving the rest of the batch")
                break
            result = _send(rt, claim, channels)
            if not result.ok and result.retryable and claim.server is not None:
                failing.add(claim.server)
                failed_addresses.add(claim.address)
            status = _finish(rt, claim, result)
            if status == S.SENT:
                counts.sent += 1
            elif status == S.PENDING:
                counts.retrying += 1
            else:
                counts.failed += 1
    return counts


def server_of(kind: str, address: str) -> str | None:
    """The server a notification goes through, for spreading a batch over servers: the SMTP host
    for every e-mail, a robot's host and port, None for in-app (no server)."""
    if kind == IN_APP:
        return None
    if kind == "email":
        return "email"
    try:
        url = httpx.URL(address)
    except (httpx.InvalidURL, TypeError):
        return f"{kind}:{address}"
    return f"{kind}:{url.host}:{url.port}" if url.host else f"{kind}:{address}"


def _claim(
    rt: Runtime,
    size: int,
    counts: DeliveryCounts,
    lane: Lane = ALL_CHANNELS,
    failing: set[str] | frozenset[str] = frozenset(),
    failed_addresses: set[str] | frozenset[str] = frozenset(),
) -> tuple[list[_Claim], int]:
    """Claim up to `size` due rows for this worker, at most one per server and none of a server
    in `failing`; also the number of due rows looked at."""
    now = rt.clock()
    lease_until = now + lease_length(rt.settings.notify_timeout_seconds, size)
    token = uuid.uuid4().hex
    claimant = process_identity()
    max_attempts = rt.settings.notify_max_attempts
    claims: list[_Claim] = []
    with transaction(rt.sessions) as session:
        # The due rows of this lane, a few batches' worth, without those of a failing server; then
        # those not locked by another worker (PostgreSQL: FOR UPDATE SKIP LOCKED), of which one per
        # server is claimed: a dead server costs one timeout a batch. The rest are free again at
        # this transaction's end (a second worker skips only what this one holds meanwhile).
        candidates = select(Notification.id, Notification.kind, Notification.address).where(_due(now))
        of_lane = lane.condition()
        if of_lane is not None:
            candidates = candidates.where(of_lane)
        if failed_addresses:  # a dead robot's older rows must not fill the look-ahead
            candidates = candidates.where(Notification.address.not_in(failed_addresses))
        seen = session.execute(candidates.order_by(Notification.id).limit(size * CLAIM_LOOKAHEAD)).all()
        chosen = [i for i, kind, address in seen if server_of(kind, address) not in failing]
        query = select(Notification).where(Notification.id.in_(chosen), _due(now)).order_by(Notification.id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.scalars(query).all() if chosen else []
        servers: set[str] = set()
        for row in rows:
            if len(claims) >= size:
                break
            server = server_of(row.kind, row.address)
            if server is not None and server in servers:
                continue
            interrupted = row.status == S.SENDING
            exhausted = interrupted and row.attempts >= max_attempts
            new_status = S.FAILED if exhausted else S.SENDING
            assert can_transition(row.status, new_status)
            # Succeeds only if the row is still as read: on SQLite another worker may have been first.
            still_as_read = and_(
                Notification.id == row.id,
                Notification.status == row.status,
                Notification.attempts == row.attempts,
                _due(now),
            )
            if exhausted:
                values: dict[str, Any] = {
                    "status": new_status.value,
                    "lease_until": None,
                    "claim_token": None,
                    "claimed_by": None,
                    "last_error": f"投递 {row.attempts} 次均未完成（进程中断），已放弃",
                }
            else:
                values = {
                    "status": new_status.value,
                    "attempts": row.attempts + 1,
                    "lease_until": lease_until,
                    "claim_token": token,
                    "claimed_by": claimant,
                }
            result = session.execute(
                update(Notification)
                .where(still_as_read)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                continue
            if interrupted:
                session.add(
                    NotificationAttempt(
                        notification_id=row.id,
                        attempt=row.attempts,
                        at=now,
                        ok=False,
                        retryable=not exhausted,
                        detail=INTERRUPTED if not exhausted else str(values["last_error"]),
                    )
                )
            if exhausted:
                counts.claimed += 1
                counts.failed += 1
                continue
            counts.claimed += 1
            if server is not None:
                servers.add(server)
            claims.append(
                _Claim(
                    id=row.id,
                    server=server,
                    token=token,
                    kind=row.kind,
                    address=row.address,
                    secret=row.secret,
                    message=dict(row.message),
                    payload=dict(row.payload) if row.payload is not None else None,
                    attempt=row.attempts + 1,
                    lease_until=lease_until,
                )
            )
    return claims, len(seen)


def reclaim_abandoned(rt: Runtime) -> list[int]:
    """End now the leases of rows left `sending` by a process of this machine that is gone (or whose
    pid now belongs to another process), so the next round takes them over at once: logged as
    interrupted, then sent again, oldest first. Rows of a live process, of another machine, or
    claimed before claims named their process keep their lease. The ids reclaimed."""
    now = rt.clock()
    me = process_identity()
    reclaimed: list[int] = []
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(Notification.id, Notification.claimed_by, Notification.claim_token).where(
                Notification.status == S.SENDING.value, Notification.claimed_by.is_not(None)
            )
        ).all()
        for notification_id, claimant, token in rows:
            if claimant == me or is_alive(claimant) is not False:
                continue
            ended = session.execute(
                update(Notification)
                .where(
                    Notification.id == notification_id,
                    Notification.status == S.SENDING.value,
                    Notification.claim_token == token,  # still that claim, not a newer one
                )
                .values(lease_until=now)
                .execution_options(synchronize_session=False)
            )
            if ended.rowcount == 1:  # type: ignore[attr-defined]
                reclaimed.append(notification_id)
    if reclaimed:
        log.warning("notifications left sending by a process that ended, taken over now: %s", reclaimed)
    return reclaimed


def _channel(kind: str, cache: dict[str, Channel | ChannelUnavailable]) -> Channel:
    if kind not in cache:
        try:
            cache[kind] = get_channel(kind)
        except ChannelUnavailable as exc:
            cache[kind] = exc
    found = cache[kind]
    if isinstance(found, ChannelUnavailable):
        raise found
    return found


def _send(rt: Runtime, claim: _Claim, cache: dict[str, Channel | ChannelUnavailable]) -> _Result:
    """One delivery attempt, outside any database transaction, timed."""
    started = time.monotonic()
    result = _attempt(rt, claim, cache)
    result.duration_ms = round((time.monotonic() - started) * 1000)
    return result


def _attempt(rt: Runtime, claim: _Claim, cache: dict[str, Channel | ChannelUnavailable]) -> _Result:
    rendered: dict[str, Any] | None = None
    try:
        channel = _channel(claim.kind, cache)
        payload = claim.payload
        if payload is None:  # the channel was missing at enqueue time and has been requeued since
            payload = rendered = channel.render(Message.from_dict(claim.message))
        receipt = channel.send(payload, claim.address, secret=claim.secret, settings=rt.settings)
    except ChannelUnavailable as exc:
        return _Result(False, str(exc), retryable=False)
    except DeliveryError as exc:
        return _Result(
            False,
            exc.detail,
            retryable=exc.retryable,
            http_status=exc.http_status,
            code=exc.code,
            retry_after=exc.retry_after,
            rendered=rendered,
        )
    except Exception as exc:  # a plugin's bug: log it, retry later like any other failure
        log.exception("notification channel %s failed unexpectedly", claim.kind)
        return _Result(False, f"通知渠道 {claim.kind} 出错：{exc.__class__.__name__} {exc}", retryable=True)
    receipt = receipt or Receipt()
    return _Result(
        True, receipt.detail, http_status=receipt.http_status, code=receipt.code, rendered=rendered
    )


def _finish(rt: Runtime, claim: _Claim, result: _Result) -> NotificationStatus:
    """Record the attempt and the notification's new state (if this worker still owns it)."""
    now = rt.clock()
    settings = rt.settings
    values: dict[str, Any] = {"lease_until": None, "claim_token": None, "claimed_by": None}
    if result.rendered is not None:
        values["payload"] = result.rendered
    if result.ok:
        status = S.SENT
        values.update(sent_at=now, last_error=None)
    elif result.retryable and claim.attempt < settings.notify_max_attempts:
        status = S.PENDING
        delay = retry_delay(settings.notify_retry_seconds, claim.attempt)
        if result.retry_after:
            delay = max(delay, dt.timedelta(seconds=min(result.retry_after, MAX_BACKOFF_SECONDS)))
        values.update(next_attempt_at=now + delay, last_error=result.detail)
    else:
        status = S.FAILED
        tried = f"（已尝试 {claim.attempt} 次）" if result.retryable else ""
        values.update(last_error=f"{result.detail}{tried}")
    assert can_transition(S.SENDING, status)
    values["status"] = status.value
    # The message has gone out (or not) and only this process knows: a store that is busy for a
    # moment (SQLite's write lock held by an import) must not lose that, or the lease runs out
    # and the next worker sends the message again. Tried again while the claim is ours.
    for pause in (*_RECORD_RETRY_SECONDS, None):
        try:
            _record(rt, claim, result, values, now)
            break
        except OperationalError:
            if pause is None or rt.clock() >= claim.lease_until:
                raise
            log.warning(
                "notification %s: the store is busy; recording its result again in %gs", claim.id, pause
            )
            time.sleep(pause)
    if not result.ok:
        log.info("notification %s attempt %s failed: %s", claim.id, claim.attempt, result.detail)
    return status


_RECORD_RETRY_SECONDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


def _record(rt: Runtime, claim: _Claim, result: _Result, values: dict[str, Any], now: dt.datetime) -> None:
    with transaction(rt.sessions) as session:
        session.add(
            NotificationAttempt(
                notification_id=claim.id,
                attempt=claim.attempt,
                at=now,
                ok=result.ok,
                retryable=None if result.ok else result.retryable,
                http_status=result.http_status,
                error_code=result.code,
                detail=result.detail,
                duration_ms=result.duration_ms,
            )
        )
        updated = session.execute(
            update(Notification)
            .where(Notification.id == claim.id, Notification.claim_token == claim.token)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("notification %s: lease lost before its result was recorded", claim.id)


# -- managing and reading -----------------------------------------------------------------------


def requeue(session: Session, notification_id: int) -> Notification:
    """Send a failed notification again (after an administrator fixed the address, the SMTP
    settings or the plugin), with a fresh count of attempts."""
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotifyError(f"找不到通知 {notification_id}")
    if not can_transition(row.status, S.PENDING):
        raise NotifyError(f"通知 {notification_id} 的状态是 {row.status}，只有失败的通知可以重新发送")
    row.status = S.PENDING.value
    row.attempts = 0
    row.next_attempt_at = None
    row.lease_until = None
    row.claim_token = None
    row.claimed_by = None
    row.last_error = None
    session.flush()
    return row


def cancel(session: Session, notification_id: int) -> bool:
    """Withdraw a notification not yet sent (a reminder no longer needed); False if it was
    already being sent or done."""
    assert can_transition(S.PENDING, S.CANCELLED)
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == S.PENDING.value)
        .values(status=S.CANCELLED.value)
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def cancel_subject(session: Session, subject: tuple[str, int]) -> int:
    """Withdraw every pending notification about a subject (e.g. ("case", 7) once it is closed)."""
    result = session.execute(
        update(Notification)
        .where(
            Notification.subject_kind == subject[0],
            Notification.subject_id == subject[1],
            Notification.status == S.PENDING.value,
        )
        .values(status=S.CANCELLED.value)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_notifications(
    session: Session,
    *,
    status: NotificationStatus | str | None = None,
    subject: tuple[str, int] | None = None,
    limit: int = 100,
) -> list[Notification]:
    """Notifications, newest first, optionally of one status or about one subject."""
    query = select(Notification)
    if status is not None:
        query = query.where(Notification.status == NotificationStatus(status).value)
    if subject is not None:
        query = query.where(Notification.subject_kind == subject[0], Notification.subject_id == subject[1])
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def delivery_log(session: Session, notification_id: int) -> list[NotificationAttempt]:
    """Every attempt to deliver a notification, oldest first."""
    query = (
        select(NotificationAttempt)
        .where(NotificationAttempt.notification_id == notification_id)
        .order_by(NotificationAttempt.id)
    )
    return list(session.scalars(query))


def _inbox_of(person_id: int) -> ColumnElement[bool]:
    return and_(
        Notification.person_id == person_id,
        Notification.kind == IN_APP,
        Notification.status == S.SENT.value,
    )


def inbox(
    session: Session, person_id: int, unread_only: bool = False, *, limit: int = 50
) -> list[Notification]:
    """A person's in-app notifications as delivered, newest first."""
    query = select(Notification).where(_inbox_of(person_id))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.sent_at.desc(), Notification.id.desc()).limit(limit)
    return list(session.scalars(query))


def unread_count(session: Session, person_id: int) -> int:
    query = select(func.count()).select_from(Notification)
    return int(session.scalar(query.where(_inbox_of(person_id), Notification.read_at.is_(None))) or 0)


def mark_read(
    session: Session,
    person_id: int,
    notification_ids: Iterable[int] | None = None,
    *,
    at: dt.datetime | None = None,
) -> int:
    """Mark a person's in-app notifications read (all of them when no ids are given); only that
    person's own notifications are touched. The number marked."""
    condition = and_(_inbox_of(person_id), Notification.read_at.is_(None))
    if notification_ids is not None:
        condition = and_(condition, Notification.id.in_(list(notification_ids)))
    result = session.execute(
        update(Notification)
        .where(condition)
        .values(read_at=at or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class NotificationWorker(PeriodicWorker):
    """Delivers due notifications of one lane (default: every channel) inside `yuqing serve`:
    again at once while a full batch was claimed, else every `interval` seconds. Its first round
    takes over what a process that died left half sent (`reclaim_abandoned`)."""

    def __init__(
        self, rt: Runtime, *, interval: float = 5.0, batch: int = 100, lane: Lane = ALL_CHANNELS
    ) -> None:
        super().__init__(f"yuqing-notify-{lane.name}", interval)
        self._rt = rt
        self._batch = batch
        self._lane = lane
        self._reclaimed = False

    def work(self) -> bool:
        if not self._reclaimed:
            reclaim_abandoned(self._rt)
            self._reclaimed = True
        counts = deliver_due(self._rt, limit=self._batch, lane=self._lane)
        if counts.claimed:
            log.info("notifications (%s): %s", self._lane.name, counts.as_dict())
        return counts.claimed >= self._batch


def notification_workers(rt: Runtime, *, interval: float = 5.0) -> list[NotificationWorker]:
    """The delivery loops of `yuqing serve`: one per channel kind, so that one slow server delays
    only its own channel's notices."""
    return [NotificationWorker(rt, interval=interval, lane=lane) for lane in lanes(channel_status())]
