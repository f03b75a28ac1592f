"""The case workflow as an explicit transition table with guards (PRODUCT.md §2.1).

Each allowed move names the roles that may make it and the guards that must hold. A guard is a
plain function of the case's facts that returns the reason it refuses, in Chinese, or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from yuqing.cases.models import STAGE_LABELS, Stage

__all__ = ["TRANSITIONS", "CaseFacts", "Transition", "WorkflowError", "check", "transition"]


class WorkflowError(ValueError):
    """A move the plan does not allow; the message says why and what to do."""


@dataclass(frozen=True)
class CaseFacts:
    """What the guards look at."""

    stage: str
    category: str | None
    released_statements: int
    summary: str | None
    open_tasks: int


Guard = Callable[[CaseFacts], str | None]


def needs_category(facts: CaseFacts) -> str | None:
    return None if facts.category else "尚未确定舆情类别：请先研判并设置类别（yuqing cases categorize）"


def needs_release(facts: CaseFacts) -> str | None:
    if facts.released_statements:
        return None
    return "尚未发布经审批的权威信息：处置阶段须先发布声明，才能转入跟踪"


def needs_summary(facts: CaseFacts) -> str | None:
    return (
        None
        if (facts.summary or "").strip()
        else "尚未填写总结评估：转入总结或结案前须先提交总结评估（--summary）"
    )


def needs_tasks_done(facts: CaseFacts) -> str | None:
    return None if facts.open_tasks == 0 else f"还有 {facts.open_tasks} 项部门任务未完成"


def needs_nothing_released(facts: CaseFacts) -> str | None:
    if not facts.released_statements:
        return None
    return "已发布权威信息的工单不能撤销：请转入跟踪，总结后结案"


@dataclass(frozen=True)
class Transition:
    source: Stage
    target: Stage
    roles: tuple[str, ...]
    guards: tuple[Guard, ...] = ()
    reopen: bool = False
    # 撤销: closed before any response, as a false alarm; only `cases.service.withdraw` makes it
    withdraw: bool = False


_WORKERS = ("monitor", "office", "duty_officer", "deputy_leader", "chief", "leading_group")
_OFFICE = ("office", "deputy_leader", "chief", "leading_group")
_LEADERS = ("deputy_leader", "chief", "leading_group")

TRANSITIONS: tuple[Transition, ...] = (
    Transition(Stage.DETECTED, Stage.REPORTED, _WORKERS),
    Transition(Stage.REPORTED, Stage.ASSESSED, _OFFICE, (needs_category,)),
    Transition(Stage.ASSESSED, Stage.DISPOSING, _OFFICE, (needs_category,)),
    Transition(Stage.DISPOSING, Stage.FOLLOWING, _OFFICE, (needs_release,)),
    Transition(Stage.FOLLOWING, Stage.SUMMARISED, _OFFICE, (needs_summary, needs_tasks_done)),
    Transition(Stage.SUMMARISED, Stage.CLOSED, _LEADERS, (needs_summary,)),
    # 舆情反复: a flare-up (or a person) sends a case back to 处置.
    Transition(Stage.FOLLOWING, Stage.DISPOSING, _OFFICE, reopen=True),
    Transition(Stage.SUMMARISED, Stage.DISPOSING, _OFFICE, reopen=True),
    Transition(Stage.CLOSED, Stage.DISPOSING, _OFFICE, reopen=True),
    # 撤销: a leader closes a case that needs no response (误报, not the unit's matter, a duplicate)
    # with a reason, before anything was released.
    *(
        Transition(stage, Stage.CLOSED, _LEADERS, (needs_nothing_released,), withdraw=True)
        for stage in (Stage.DETECTED, Stage.REPORTED, Stage.ASSESSED, Stage.DISPOSING)
    ),
)
_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


def transition(source: str, target: str) -> Transition:
    """The table's entry for a move, or a WorkflowError naming the moves that are allowed."""
    src, dst = Stage(source), Stage(target)
    found = _BY_PAIR.get((src, dst))
    if found is None:
        allowed = [STAGE_LABELS[t.target] for t in TRANSITIONS if t.source == src]
        raise WorkflowError(
            f"不能从「{STAGE_LABELS[src]}」转到「{STAGE_LABELS[dst]}」；"
            f"当前可转到：{'、'.join(allowed) or '无'}"
        )
    return found


def check(move: Transition, facts: CaseFacts) -> None:
    """Raise a WorkflowError with every guard that refuses."""
    refusals = [reason for guard in move.guards if (reason := guard(facts))]
    if refusals:
        raise WorkflowError("；".join(refusals))


def parse_stage(value: str) -> Stage:
    """A stage by its English name or its Chinese label (报告, 研判…)."""
    for stage in Stage:
        if value in (stage.value, STAGE_LABELS[stage]):
            return stage
    raise WorkflowError(
        f"未知的阶段 {value!r}；可选：{'、'.join(f'{v}（{k}）' for k, v in STAGE_LABELS.items())}"
    )
