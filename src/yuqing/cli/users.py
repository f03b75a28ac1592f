"""CLI commands of the accounts domain: `yuqing users` (console logins) and `yuqing audit` (the audit
log), and the first administrator that `yuqing init` creates."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from yuqing.accounts import service as accounts
from yuqing.cli.common import emit_json, runtime, user_errors
from yuqing.db import transaction
from yuqing.org import service as org
from yuqing.runtime import Runtime

users_app = typer.Typer(help="登录账户：add, passwd, list, disable, enable.", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志：list.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON。")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        help="密码：至少 10 个字符，不能全是数字，不能包含登录名，不能是常见密码"
        "（在命令行给出的密码会出现在进程列表中，建议按提示输入）。"
    ),
]


def _operator() -> dict[str, Any]:
    """Who ran the command, for the audit log."""
    try:
        return {"via": "cli", "os_user": getpass.getuser()}
    except (OSError, KeyError):
        return {"via": "cli"}


def _ask_password(given: str | None, login: str) -> str:
    if given is not None:
        accounts.check_password(given, login=login)
        return given
    password: str = typer.prompt("新密码", hide_input=True, confirmation_prompt="再次输入新密码")
    accounts.check_password(password, login=login)
    return password


def ensure_admin(rt: Runtime) -> None:
    """Create the first administrator unless one exists; print the password when it was generated."""
    with transaction(rt.sessions) as session:
        made = accounts.ensure_first_admin(
            session, password=rt.settings.admin_password or None, now=rt.clock()
        )
        if made is None:
            typer.echo("管理员账户已存在")
            return
        account, generated = made
        accounts.record_audit(
            session, at=rt.clock(), action="account_created", target=account.login, detail=_operator()
        )
    if generated is None:
        typer.echo(f"已创建管理员账户 {account.login}（密码取自 YUQING_ADMIN_PASSWORD）")
    else:
        typer.echo(f"已创建管理员账户 {account.login}")
        typer.echo(f"初始管理员密码（只显示一次）：{generated}")


@users_app.command("add")
@user_errors
def users_add(
    person: Annotated[str, typer.Argument(help="人员：ID、登录名或姓名（重名时用“姓名@单位”）。")],
    login: Annotated[str, typer.Option("--login", help="账户的登录名。")],
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """为人员开通控制台登录账户（未给出密码时提示输入）。"""
    secret = _ask_password(password, login)
    with runtime() as rt, transaction(rt.sessions) as session:
        found = org.find_person(session, person)
        account = accounts.create_account(session, found.id, login, secret, now=rt.clock())
        accounts.record_audit(
            session, at=rt.clock(), action="account_created", target=account.login, detail=_operator()
        )
        view = accounts.account_view(session, account)
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"已为 {view['name']}（{view['unit']}）创建账户 {view['login']}")


@users_app.command("passwd")
@user_errors
def users_passwd(
    login: Annotated[str, typer.Argument(help="登录名。")], password: PasswordOption = None
) -> None:
    """设置新密码；该账户已登录的会话全部退出，锁定同时解除。"""
    with runtime() as rt:
        with rt.sessions() as session:
            account = accounts.find_account(session, login)
        secret = _ask_password(password, account.login)
        with transaction(rt.sessions) as session:
            accounts.set_password(session, account.id, secret, now=rt.clock())
            accounts.record_audit(
                session, at=rt.clock(), action="password_changed", target=account.login, detail=_operator()
            )
    typer.echo(f"账户 {account.login} 的密码已更改，已登录的会话均已退出")


@users_app.command("list")
@user_errors
def users_list(as_json: JsonOption = False) -> None:
    """列出所有账户及其人员、单位、角色和状态。"""
    with runtime() as rt, rt.sessions() as session:
        views = [accounts.account_view(session, a, now=rt.clock()) for a in accounts.list_accounts(session)]
    if as_json:
        emit_json(views)
        return
    if not views:
        typer.echo("还没有账户（yuqing users add 人员 --login 登录名）")
    for view in views:
        roles = "、".join(f"{r['label']}@{r['unit']}" for r in view["roles"]) or "无角色"
        state = "已停用" if not view["active"] else "已锁定" if view["locked"] else "正常"
        last = view["last_login_at"] or "从未登录"
        typer.echo(f"{view['login']}  {view['name']}（{view['unit']}）  {roles}  {state}  最近登录：{last}")


def _set_active(login: str, active: bool) -> None:
    with runtime() as rt, transaction(rt.sessions) as session:
        account = accounts.find_account(session, login)
        accounts.set_active(session, account.id, active)
        action = "account_enabled" if active else "account_disabled"
        accounts.record_audit(session, at=rt.clock(), action=action, target=account.login, detail=_operator())
    typer.echo(f"账户 {account.login} 已{'启用' if active else '停用，已登录的会话均已退出'}")


@users_app.command("disable")
@user_errors
def users_disable(login: Annotated[str, typer.Argument(help="登录名。")]) -> None:
    """停用账户，禁止登录（已登录的会话立即退出）；历史记录中仍保留其名称。"""
    _set_active(login, False)


@users_app.command("enable")
@user_errors
def users_enable(login: Annotated[str, typer.Argument(help="登录名。")]) -> None:
    """重新启用已停用的账户；也会解除因登录失败导致的锁定。"""
    _set_active(login, True)


@audit_app.command("list")
@user_errors
def audit_list(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="显示的条数，最新的在前。")] = 50,
    action: Annotated[str | None, typer.Option(help="只显示该操作，例如 login_failed。")] = None,
    as_json: JsonOption = False,
) -> None:
    """显示最新的审计日志：何人、何时、从何处做了什么。"""
    with runtime() as rt:
        entries = accounts.list_audit(rt, limit, action=action)
    if as_json:
        emit_json([accounts.audit_view(entry) for entry in entries])
        return
    from yuqing.org.duty import SHANGHAI

    if not entries:
        typer.echo("审计日志为空")
    for entry in entries:
        at = entry.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        who = entry.person_name or "（未登录）"
        detail = f"  {entry.detail}" if entry.detail else ""
        typer.echo(f"{at}  {who}  {entry.action}  {entry.target}  {entry.ip or '-'}{detail}")
