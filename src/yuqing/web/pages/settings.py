"""设置 (管理员 only): the plan profile in force, editable — saved only after the same validation the
loaders apply at start, where it takes effect (`yuqing.cases.plan.save_profile`); the effective
settings as `yuqing settings` lists them (secrets hidden), with where each value came from; and
which years have a holiday schedule and which fall back to weekends only."""

from __future__ import annotations

import hashlib
import os
import tomllib
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from yuqing.analysis.grading import ProfileError, console_profile_path
from yuqing.cases import plan
from yuqing.cases.service import PermissionDenied
from yuqing.runtime import Runtime
from yuqing.settings import SECRET_SETTINGS, URL_SETTINGS, Settings, config_path, masked_url
from yuqing.settings_zh import description_zh
from yuqing.web.auth import User, current_user, require_roles, verify_csrf
from yuqing.web.pages.common import act, render
from yuqing.workcal.clock import CHINESE_CALENDAR_VERSION, CHINESE_CALENDAR_YEARS
from yuqing.workcal.service import list_years

CurrentUser = Annotated[User, Depends(current_user)]
Admin = Annotated[User, Depends(require_roles("admin"))]
MAX_PROFILE_CHARS = 200_000
ORIGIN_LABELS = {
    "console": "控制台保存的预案",
    "configured": "设置 plan_profile 指定的文件",
    "shipped": "随软件提供的预案",
}


def shown_value(name: str, value: Any) -> str:
    """A setting as the page shows it: secrets hidden, a database password masked."""
    if name in SECRET_SETTINGS:
        return "（已设置，不显示）" if value else "（未设置）"
    if name in URL_SETTINGS and value:
        return masked_url(str(value))
    if name == "database_url":
        try:
            return make_url(str(value)).render_as_string(hide_password=True)
        except ArgumentError:
            return "（无法解析）"
    return repr(value) if isinstance(value, str) and not value else str(value)


def setting_rows(settings: Settings) -> list[dict[str, Any]]:
    """Every setting with its value in force, its default and where the value came from."""
    environment = {key.upper() for key in os.environ}
    path = config_path()
    try:
        in_file = set(tomllib.loads(path.read_text(encoding="utf-8"))) if path.is_file() else set()
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        in_file = set()
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        default = field.get_default(call_default_factory=True)  # a list's default is made by a factory
        env_name = f"YUQING_{name.upper()}"
        if env_name in environment:
            origin = f"环境变量 {env_name}"
        elif name in in_file:
            origin = f"配置文件 {path}"
        elif value == default:
            origin = "默认值"
        else:
            origin = "启动时指定"
        rows.append(
            {
                "name": name,
                "value": shown_value(name, value),
                "default": shown_value(name, default),
                "origin": origin,
                "description": description_zh(name),
            }
        )
    return rows


def calendar_coverage(rt: Runtime) -> dict[str, Any]:
    """Last year, this year, next year and every entered year: which schedule each uses."""
    this_year = rt.clock().astimezone(ZoneInfo(rt.settings.timezone)).year
    known = {c.year: c for c in list_years(rt)}
    wanted = sorted(
        {y for y, c in known.items() if c.source == "entered"} | set(range(this_year - 1, this_year + 2))
    )
    years: list[dict[str, Any]] = []
    for year in wanted:
        coverage = known.get(year)
        years.append(
            {
                "year": year,
                "source": coverage.source if coverage else "weekends",
                "holidays": coverage.holidays if coverage else None,
                "workdays": coverage.workdays if coverage else None,
                "entered_by": coverage.entered_by if coverage else None,
                "entered_at": coverage.entered_at.isoformat() if coverage and coverage.entered_at else None,
                "note": coverage.note if coverage else "",
            }
        )
    return {
        "years": years,
        "bundled_from": CHINESE_CALENDAR_YEARS.start,
        "bundled_to": CHINESE_CALENDAR_YEARS.stop - 1,
        "bundled_version": CHINESE_CALENDAR_VERSION,
        "uncovered": [y["year"] for y in years if y["source"] == "weekends" and y["year"] >= this_year],
    }


