"""The drills domain's errors: each message says what is wrong and, where it can, what to do."""

from __future__ import annotations


class DrillError(ValueError):
    """A drill action that cannot be done (a wrong state, an unknown person, ...)."""


class DrillStateError(DrillError):
    """A step the drill's state does not allow now (stopping a stopped drill, …): a conflict."""


class ScenarioError(DrillError):
    """A scenario file that cannot be used; the message names the file and the bad key."""


class DrillNotFound(LookupError):
    def __init__(self, drill_id: int) -> None:
        from yuqing.org.scope import not_found

        super().__init__(not_found(f"演练 #{drill_id}"))
