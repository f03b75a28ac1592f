"""Tables of the accounts domain (login accounts, login sessions, the audit log) and its errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.db import Base, JSONDocument, UTCDateTime


class AccountError(ValueError):
    """Base of the accounts domain's errors; messages are shown to users as they are."""


class AccountNotFound(AccountError, LookupError):
    """An account that does not exist."""


class PasswordPolicyError(AccountError):
    """A new password the policy refuses."""


class AuthenticationFailed(AccountError):
    """Wrong login name or password, or an account that may not log in. The message never says which;
    `reason` (for the audit log only) does: unknown_login, wrong_password, inactive or locked."""

    def __init__(self, message: str, *, reason: str, account_id: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.account_id = account_id


class AccountLocked(AuthenticationFailed):
    """Too many failed logins in a row: the account refuses every password until `until`. A login name
    no account has "locks" the same way (reason `unknown_login`, no account), so the answer does not
    tell which names are real."""

    def __init__(
        self, message: str, *, until: dt.datetime, account_id: int | None, reason: str = "locked"
    ) -> None:
        super().__init__(message, reason=reason, account_id=account_id)
        self.until = until


class LoginThrottled(AccountError):
    """Too many login attempts from one client address or at one login name in a short time: refused
    before any password is checked (HTTP 429). `retry_after` is in whole seconds."""

    def __init__(self, message: str, *, retry_after: int, scope: str, first: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.scope = scope  # "address", "login" or "hashing", for the audit log
        self.first = first  # the first refusal of a run: worth one audit line


class HashingBusy(LoginThrottled):
    """Every password-checking slot stayed busy for the whole wait: the server is flooded (HTTP 503)."""


class Account(Base):
    """The login of one person. Only an argon2id hash of the password is stored; accounts are disabled,
    never deleted, so the audit log keeps pointing at them."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The password is the shared demo password, so the login page may show it when demo_logins is on.
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored, so a copy of
    the database does not let anyone in."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class KnownDevice(Base):
    """A browser that has logged in to the account before (a "device cookie"): the cookie, sent only
    to the login page, holds a random token whose SHA-256 alone is stored. Its wrong passwords are
    counted here, not on the account, so a stranger guessing at the account (and locking it) does
    not lock its owner out of a browser they have used; after `login_max_failures` of its own in a
    row the browser is forgotten and counts like any other again."""

    __tablename__ = "known_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """One line of the audit log: who did what to which thing, when, from where. The person's name is
    copied so the line reads the same after the person is renamed."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    person_name: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