WORKER_STATES = {
    "working": "分析中",
    "standby": "待命",
    "waiting": "NATS 不可达，定时查看队列",
    "idle": "空闲",
    "expired": "已失联",
    "stopped": "已停止",
}


def pipeline_panel(rt: Runtime) -> dict[str, Any]:
    """The analysis pipeline as `yuqing pipeline status` reports it, worded for the page."""
    from yuqing.analysis.pipeline import pipeline_status

    status = pipeline_status(rt)
    workers = [
        {
            **w,
            "state_label": WORKER_STATES.get(str(w.get("state")), str(w.get("state"))),
            "analysed": w.get("analysed", "—"),
        }
        for w in status["workers"]
    ]
    stream = status.get("stream")
    return {
        **status,
        "mode_label": "分析进程（NATS JetStream）" if status["mode"] == "nats" else "嵌入式（本进程分析）",
        "workers": workers,
        "stream_error": stream.get("error") if isinstance(stream, dict) else None,
    }


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(
        request: Request, user: User, *, error: str | None = None, code: int = 200, text: str | None = None
    ) -> HTMLResponse:
        if not user.is_admin:
            # A refused form post from someone who may not see the page: the reason only.
            message = error or "此页面仅限管理员访问"
            return render(request, rt, user, "error.html", {"message": message}, status_code=code)
        profile = plan.active_profile(rt.settings.plan_profile)
        context = {
            "profile": profile,
            "profile_text": profile.text if text is None else text,
            "origin_label": ORIGIN_LABELS[profile.origin],
            "console_path": console_profile_path().resolve(),
            "settings_rows": setting_rows(rt.settings),
            "config_file": config_path().resolve(),
            "calendar": calendar_coverage(rt),
            "pipeline": pipeline_panel(rt),
            "error": error,
        }
        return render(request, rt, user, "settings.html", context, active="settings", status_code=code)

    def admin_only(user: User) -> None:
        if not user.is_admin:
            raise PermissionDenied(f"{user.name} 不是管理员，不能修改设置")

    @router.get("/settings", response_class=HTMLResponse)
    def settings_page(request: Request, user: Admin) -> HTMLResponse:
        return page(request, user)

    @router.post("/settings/profile", dependencies=[Depends(verify_csrf)])
    def profile_save(request: Request, user: CurrentUser, text: Annotated[str, Form()] = "") -> Response:
        # Browsers send CRLF line ends from a textarea; the file keeps the usual LF.
        text = text.replace("\r\n", "\n")
        before = plan.active_profile(rt.settings.plan_profile)

        def call() -> None:
            admin_only(user)
            if len(text) > MAX_PROFILE_CHARS:
                raise ProfileError(f"预案文件过长（超过 {MAX_PROFILE_CHARS} 个字符）")
            plan.save_profile(text, rt.settings.plan_profile)

        detail = {
            "path": str(before.save_to or before.path),
            "sha256_before": before.sha256,
            "sha256_after": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        }
        return act(
            request,
            rt,
            user,
            action="settings.profile",
            target=f"profile:{before.save_to or before.path}"[:300],
            call=call,
            done="profile",
            redirect_to="/settings",
            on_error=lambda message, status: page(request, user, error=message, code=status, text=text),
            detail=detail,
        )

    @router.post("/settings/profile/reset", dependencies=[Depends(verify_csrf)])
    def profile_reset(request: Request, user: CurrentUser) -> Response:
        def call() -> None:
            admin_only(user)
            if not plan.discard_console_profile():
                raise ValueError("没有控制台保存的预案，无需恢复")

        return act(
            request,
            rt,
            user,
            action="settings.profile_reset",
            target=f"profile:{console_profile_path().resolve()}"[:300],
            call=call,
            done="profile_reset",
            redirect_to="/settings",
            on_error=lambda message, status: page(request, user, error=message, code=status),
        )

    return router
