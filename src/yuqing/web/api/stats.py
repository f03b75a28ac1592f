"""API of the statistics for the reward-and-penalty review (奖惩考核)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from yuqing.cases.stats import statistics_report
from yuqing.org.scope import scope_of
from yuqing.runtime import Runtime
from yuqing.web.api.params import FIRST_YEAR, LAST_YEAR, in_calendar
from yuqing.web.api.responses import errors
from yuqing.web.auth import User, current_user

# A date, or nothing (an empty value is no bound).
DAY_PATTERN = {"pattern": r"^(\d{4}-\d{2}-\d{2})?$"}


def day(text: str | None, what: str) -> dt.date | None:
    if not text:
        return None
    try:
        value = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise HTTPException(400, f"{what} 应为日期，例如 2026-11-23：{text!r}") from None
    if not in_calendar(value.year):
        raise HTTPException(400, f"{what} 超出范围：{text!r}；年份应在 {FIRST_YEAR} 到 {LAST_YEAR} 之间")
    return value


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(tags=["stats"])

    @router.get(
        "/stats", summary="按时率、报告与回应用时中位数、超时清单（按单位和人员）", responses=errors(400)
    )
    def stats(
        user: Annotated[User, Depends(current_user)],
        start: Annotated[
            str | None,
            Query(alias="from", description="首日 YYYY-MM-DD（开立日期）", json_schema_extra=DAY_PATTERN),
        ] = None,
        end: Annotated[
            str | None,
            Query(alias="to", description="末日 YYYY-MM-DD（含当天）", json_schema_extra=DAY_PATTERN),
        ] = None,
        drills: Annotated[bool, Query(description="包括演练工单")] = False,
    ) -> dict[str, Any]:
        first, last = day(start, "from"), day(end, "to")
        if first and last and last < first:
            raise HTTPException(400, "to 不能早于 from")
        with rt.sessions() as session:
            scope = scope_of(session, user.person_id)
        return statistics_report(rt, start=first, end=last, include_drills=drills, scope=scope)

    return router
