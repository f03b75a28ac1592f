"""Service functions of the accounts domain: accounts and passwords, login sessions, the audit log.

Functions take a Session and leave committing to the caller (`yuqing.db.transaction`), except
`authenticate`, `change_password` and `list_audit`, which take the Runtime: a failed login (or a
wrong current password) must be counted even though the caller goes on to raise. Rules:
- passwords are stored as argon2id hashes only, rehashed at login when the parameters change;
- a password has at least 8 characters and is not the login name;
- after `login_max_failures` wrong passwords in a row an account refuses every password for
  `login_lockout_minutes`; an unknown login costs the same hashing time as a known one;
- a session cookie carries a random token whose SHA-256 alone is stored; sessions expire
  `session_hours` after the last request; a new password or a disabled account ends them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yuqing.accounts.models import (
    Account,
    AccountError,
    AccountLocked,
    AccountNotFound,
    AuditEntry,
    AuthenticationFailed,
    LoginSession,
    PasswordPolicyError,
)
from yuqing.db import transaction, utcnow
from yuqing.org import service as org
from yuqing.org.models import Person, RoleAssignment, Unit
from yuqing.org.roles import Role
from yuqing.runtime import Runtime

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256  # hashing a megabyte "password" is only work for an attacker to cause
ADMIN_LOGIN = "admin"
ADMIN_NAME = "管理员"
DEFAULT_UNIT_NAME = "本单位"
# The one password of every demo account (`demo=True`); the login page shows it when demo_logins is on.
DEMO_PASSWORD = "yuqing-demo"  # noqa: S105 -- shown on the demo login page by design
WRONG_CREDENTIALS = "用户名或密码错误"
# Sliding expiry is written at most this often, so a busy page does not write on every request.
SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)
USER_AGENT_MAX = 300

# argon2id with the RFC 9106 low-memory profile (t=3, m=64 MiB, p=4), the library's default.
_hasher = PasswordHasher()


# ---- passwords ----------------------------------------------------------------------------------


def check_password(password: str, *, login: str | None = None) -> None:
    """Refuse a password the policy does not allow, saying what to change."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordPolicyError(f"密码至少需要 {PASSWORD_MIN_LENGTH} 个字符")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordPolicyError(f"密码不能超过 {PASSWORD_MAX_LENGTH} 个字符")
    if not password.strip():
        raise PasswordPolicyError("密码不能全是空格")
    if len(set(password)) < 3:
        raise PasswordPolicyError("密码过于简单：至少要有 3 个不同的字符")
    if login and password.strip().lower() == login.strip().lower():
        raise PasswordPolicyError("密码不能与登录名相同")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    """A random password for a new administrator (16 URL-safe characters, 96 bits)."""
    return secrets.token_urlsafe(12)


def _spend_hashing_time(password: str) -> None:
    """As long as checking a password takes (one argon2 run with the same parameters), so a refusal
    of an unknown or locked login is not quicker than that of a wrong password."""
    _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# ---- accounts -----------------------------------------------------------------------------------


def _clean_login(login: str) -> str:
    cleaned = login.strip()
    if not cleaned:
        raise AccountError("登录名不能为空")
    if len(cleaned) > 100:
        raise AccountError("登录名不能超过 100 个字符")
    if any(ch.isspace() or not ch.isprintable() for ch in cleaned):
        raise AccountError(f"登录名不能包含空格或控制字符：{cleaned!r}")
    return cleaned


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise AccountNotFound(f"找不到账户 {account_id}")
    return account


def find_account(session: Session, login: str) -> Account:
    """An account by its login name."""
    account = session.scalar(select(Account).where(Account.login == login.strip()))
    if account is None:
        raise AccountNotFound(f"找不到账户 {login}（yuqing users list 查看）")
    return account


def account_of_person(session: Session, person_id: int) -> Account | None:
    return session.scalar(select(Account).where(Account.person_id == person_id))


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.id)))


