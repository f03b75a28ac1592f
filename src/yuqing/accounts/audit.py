"""The audit log: one line per login, failed login, logout and action of the console or of
`yuqing users`, with who, when, what, on which thing and from where."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.accounts.models import Account, AuditEntry
from yuqing.accounts.sessions import USER_AGENT_MAX
from yuqing.org.models import Person
from yuqing.runtime import Runtime


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
