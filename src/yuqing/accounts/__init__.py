"""The accounts domain: who may log in (accounts of people, argon2id password hashes, lockout), the
login sessions of browsers, and the audit log of who did what.

Rules in brief (details in docs/accounts.md and the module docstrings):
- one account per person; the password is never stored, only its argon2id hash;
- a password must pass the policy (length, not common, not the login name: `passwords.py`);
- repeated wrong passwords lock an account for a while, counted atomically in the database so parallel
  guesses get no more tries; an unknown login takes as long as a known one and locks the same way;
- login attempts are rate-limited per client address and per login name before any hashing, and
  hashing runs in a bounded pool (`guard.py`), so a flood of logins does not slow everyone down;
- a session lives as long as it is used (sliding expiry) and ends at logout, at a new password, or
  when the account is disabled;
- every login, failed login, logout and action of the console is a line in the audit log.
"""

from yuqing.accounts.audit import list_audit, record_audit
from yuqing.accounts.guard import LoginGuard
from yuqing.accounts.models import (
    Account,
    AccountError,
    AccountLocked,
    AccountNotFound,
    AuditEntry,
    AuthenticationFailed,
    HashingBusy,
    LoginSession,
    LoginThrottled,
    PasswordPolicyError,
)
from yuqing.accounts.passwords import check_password
from yuqing.accounts.service import (
    DEMO_PASSWORD,
    authenticate,
    create_account,
    create_demo_accounts,
    ensure_first_admin,
    find_account,
    list_accounts,
    set_active,
    set_password,
)
from yuqing.accounts.sessions import end_session, end_sessions, resume_session, start_session

__all__ = [
    "DEMO_PASSWORD",
    "Account",
    "AccountError",
    "AccountLocked",
    "AccountNotFound",
    "AuditEntry",
    "AuthenticationFailed",
    "HashingBusy",
    "LoginGuard",
    "LoginSession",
    "LoginThrottled",
    "PasswordPolicyError",
    "authenticate",
    "check_password",
    "create_account",
    "create_demo_accounts",
    "end_session",
    "end_sessions",
    "ensure_first_admin",
    "find_account",
    "list_accounts",
    "list_audit",
    "record_audit",
    "resume_session",
    "set_active",
    "set_password",
    "start_session",
]
