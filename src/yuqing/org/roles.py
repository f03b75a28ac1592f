"""Roles people hold in the emergency plan, with the Chinese labels users see and type."""

from __future__ import annotations

import enum

from yuqing.org.models import OrgError


class Role(enum.StrEnum):
    MONITOR = "monitor"
    OFFICE = "office"
    DEPUTY_LEADER = "deputy_leader"
    CHIEF = "chief"
    LEADING_GROUP = "leading_group"
    LIAISON = "liaison"
    DUTY_OFFICER = "duty_officer"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.MONITOR: "监测员",
    Role.OFFICE: "办公室",
    Role.DEPUTY_LEADER: "分管领导",
    Role.CHIEF: "主要领导",
    Role.LEADING_GROUP: "领导小组成员",
    Role.LIAISON: "部门联络员",
    Role.DUTY_OFFICER: "值班员",
    Role.ADMIN: "管理员",
}


def parse_role(text: str) -> Role:
    """A role from its English code (`deputy_leader`) or its Chinese label (`分管领导`)."""
    cleaned = text.strip()
    lowered = cleaned.lower().replace("-", "_")
    for role in Role:
        if lowered == role.value or cleaned == role.label:
            return role
    choices = "、".join(f"{role.label}（{role.value}）" for role in Role)
    raise OrgError(f"未知角色 {text!r}，可选：{choices}")
