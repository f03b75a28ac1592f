"""Telling people: one message to each person over in-app and every contact channel they have.

Every notice goes through the durable outbox (`yuqing.notify.outbox`) in the caller's
transaction, keyed so that the same notice to the same person over the same channel is queued
once, whatever retries, restarts or second sweeps happen.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from yuqing.notify.messages import Message
from yuqing.notify.outbox import enqueue
from yuqing.org.models import ContactChannel, Person
from yuqing.org.service import contacts_of

__all__ = ["tell"]

# Contact kinds the outbox can deliver; phone and SMS are for people to call (logged by hand).
DELIVERABLE = ("email", "dingtalk", "wecom", "feishu")


def tell(
    session: Session,
    people: Iterable[Person],
    message: Message,
    *,
    key: str,
    subject: tuple[str, int],
    contacts: dict[int, list[ContactChannel]] | None = None,
) -> int:
    """Queue `message` for each person (in-app always, plus their enabled channels); returns how
    many deliveries were queued. `key` names the occasion, e.g. ``alert:12:level:1``; `contacts`
    is an optional cache of contact lookups shared by the calls of one sweep."""
    queued = 0
    seen: set[int] = set()
    for person in people:
        if person.id in seen or not person.active:
            continue
        seen.add(person.id)
        enqueue(
            session,
            "in_app",
            str(person.id),
            message,
            dedup_key=f"{key}:person:{person.id}:in_app",
            person_id=person.id,
            subject=subject,
        )
        queued += 1
        if contacts is None:
            own = contacts_of(session, person.id)
        else:  # a sweep telling many people shares one lookup per person
            own = (
                contacts[person.id]
                if person.id in contacts
                else contacts.setdefault(person.id, contacts_of(session, person.id))
            )
        for contact in own:
            if contact.kind not in DELIVERABLE:
                continue
            enqueue(
                session,
                contact.kind,
                contact.address,
                message,
                dedup_key=f"{key}:person:{person.id}:{contact.kind}:{contact.id}",
                person_id=person.id,
                subject=subject,
            )
            queued += 1
    return queued
