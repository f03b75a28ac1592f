"""What every console page shares: rendering with the signed-in user and the CSRF token, the
outcome of an action (a message after a redirect, or the page again with the error), safe links."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import URL

from yuqing.notify.outbox import unread_count
from yuqing.org.roles import Role
from yuqing.runtime import Runtime
from yuqing.web.api.errors import error_status
from yuqing.web.auth import User, audit, csrf_token
from yuqing.web.templating import templates

__all__ = [
    "ADMIN_NAV",
    "DONE_MESSAGES",
    "NAV",
    "act",
    "is_htmx",
    "pager",
    "render",
    "safe_url",
]

# The navigation bar: key, label, path.
NAV: tuple[tuple[str, str, str], ...] = (
    ("dashboard", "总览", "/"),
    ("events", "事件", "/events"),
    ("alerts", "预警", "/alerts"),
    ("cases", "工单", "/cases"),
    ("reports", "报告", "/reports"),
    ("drills", "演练", "/drills"),
    ("org", "组织与人员", "/org"),
    ("duty", "值班", "/duty"),
    ("topics", "专题", "/topics"),
    ("sources", "信息源", "/sources"),
    ("settings", "设置", "/settings"),
)
# Entries of the bar only administrators see (the pages refuse everyone else anyway).
ADMIN_NAV: frozenset[str] = frozenset({"settings"})

# What a page says after an action succeeded and redirected back (`?done=<key>`). Fixed texts:
# nothing from the query string is shown.
DONE_MESSAGES: dict[str, str] = {
    "report": "报告已生成并归档，可下载。",
    "ack": "预警已确认，升级通知已停止。",
    "open": "工单已开立，各项时限开始计时。",
    "advance": "工单阶段已更新。",
    "categorize": "舆情类别已设置。",
    "statement": "声明稿已保存，等待审批。",
    "approve": "审批意见已记录。",
    "release": "声明已发布，相关时限已完成。",
    "respond": "回应已记录。",
    "reply_draft": "正式答复意见已提交审定：审定后方记为答复网民，答复时限继续计时。",
    "reply_settle": "审定意见已记录。",
    "phone_report": "电话报告已记录。",
    "extend": "时限已延期。",
    "task": "任务已分派。",
    "task_done": "任务已办结。",
    "evidence": "证据已添加。",
    "regrade": "工单等级已调整。",
    "close": "工单已结案。",
    "withdraw": "工单已撤销，各项时限随之终止。",
    "follow_up": "续报已发送给已报告的上级和领导，并记入时间线。",
    "read": "通知已标为已读。",
    "topic_add": "专题已添加，新采集的信息将按此规则匹配。",
    "topic_update": "专题规则已保存。",
    "topic_enable": "专题已启用。",
    "topic_disable": "专题已停用，不再匹配新信息。",
    "group": "词组已保存。",
    "duty_override": "临时值班安排已保存。",
    "duty_override_removed": "临时值班安排已删除。",
    "duty_swap": "调班已保存。",
    "duty_unswap": "调班已撤销，班次归还原值班人。",
    "profile": "预案已保存：时限、审批和升级规则即时生效；分级条件在分析服务（yuqing serve）重启后生效。",
    "profile_reset": "已删除控制台保存的预案，恢复使用配置的预案。",
    "password": "密码已更改，您在其他浏览器或设备上的登录已退出。",
    "drill_start": "演练已开始：后台将按设定倍速回放场景信息，情景注入按时送达参演人员。",
    "drill_pause": "演练已暂停：场景时间停止，暂停期间不再回放信息。",
    "drill_resume": "演练已继续：其余信息和情景注入按暂停的时长顺延。",
    "drill_stop": "演练已结束：不再回放信息；已完成的处置仍计入评分，可生成演练总结。",
}


def safe_url(value: object) -> str | None:
    """A collected link, only when it is http(s): a `javascript:` URL must never become an href."""
    if not isinstance(value, str) or not value:
        return None
    try:
        scheme = urlsplit(value.strip()).scheme.lower()
    except ValueError:
        return None
    return value.strip() if scheme in ("http", "https") else None


def countdown_text(due: str | None, now: dt.datetime) -> str:
    """The text a countdown shows before the script takes over (and without JavaScript)."""
    if not due:
        return ""
    left = dt.datetime.fromisoformat(due) - now
    seconds = int(left.total_seconds())
    sign = "剩余 " if seconds >= 0 else "已超时 "
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = (f"{days}天" if days else "") + f"{hours}小时{minutes:02d}分"
    return sign + text


def role_label(code: str) -> str:
    try:
        return Role(code).label
    except ValueError:
        return code


templates.env.filters["safe_url"] = safe_url
templates.env.filters["role_label"] = role_label
templates.env.globals["NAV"] = NAV
templates.env.globals["ADMIN_NAV"] = ADMIN_NAV


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    rt: Runtime,
    user: User,
    template: str,
    context: dict[str, Any],
    *,
    active: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page (or a fragment) with what the layout needs: the user, the CSRF token, the nav."""
    now = rt.clock()
    base: dict[str, Any] = {
        "user": user,
        "csrf_token": csrf_token(request),
        "active": active,
        "now": now,
        "server_now": now.isoformat(),
        "countdown": lambda due: countdown_text(due, now),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
    }
    if not is_htmx(request):
        if "unread" not in context:
            with rt.sessions() as session:
                base["unread"] = unread_count(session, user.person_id)
        if "todo" not in context:  # the to-do badge of the top bar
            from yuqing.cases.service import todo

            base["todo"] = todo(rt, str(user.person_id))["count"]
    # a refusal shown on a page speaks of the console, not of the command line's options and commands
    for key in ("error", "message"):
        if isinstance(context.get(key), str):
            context = {**context, key: web_message(context[key])}
    # Pages carry the CSRF token and the person's work: never cached, never framed by another site.
    sent = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", **(headers or {})}
    return templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code, headers=sent
    )


def pager(request: Request, offset: int | None) -> str | None:
    """The URL of this page at another offset (None: no such page)."""
    if offset is None:
        return None
    params = dict(request.query_params)
    params.pop("done", None)
    params["offset"] = str(offset)
    return str(URL(request.url.path).include_query_params(**params))


# The command line's option names in a shared message (「声明须写明已核实的事实（--facts）」): the
# console has form fields, not options.
_CLI_HINT = re.compile(r"（--[a-z][a-z-]*）|（(?:可用 )?yuqing [^）]*）|（[a-z_]+）$")


def web_message(message: str) -> str:
    """A service's message as the console shows it: without the command line's option names."""
    return _CLI_HINT.sub("", message)


def act(
    request: Request,
    rt: Runtime,
    user: User,
    *,
    action: str,
    target: str,
    call: Callable[[], Any],
    done: str | Callable[[], str],
    redirect_to: str,
    on_error: Callable[[str, int], Response],
    detail: dict[str, Any] | None = None,
) -> Response:
    """Run one service action for the user: audit it, then redirect with a message (303), or show
    the page again with the service's message and the matching status. `done` may be a function,
    asked after the action, when the message depends on what the action did."""
    try:
        call()
    except (ValueError, LookupError) as exc:
        status = error_status(exc)
        audit(
            rt,
            user,
            action,
            target,
            {**(detail or {}), "refused": str(exc), "status": status},
            request=request,
        )
        return on_error(web_message(str(exc)), status)
    audit(rt, user, action, target, detail, request=request)
    separator = "&" if "?" in redirect_to else "?"
    key = done() if callable(done) else done
    return RedirectResponse(f"{redirect_to}{separator}{urlencode({'done': key})}", status_code=303)