def create_account(
    session: Session,
    person_id: int,
    login: str,
    password: str,
    *,
    now: dt.datetime | None = None,
    demo: bool = False,
) -> Account:
    """An account for a person who has none. The person's login name becomes the account's, so
    `yuqing people show <login>` finds the same person."""
    person = org.get_person(session, person_id)
    existing = account_of_person(session, person.id)
    if existing is not None:
        raise AccountError(f"{person.name} 已有账户 {existing.login}")
    cleaned = _clean_login(login)
    if session.scalar(select(Account.id).where(Account.login == cleaned)) is not None:
        raise AccountError(f"登录名 {cleaned} 已被占用")
    check_password(password, login=cleaned)
    if person.login != cleaned:
        org.update_person(session, person.id, login=cleaned)
    moment = now or utcnow()
    account = Account(
        person_id=person.id,
        login=cleaned,
        password_hash=hash_password(password),
        active=True,
        demo=demo,
        failed_attempts=0,
        created_at=moment,
        password_changed_at=moment,
    )
    session.add(account)
    session.flush()
    return account


def set_password(
    session: Session,
    account_id: int,
    password: str,
    *,
    now: dt.datetime | None = None,
    keep_session_id: int | None = None,
) -> Account:
    """A new password; ends every session of the account except `keep_session_id` (the browser that
    changed it) and lifts a lockout."""
    account = get_account(session, account_id)
    check_password(password, login=account.login)
    account.password_hash = hash_password(password)
    account.password_changed_at = now or utcnow()
    account.demo = False
    account.failed_attempts = 0
    account.locked_until = None
    end_sessions(session, account.id, except_id=keep_session_id)
    session.flush()
    return account


def change_password(
    rt: Runtime,
    account_id: int,
    current: str,
    new: str,
    *,
    keep_token: str | None = None,
    via: str = "web",
    ip: str | None = None,
    user_agent: str | None = None,
) -> Account:
    """A person changes their own password. The current one must be right: a wrong one counts
    towards the lockout like a failed login, so a borrowed session cannot be used to guess it. The
    new one must pass the policy and differ from the current one. Every other session of the account
    ends (the one of `keep_token`, the browser that asked, stays). One audit line either way:
    `password_changed`, or `password_change_failed` with the reason; a refusal raises AccountError
    (AuthenticationFailed for a wrong current password, AccountLocked while locked out)."""
    now = rt.clock()
    failure: AccountError | None = None
    reason = ""
    with transaction(rt.sessions) as session:
        account = get_account(session, account_id)
        if account.locked_until is not None and account.locked_until > now:
            _spend_hashing_time(current)
            failure, reason = _locked(account, account.locked_until, now), "locked"
        elif not _verify(account.password_hash, current):
            account.failed_attempts += 1
            reason = "wrong_password"
            failure = AuthenticationFailed("当前密码不正确", reason=reason, account_id=account.id)
            if account.failed_attempts >= rt.settings.login_max_failures:
                account.failed_attempts = 0
                account.locked_until = now + dt.timedelta(minutes=rt.settings.login_lockout_minutes)
                failure = _locked(account, account.locked_until, now)
        else:
            account.failed_attempts = 0
            try:
                check_password(new, login=account.login)
                if new == current:
                    raise PasswordPolicyError("新密码不能与当前密码相同")
            except PasswordPolicyError as exc:
                failure, reason = exc, "policy"
        detail: dict[str, Any] = {"via": via}
        if failure is not None:
            detail.update({"reason": reason, "refused": str(failure)})
        else:
            kept = None
            if keep_token:
                row = session.scalar(
                    select(LoginSession).where(LoginSession.token_sha256 == token_digest(keep_token))
                )
                kept = row.id if row is not None and row.account_id == account.id else None
            set_password(session, account.id, new, now=now, keep_session_id=kept)
        record_audit(
            session,
            at=now,
            action="password_change_failed" if failure is not None else "password_changed",
            target=account.login,
            account_id=account.id,
            detail=detail,
            ip=ip,
            user_agent=user_agent,
        )
    if failure is not None:
        raise failure
    return account


