"""Service functions of the accounts domain: accounts and passwords, login sessions, the audit log.

Functions take a Session and leave committing to the caller (`yuqing.db.transaction`), except
`authenticate`, `change_password` and `list_audit`, which take the Runtime: a failed login (or a
wrong current password) must be counted even though the caller goes on to raise. Rules:
- passwords are stored as argon2id hashes only, rehashed at login when the parameters change;
- a new password must pass the policy of `yuqing.accounts.passwords`;
- after `login_max_failures` wrong passwords in a row an account refuses every password for
  `login_lockout_minutes`. Each attempt is counted in the database *before* its password is checked,
  by one conditional UPDATE, so parallel guesses cannot all read the same count: no more than
  `login_max_failures` checks happen before the lock, however many guesses arrive at once;
- an unknown or locked login costs the same hashing time as a known one (a check against a dummy
  hash with the same parameters);
- through a `LoginGuard` (the console passes one): attempts are rate-limited per client address and
  per login name before any hashing, hashing runs in a bounded pool, and unknown login names lock
  like real ones;
- a session cookie carries a random token whose SHA-256 alone is stored; sessions expire
  `session_hours` after the last request; a new password or a disabled account ends them;
- a browser that has logged in before carries a device token (`remember_device`): its own wrong
  passwords count on it, and the account's lockout and the login name's rate limit do not apply to
  it, so a stranger guessing at a login name cannot keep its owner out.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from yuqing.accounts.audit import audit_view as audit_view
from yuqing.accounts.audit import list_audit as list_audit
from yuqing.accounts.audit import record_audit as record_audit
from yuqing.accounts.guard import LoginGuard
from yuqing.accounts.models import (
    Account,
    AccountError,
    AccountLocked,
    AccountNotFound,
    AuthenticationFailed,
    KnownDevice,
    LoginSession,
    PasswordPolicyError,
)
from yuqing.accounts.passwords import PASSWORD_MAX_LENGTH as PASSWORD_MAX_LENGTH
from yuqing.accounts.passwords import PASSWORD_MIN_LENGTH as PASSWORD_MIN_LENGTH
from yuqing.accounts.passwords import check_password as check_password
from yuqing.accounts.passwords import generate_password
from yuqing.accounts.sessions import end_session as end_session
from yuqing.accounts.sessions import end_sessions as end_sessions
from yuqing.accounts.sessions import forget_devices as forget_devices
from yuqing.accounts.sessions import known_device
from yuqing.accounts.sessions import remember_device as remember_device
from yuqing.accounts.sessions import resume_session as resume_session
from yuqing.accounts.sessions import start_session as start_session
from yuqing.accounts.sessions import token_digest as token_digest
from yuqing.db import transaction, utcnow
from yuqing.org import service as org
from yuqing.org.models import Person, RoleAssignment, Unit
from yuqing.org.roles import Role
from yuqing.runtime import Runtime

ADMIN_LOGIN = "admin"
ADMIN_NAME = "管理员"
DEFAULT_UNIT_NAME = "本单位"
# The one password of every demo account (`demo=True`); the login page shows it when demo_logins is on.
DEMO_PASSWORD = "yuqing-demo"  # noqa: S105 -- shown on the demo login page by design
WRONG_CREDENTIALS = "用户名或密码错误"
DEMO_PASSWORD_REFUSED = (
    "该账号仍使用公开的演示密码，只能在演示模式（yuqing demo）下登录。"  # noqa: S105 (a message)
    "请管理员用 yuqing users passwd 为其设置新密码后再登录"
)

# argon2id with the RFC 9106 low-memory profile (t=3, m=64 MiB, p=4), the library's default.
_hasher = PasswordHasher()


# ---- passwords ----------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# Hashes of a random password, one per set of hasher parameters, to check against when there is no
# real hash to check (an unknown or locked login): same parameters, same time.
_dummy_hashes: dict[tuple[object, ...], str] = {}


def _dummy_hash() -> str:
    hasher = _hasher
    key = (hasher.type, hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len)
    found = _dummy_hashes.get(key)
    if found is None:
        found = _dummy_hashes[key] = hasher.hash(secrets.token_urlsafe(16))
    return found


def _spend_hashing_time(password: str) -> None:
    """As long as checking a password takes (one argon2 verification against a dummy hash with the
    same parameters), so a refusal of an unknown or locked login is not quicker than that of a wrong
    password."""
    _verify(_dummy_hash(), password)


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
    guard: LoginGuard | None = None,
) -> Account:
    """A person changes their own password. The current one must be right: a wrong one counts
    towards the lockout like a failed login, so a borrowed session cannot be used to guess it. The
    new one must pass the policy and differ from the current one. Every other session of the account
    ends (the one of `keep_token`, the browser that asked, stays). One audit line either way:
    `password_changed`, or `password_change_failed` with the reason; a refusal raises AccountError
    (AuthenticationFailed for a wrong current password, AccountLocked while locked out). With a
    `guard`, the check of the current password waits for a slot of its hashing pool."""
    now = rt.clock()
    with rt.sessions() as session:
        found = get_account(session, account_id)
    failure: AccountError | None = None
    reason = ""
    with _hashing_slot(guard):
        outcome = _check_account_password(rt, found, current, now)
    if outcome.locked_until is not None:
        failure, reason = _locked(found.login, outcome.locked_until, now, account_id=found.id), "locked"
    elif not outcome.right:
        reason = "wrong_password"
        failure = AuthenticationFailed("当前密码不正确", reason=reason, account_id=found.id)
    with transaction(rt.sessions) as session:
        if failure is None and not _clear_failures(session, found.id, now):
            until = session.scalar(select(Account.locked_until).where(Account.id == found.id)) or now
            failure, reason = _locked(found.login, until, now, account_id=found.id), "locked"
        if failure is None:
            try:
                check_password(new, login=found.login)
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
                kept = row.id if row is not None and row.account_id == found.id else None
            set_password(session, found.id, new, now=now, keep_session_id=kept)
        record_audit(
            session,
            at=now,
            action="password_change_failed" if failure is not None else "password_changed",
            target=found.login,
            account_id=found.id,
            detail=detail,
            ip=ip,
            user_agent=user_agent,
        )
        account = get_account(session, found.id)
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
        forget_devices(session, account.id)
    session.flush()
    return account


def _minutes_left(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _locked(
    login: str, until: dt.datetime, now: dt.datetime, *, account_id: int | None, reason: str = "locked"
) -> AccountLocked:
    """The lockout answer; word for word the same for a real account and for an unknown login name."""
    return AccountLocked(
        f"登录失败次数过多，账户已锁定，请 {_minutes_left(until, now)} 分钟后再试"
        f"（或请管理员解锁：yuqing users enable {login}）。在本人此前登录过的浏览器上仍可照常登录",
        until=until,
        account_id=account_id,
        reason=reason,
    )


def _failed(reason: str, account_id: int | None = None) -> AuthenticationFailed:
    return AuthenticationFailed(WRONG_CREDENTIALS, reason=reason, account_id=account_id)


def _hashing_slot(guard: LoginGuard | None) -> AbstractContextManager[None]:
    return guard.pool.slot() if guard is not None else nullcontext()


def _unlocked(now: dt.datetime) -> ColumnElement[bool]:
    return or_(Account.locked_until.is_(None), Account.locked_until <= now)


@dataclass(frozen=True)
class _Outcome:
    """What one counted check of an account's password found: right or not, and, when the account
    is (or became) locked, until when."""

    right: bool
    locked_until: dt.datetime | None = None


def _claim_attempt(rt: Runtime, account_id: int, now: dt.datetime) -> tuple[int | None, dt.datetime | None]:
    """Count one more attempt at an account's password before it is checked, in one conditional
    UPDATE ... RETURNING, atomic on SQLite and PostgreSQL alike: the attempt's number, or None (and
    the lock's end) when the account is locked or every allowed attempt is already taken, in which
    case it is locked now if it was not yet."""
    settings = rt.settings
    with transaction(rt.sessions) as session:
        number = session.execute(
            update(Account)
            .where(
                Account.id == account_id,
                Account.failed_attempts < settings.login_max_failures,
                _unlocked(now),
            )
            .values(failed_attempts=Account.failed_attempts + 1)
            .returning(Account.failed_attempts)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if number is not None:
            return number, None
        session.execute(
            update(Account)
            .where(
                Account.id == account_id,
                Account.failed_attempts >= settings.login_max_failures,
                _unlocked(now),
            )
            .values(
                locked_until=now + dt.timedelta(minutes=settings.login_lockout_minutes), failed_attempts=0
            )
            .execution_options(synchronize_session=False)
        )
        until = session.scalar(select(Account.locked_until).where(Account.id == account_id))
    return None, until or now


def _lock_after(rt: Runtime, account_id: int, attempt: int, now: dt.datetime) -> dt.datetime | None:
    """A wrong password was attempt number `attempt`: the last one allowed locks the account."""
    if attempt < rt.settings.login_max_failures:
        return None
    until = now + dt.timedelta(minutes=rt.settings.login_lockout_minutes)
    with transaction(rt.sessions) as session:
        session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(locked_until=until, failed_attempts=0)
            .execution_options(synchronize_session=False)
        )
    return until


def _check_account_password(rt: Runtime, account: Account, password: str, now: dt.datetime) -> _Outcome:
    """One counted check of an account's password (a locked account costs a check of the dummy
    hash). The caller clears the count with `_clear_failures` when it is right."""
    attempt, until = _claim_attempt(rt, account.id, now)
    if attempt is None:
        _spend_hashing_time(password)
        return _Outcome(right=False, locked_until=until)
    if _verify(account.password_hash, password):
        return _Outcome(right=True)
    return _Outcome(right=False, locked_until=_lock_after(rt, account.id, attempt, now))


def _clear_failures(session: Session, account_id: int, now: dt.datetime) -> bool:
    """The right password: the count of failures starts again. False when the account was locked
    meanwhile (by parallel wrong guesses); then the right password does not open it either."""
    cleared = session.execute(
        update(Account)
        .where(Account.id == account_id, _unlocked(now))
        .values(failed_attempts=0)
        .returning(Account.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return cleared is not None


def authenticate(
    rt: Runtime,
    login: str,
    password: str,
    *,
    guard: LoginGuard | None = None,
    address: str | None = None,
    device: str | None = None,
) -> Account:
    """The account these credentials open, or AuthenticationFailed (AccountLocked when locked out).

    Every path checks one argon2 hash, so the time taken does not tell a known login from an unknown
    one. With a `guard` (the console's), the attempt is first rate-limited by client `address` and
    login name (LoginThrottled, before any hashing), the check waits for a slot of the hashing pool
    (HashingBusy), and unknown login names lock after as many failures as real ones.

    `device` is the browser's device token (`remember_device`): from a browser that has logged in
    to this account before, neither the account's lockout nor the login name's rate limit applies
    (a stranger's guesses caused them); its own failures are counted on it instead."""
    now = rt.clock()
    name = login.strip()[:100]  # no login is longer; a longer one is unknown anyway
    with rt.sessions() as session:
        known = known_device(session, device, name, now=now)
        known_id = known.id if known is not None else None
    if guard is not None:
        guard.admit(address, name, now, known_device=known_id is not None)
    with _hashing_slot(guard):
        account = _authenticate(rt, name, password, now, guard, known_id)
    if guard is not None:
        guard.succeeded(address, name, known_device=known_id is not None)
    return account


def _authenticate(
    rt: Runtime, name: str, password: str, now: dt.datetime, guard: LoginGuard | None, known_id: int | None
) -> Account:
    with rt.sessions() as session:
        found = session.scalar(select(Account).where(Account.login == name))
    if found is not None and known_id is not None:
        return _authenticate_known(rt, found, password, now, known_id)
    if found is None:
        _spend_hashing_time(password)
        until = guard.unknown_login_failed(name, now) if guard is not None else None
        if until is not None:
            raise _locked(name, until, now, account_id=None, reason="unknown_login")
        raise _failed("unknown_login")
    outcome = _check_account_password(rt, found, password, now)
    if outcome.locked_until is not None:
        raise _locked(found.login, outcome.locked_until, now, account_id=found.id)
    if not outcome.right:
        raise _failed("wrong_password", found.id)
    if found.demo and not rt.settings.demo_logins:
        # the demo password is printed in the README and on the demo's login page: a database the
        # demo built and then served for real must not open with it, the administrator's least
        raise AuthenticationFailed(DEMO_PASSWORD_REFUSED, reason="demo_password", account_id=found.id)
    rehashed = hash_password(password) if _hasher.check_needs_rehash(found.password_hash) else None
    failure: AuthenticationFailed | None = None
    with transaction(rt.sessions) as session:
        if not _clear_failures(session, found.id, now):
            until = session.scalar(select(Account.locked_until).where(Account.id == found.id)) or now
            failure = _locked(found.login, until, now, account_id=found.id)
        else:
            account = get_account(session, found.id)
            person = session.get(Person, account.person_id)
            if not account.active or person is None or not person.active:
                failure = _failed("inactive", account.id)
            else:
                account.last_login_at = now
                if rehashed is not None:
                    account.password_hash = rehashed
    if failure is not None:
        raise failure
    return account


def _authenticate_known(
    rt: Runtime, found: Account, password: str, now: dt.datetime, device_id: int
) -> Account:
    """The password from a browser that has logged in to the account before: counted on the
    browser, which is forgotten after `login_max_failures` wrong ones in a row; the account's
    lockout (another's guesses) does not apply."""
    with transaction(rt.sessions) as session:
        # counted before the check, in one UPDATE, like an account's attempts
        claimed = session.execute(
            update(KnownDevice)
            .where(KnownDevice.id == device_id, KnownDevice.failed_attempts < rt.settings.login_max_failures)
            .values(failed_attempts=KnownDevice.failed_attempts + 1)
            .returning(KnownDevice.failed_attempts)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
    if claimed is None:  # its allowed attempts are taken (parallel guesses): an unknown browser now
        _spend_hashing_time(password)
        raise _failed("wrong_password", found.id)
    if not _verify(found.password_hash, password):
        if claimed >= rt.settings.login_max_failures:
            with transaction(rt.sessions) as session:
                session.execute(delete(KnownDevice).where(KnownDevice.id == device_id))
        raise _failed("wrong_password", found.id)
    rehashed = hash_password(password) if _hasher.check_needs_rehash(found.password_hash) else None
    with transaction(rt.sessions) as session:
        account = get_account(session, found.id)
        person = session.get(Person, account.person_id)
        if not account.active or person is None or not person.active:
            raise _failed("inactive", account.id)
        if account.demo and not rt.settings.demo_logins:
            raise AuthenticationFailed(DEMO_PASSWORD_REFUSED, reason="demo_password", account_id=account.id)
        account.last_login_at = now
        if rehashed is not None:
            account.password_hash = rehashed
        session.execute(update(KnownDevice).where(KnownDevice.id == device_id).values(failed_attempts=0))
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
    generated = None if password else generate_password(ADMIN_LOGIN)
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
