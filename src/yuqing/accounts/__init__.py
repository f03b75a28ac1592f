"""The accounts domain: who may log in (accounts of people, argon2id password hashes, lockout), the
login sessions of browsers, and the audit log of who did what.

Rules in brief (details in docs/accounts.md and the module docstrings):
- one account per person; the password is never stored, only its argon2id hash;
- repeated wrong passwords lock an account for a while; an unknown login takes as long as a known one;
- a session lives as long as it is used (sliding expiry) and ends at logout, at a new password, or
  when the account is disabled;
- every login, failed login, logout and action of the console is a line in the audit log.
"""

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
from yuqing.accounts.service import (
    DEMO_PASSWORD,
    authenticate,
    check_password,
    create_account,
    create_demo_accounts,
    end_session,
    end_sessions,
    ensure_first_admin,
    find_account,
    list_accounts,
    list_audit,
    record_audit,
    resume_session,
    set_active,
    set_password,
    start_session,
)

__all__ = [
    "DEMO_PASSWORD",
    "Account",
    "AccountError",
    "AccountLocked",
    "AccountNotFound",
    "AuditEntry",
    "AuthenticationFailed",
    "LoginSession",
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