def set_active(session: Session, account_id: int, active: bool) -> Account:
    """Disable an account (its sessions end at once) or enable it again (lifting a lockout)."""
    account = get_account(session, account_id)
    account.active = active
    if active:
        account.failed_attempts = 0
        account.locked_until = None
    else:
        end_sessions(session, account.id)
    session.flush()
    return account


def _minutes_left(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _locked(account: Account, until: dt.datetime, now: dt.datetime) -> AccountLocked:
    return AccountLocked(
        f"登录失败次数过多，账户已锁定，请 {_minutes_left(until, now)} 分钟后再试"
        f"（或请管理员解锁：yuqing users enable {account.login}）",
        until=until,
        account_id=account.id,
    )


def _failed(reason: str, account_id: int | None = None) -> AuthenticationFailed:
    return AuthenticationFailed(WRONG_CREDENTIALS, reason=reason, account_id=account_id)


def authenticate(rt: Runtime, login: str, password: str) -> Account:
    """The account these credentials open, or AuthenticationFailed (AccountLocked when locked out).

    Every path hashes once, so the time taken does not tell a known login from an unknown one."""
    now = rt.clock()
    failure: AuthenticationFailed | None = None
    with transaction(rt.sessions) as session:
        account = session.scalar(select(Account).where(Account.login == login.strip()))
        if account is None:
            _spend_hashing_time(password)
            failure = _failed("unknown_login")
        elif account.locked_until is not None and account.locked_until > now:
            _spend_hashing_time(password)
            failure = _locked(account, account.locked_until, now)
        elif not _verify(account.password_hash, password):
            account.failed_attempts += 1
            if account.failed_attempts >= rt.settings.login_max_failures:
                account.failed_attempts = 0
                account.locked_until = now + dt.timedelta(minutes=rt.settings.login_lockout_minutes)
                failure = _locked(account, account.locked_until, now)
            else:
                failure = _failed("wrong_password", account.id)
        else:
            person = session.get(Person, account.person_id)
            if not account.active or person is None or not person.active:
                failure = _failed("inactive", account.id)
            else:
                account.failed_attempts = 0
                account.locked_until = None
                account.last_login_at = now
                if _hasher.check_needs_rehash(account.password_hash):
                    account.password_hash = hash_password(password)
    if failure is not None:
        raise failure
    assert account is not None
    return account


def ensure_first_admin(
    session: Session, *, password: str | None = None, now: dt.datetime | None = None
) -> tuple[Account, str | None] | None:
    """The first administrator account (login `admin`) when no account holds 管理员 yet; None when one
    does. Uses a 管理员 person without an account if there is one, else creates one in the first root
    unit (creating the unit 本单位 when there is no unit). Returns the account and the generated
    password when none was given."""
    held = select(Account.id).join(RoleAssignment, RoleAssignment.person_id == Account.person_id)
    if session.scalar(held.where(RoleAssignment.role == Role.ADMIN.value).limit(1)) is not None:
        return None
    person = session.scalar(
        select(Person)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .outerjoin(Account, Account.person_id == Person.id)
        .where(
            RoleAssignment.role == Role.ADMIN.value,
            Person.active.is_(True),
            Account.id.is_(None),
            (Person.login.is_(None)) | (Person.login == ADMIN_LOGIN),
        )
        .order_by(Person.id)
        .limit(1)
    )
    if person is None:
        root = session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1))
        if root is None:
            root = org.create_unit(session, DEFAULT_UNIT_NAME)
        person = org.add_person(session, ADMIN_NAME, root.id)
        org.grant_role(session, person.id, Role.ADMIN, root.id)
    generated = None if password else generate_password()
    account = create_account(session, person.id, ADMIN_LOGIN, password or generated or "", now=now)
    return account, generated


