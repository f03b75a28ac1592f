"""The organisation domain: units in a tree, people, their roles and contact channels, the duty roster.

Rules in brief (details in docs/organisation.md and the module docstrings):
- an event that crosses units goes to their common parent;
- a role held at a unit holds at every unit below it, and 管理员 holds every role;
- whom to ask for a role is the nearest holder, looking up the tree;
- overrides win over rotations, 24-hour duty stretches shifts around the clock, and a unit with nobody
  on duty falls back to its parent's roster.
"""

from yuqing.org.duty import (
    DutyAnswer,
    DutyError,
    Gap,
    Shift,
    add_override,
    duty_24h_periods,
    duty_at,
    end_24h_duty,
    gaps,
    office_hours,
    on_duty,
    set_rotation,
    shifts,
    start_24h_duty,
    swap,
    undo_swap,
)
from yuqing.org.models import (
    ContactChannel,
    ContactKind,
    DutyHours,
    NotFound,
    OrgError,
    Person,
    ShiftLength,
    Unit,
    UnitKind,
)
from yuqing.org.roles import Role, parse_role
from yuqing.org.service import (
    add_contact,
    add_person,
    ancestors,
    common_parent,
    contacts_of,
    create_unit,
    delete_unit,
    find_person,
    find_unit,
    grant_role,
    has_role,
    people_with_role,
    revoke_role,
    unit_for_regions,
    update_unit,
)

__all__ = [
    "ContactChannel",
    "ContactKind",
    "DutyAnswer",
    "DutyError",
    "DutyHours",
    "Gap",
    "NotFound",
    "OrgError",
    "Person",
    "Role",
    "Shift",
    "ShiftLength",
    "Unit",
    "UnitKind",
    "add_contact",
    "add_override",
    "add_person",
    "ancestors",
    "common_parent",
    "contacts_of",
    "create_unit",
    "delete_unit",
    "duty_24h_periods",
    "duty_at",
    "end_24h_duty",
    "find_person",
    "find_unit",
    "gaps",
    "grant_role",
    "has_role",
    "office_hours",
    "on_duty",
    "parse_role",
    "people_with_role",
    "revoke_role",
    "set_rotation",
    "shifts",
    "start_24h_duty",
    "swap",
    "undo_swap",
    "unit_for_regions",
    "update_unit",
]
