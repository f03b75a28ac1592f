"""Login sessions of browsers: a cookie carries a random token (32 bytes) whose SHA-256 alone is
stored, so a copy of the database lets nobody in; a session expires `hours` after its last request
(sliding expiry, written at most once a minute) and ends at logout, at a new password, or when the
account or its person is made inactive."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yuqing.accounts.models import Account, KnownDevice, LoginSession
from yuqing.org.models import Person

# Sliding expiry is written at most this often, so a busy page does not write on every request.
SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)
USER_AGENT_MAX = 300
# Browsers remembered per account (the newest); an older one counts as unknown again.
DEVICES_PER_ACCOUNT = 10
# A browser not used to log in for this long is forgotten.
DEVICE_DAYS = 180


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    session: Session,
    account: Account,
    *,
    now: dt.datetime,
    hours: float,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, LoginSession]:
    """A new login session: the token for the cookie (32 random bytes) and the stored row. Expired
    sessions of everyone are cleared on the way."""
    session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    row = LoginSession(
        token_sha256=token_digest(token),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + dt.timedelta(hours=hours),
        ip=ip,
        user_agent=(user_agent or "")[:USER_AGENT_MAX] or None,
    )
    session.add(row)
    session.flush()
    return token, row


def resume_session(
    session: Session, token: str, *, now: dt.datetime, hours: float
) -> tuple[LoginSession, Account] | None:
    """The live session of a cookie token and its account, its expiry pushed `hours` past now; None
    when the token is unknown, expired, or its account or person is inactive."""
    row = session.scalar(select(LoginSession).where(LoginSession.token_sha256 == token_digest(token)))
    if row is None:
        return None
    if row.expires_at <= now:
        session.delete(row)
        session.flush()
        return None
    account = session.get(Account, row.account_id)
    person = session.get(Person, account.person_id) if account is not None else None
    if account is None or not account.active or person is None or not person.active:
        session.delete(row)  # a leaver's session must not come back if the person is made active again
        session.flush()
        return None
    if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
        row.last_seen_at = now
        row.expires_at = now + dt.timedelta(hours=hours)
        session.flush()
    return row, account


def end_session(session: Session, token: str) -> LoginSession | None:
    """Log out the session of this token (the row is deleted); the ended row, or None."""
    row = session.scalar(select(LoginSession).where(LoginSession.token_sha256 == token_digest(token)))
    if row is not None:
        session.delete(row)
        session.flush()
    return row


def end_sessions(session: Session, account_id: int, *, except_id: int | None = None) -> int:
    """Log out every session of an account (but one, if given); how many ended."""
    query = delete(LoginSession).where(LoginSession.account_id == account_id)
    if except_id is not None:
        query = query.where(LoginSession.id != except_id)
    result = session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


# -- browsers that have logged in before ---------------------------------------------------------


def known_device(session: Session, token: str | None, login: str, *, now: dt.datetime) -> KnownDevice | None:
    """The remembered browser behind a device cookie, when it is one of the account named `login`
    (and used within `DEVICE_DAYS`); None for no cookie, a made-up one or another account's."""
    if not token or len(token) > 100:
        return None
    return session.scalar(
        select(KnownDevice)
        .join(Account, Account.id == KnownDevice.account_id)
        .where(
            KnownDevice.token_sha256 == token_digest(token),
            Account.login == login,
            KnownDevice.last_used_at > now - dt.timedelta(days=DEVICE_DAYS),
        )
    )


def remember_device(session: Session, account_id: int, token: str | None, *, now: dt.datetime) -> str:
    """After a successful login: the browser's device token, the one it sent when that is the
    account's already (its failures cleared), else a new one. The account keeps its newest
    `DEVICES_PER_ACCOUNT` browsers."""
    row = (
        session.scalar(
            select(KnownDevice).where(
                KnownDevice.token_sha256 == token_digest(token), KnownDevice.account_id == account_id
            )
        )
        if token and len(token) <= 100
        else None
    )
    if row is not None:
        row.last_used_at, row.failed_attempts = now, 0
        return str(token)
    token = secrets.token_urlsafe(32)
    session.add(
        KnownDevice(
            token_sha256=token_digest(token),
            account_id=account_id,
            created_at=now,
            last_used_at=now,
            failed_attempts=0,
        )
    )
    session.flush()
    kept = select(KnownDevice.id).where(KnownDevice.account_id == account_id)
    newest = list(session.scalars(kept.order_by(KnownDevice.last_used_at.desc(), KnownDevice.id.desc())))
    stale = now - dt.timedelta(days=DEVICE_DAYS)
    session.execute(
        delete(KnownDevice).where(
            KnownDevice.account_id == account_id,
            KnownDevice.id.not_in(newest[:DEVICES_PER_ACCOUNT]) | (KnownDevice.last_used_at <= stale),
        )
    )
    return token


def forget_devices(session: Session, account_id: int) -> int:
    """Forget every browser of an account (a new password: whoever had a browser of it starts over)."""
    result = session.execute(delete(KnownDevice).where(KnownDevice.account_id == account_id))
    return int(getattr(result, "rowcount", 0) or 0)
