"""Parameters the API's routes share: ids in the path and the body, paging, and the base of JSON
bodies. Ids and offsets are bounded by what the database can hold (`yuqing.db.MAX_ID`), so a
number out of range is a 422 that names the parameter and never reaches SQL; bodies are strict
(`false` is not 0)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from yuqing.db import MAX_ID

__all__ = [
    "MAX_ID",
    "AlertId",
    "Body",
    "BodyId",
    "CaseId",
    "DrillId",
    "Offset",
    "ReplyId",
    "ReportId",
    "TaskId",
    "in_calendar",
]

AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="预警编号")]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="工单编号")]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="任务编号")]
ReplyId = Annotated[int, Path(ge=1, le=MAX_ID, description="答复意见编号")]
DrillId = Annotated[int, Path(ge=1, le=MAX_ID, description="演练编号")]
ReportId = Annotated[int, Path(ge=1, le=MAX_ID, description="报告编号")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="跳过条数")]
# Years a date or time given to the API may have: far enough from the calendar's ends that adding
# a period or changing the time zone cannot overflow.
FIRST_YEAR, LAST_YEAR = 1900, 9000
# An id in a JSON body: a JSON integer in range, never a boolean, a float or a numeric string.
BodyId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]


class Body(BaseModel):
    """A JSON request body: values of the JSON type the schema names, nothing coerced (`false` is
    not 0, "1" is not 1)."""

    model_config = ConfigDict(strict=True)


def in_calendar(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR
