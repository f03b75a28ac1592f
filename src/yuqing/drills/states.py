"""The drill's state machine: an explicit table of which action leads from which state where."""

from __future__ import annotations

from yuqing.drills.errors import DrillStateError
from yuqing.drills.models import STATE_LABELS, DrillState

S = DrillState
# (state, action) → the state it leads to.
TRANSITIONS: dict[tuple[DrillState, str], DrillState] = {
    (S.CREATED, "start"): S.RUNNING,
    (S.RUNNING, "pause"): S.PAUSED,
    (S.PAUSED, "resume"): S.RUNNING,
    (S.CREATED, "stop"): S.STOPPED,
    (S.RUNNING, "stop"): S.STOPPED,
    (S.PAUSED, "stop"): S.STOPPED,
    (S.RUNNING, "finish"): S.FINISHED,
    # after the replay the team goes on working its cases; ending the drill then ends their clocks
    (S.FINISHED, "stop"): S.CLOSED,
}
ACTION_LABELS = {"start": "开始", "pause": "暂停", "resume": "继续", "stop": "停止", "finish": "回放完毕"}


def transition(state: str, action: str, drill_id: int) -> DrillState:
    """The state `action` leads to from `state`; a DrillStateError saying what is possible otherwise."""
    target = TRANSITIONS.get((DrillState(state), action))
    if target is None:
        possible = [f"{ACTION_LABELS[a]}（{a}）" for (s, a) in TRANSITIONS if s == state and a != "finish"]
        hint = f"可以：{'、'.join(possible)}" if possible else "演练已结束，不能再改变状态"
        raise DrillStateError(
            f"演练 #{drill_id} {STATE_LABELS[state]}，不能「{ACTION_LABELS[action]}」；{hint}"
        )
    return target