def create_demo_accounts(session: Session, *, now: dt.datetime | None = None) -> list[Account]:
    """Accounts with the demo password for every active person who holds a role and has no account:
    login = the person's login name, else `admin` for the first 管理员, else the person's name (with
    the id when the name is taken)."""
    people = session.scalars(
        select(Person)
        .outerjoin(Account, Account.person_id == Person.id)
        .where(Person.active.is_(True), Account.id.is_(None))
        .order_by(Person.id)
    )
    created: list[Account] = []
    for person in list(people):
        roles = {a.role for a in org.roles_of(session, person.id)}
        if not roles:
            continue
        taken = set(session.scalars(select(Account.login))) | set(
            session.scalars(select(Person.login).where(Person.login.is_not(None), Person.id != person.id))
        )
        login = person.login
        if login is None:
            login = ADMIN_LOGIN if Role.ADMIN.value in roles and ADMIN_LOGIN not in taken else person.name
            if login in taken:
                login = f"{person.name}{person.id}"
        created.append(create_account(session, person.id, login, DEMO_PASSWORD, now=now, demo=True))
    return created


def demo_accounts(session: Session) -> list[tuple[Account, Person]]:
    """The active accounts whose password is still the demo password, with their people."""
    rows = session.execute(
        select(Account, Person)
        .join(Person, Person.id == Account.person_id)
        .where(Account.demo.is_(True), Account.active.is_(True), Person.active.is_(True))
        .order_by(Account.id)
    )
    return [(account, person) for account, person in rows]


def account_view(session: Session, account: Account, *, now: dt.datetime | None = None) -> dict[str, Any]:
    moment = now or utcnow()
    person = org.get_person(session, account.person_id)
    unit = org.get_unit(session, person.unit_id)
    roles = []
    for assignment in org.roles_of(session, person.id):
        role = Role(assignment.role)
        at = org.get_unit(session, assignment.unit_id).name
        roles.append({"role": role.value, "label": role.label, "unit_id": assignment.unit_id, "unit": at})
    return {
        "id": account.id,
        "login": account.login,
        "person_id": person.id,
        "name": person.name,
        "unit_id": unit.id,
        "unit": unit.name,
        "roles": roles,
        "active": account.active and person.active,
        "locked": account.locked_until is not None and account.locked_until > moment,
        "locked_until": account.locked_until.isoformat() if account.locked_until else None,
        "created_at": account.created_at.isoformat(),
        "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
        "password_changed_at": account.password_changed_at.isoformat(),
    }


# ---- sessions -----------------------------------------------------------------------------------


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


# ---- audit log ----------------------------------------------------------------------------------


def record_audit(
    session: Session,
    *,
    at: dt.datetime,
    action: str,
    target: str = "",
    account_id: int | None = None,
    person_name: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> AuditEntry:
    """One line in the audit log."""
    if account_id is not None and person_name is None:
        account = session.get(Account, account_id)
        person = session.get(Person, account.person_id) if account is not None else None
        person_name = person.name if person is not None else None
    entry = AuditEntry(
        at=at,
        account_id=account_id,
        person_name=person_name,
        action=action[:50],
        target=target[:300],
        detail=detail or {},
        ip=(ip or "")[:64] or None,
        user_agent=(user_agent or "")[:USER_AGENT_MAX] or None,
    )
    session.add(entry)
    session.flush()
    return entry


def list_audit(
    rt: Runtime, limit: int = 100, *, action: str | None = None, account_id: int | None = None
) -> list[AuditEntry]:
    """The newest lines of the audit log first, optionally of one action or one account."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if account_id is not None:
        query = query.where(AuditEntry.account_id == account_id)
    with rt.sessions() as session:
        return list(session.scalars(query))


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "account_id": entry.account_id,
        "person_name": entry.person_name,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
    }
