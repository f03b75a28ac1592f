"""专题: the monitored topics with their rules and units, the word groups rules refer to (@地域 …),
and a rule tester that answers as one types (against a sample text or the newest stored posts).

Anyone signed in may look and test. Adding or changing a topic or a word group needs 监测员 or
管理员; which units' topics and groups a 监测员 may change is the topics service's rule
(`yuqing.analysis.topics`: a topic needs a unit their role covers, a word group the rights of its
owner unit and of every unit whose topics use it). A rule that does not parse is refused with the
parser's message, which names the position, and nothing is saved."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yuqing.analysis import topics
from yuqing.analysis.rules import RULE_SYNTAX_HELP, RuleSyntaxError
from yuqing.cases.service import PermissionDenied
from yuqing.org import service as org
from yuqing.org.models import NotFound
from yuqing.org.roles import Role
from yuqing.runtime import Runtime
from yuqing.web.auth import User, current_user, verify_csrf
from yuqing.web.pages.common import act, is_htmx, render
from yuqing.web.pages.org import flatten

CurrentUser = Annotated[User, Depends(current_user)]
Text = Annotated[str, Form()]
EDIT_ROLE = Role.MONITOR.value
# The rule tester's 「最近信息」: how many of the newest stored posts it reads.
TRIAL_POSTS = 200
MAX_RULE_CHARS = 2000
MAX_SAMPLE_CHARS = 20_000
# Words of a group may be typed one a line, or separated by commas, 、 or semicolons (not by
# spaces: a phrase may contain one).
WORD_SEPARATORS = re.compile(r"[\r\n,，、;；]+")
# The Chinese half of the parser's syntax help.
SYNTAX_HELP = RULE_SYNTAX_HELP.split("Topic rule syntax")[0].strip()


def may_edit(user: User) -> bool:
    return user.holds(EDIT_ROLE)


def check_may_edit(user: User) -> None:
    """PermissionDenied unless the user is 监测员 (of some unit) or 管理员; which units they may
    change is decided by the topics service (`actor=user.person_id`)."""
    if not may_edit(user):
        raise PermissionDenied(f"{user.name} 不是监测员或管理员，不能修改专题和词组")


def chosen_unit(rt: Runtime, name: str) -> str | None:
    """The unit picked in a form, by name (empty: none); ValueError when there is no such unit."""
    name = name.strip()
    if not name:
        return None
    with rt.sessions() as session:
        try:
            return org.find_unit(session, name).name
        except NotFound as exc:
            raise ValueError(str(exc)) from None


def parse_words(text: str) -> list[str]:
    return [w.strip() for w in WORD_SEPARATORS.split(text) if w.strip()]


def rule_test(rt: Runtime, rule: str, text: str, mode: str) -> dict[str, Any]:
    """What the tester shows: the parse error with its position, or how the rule was understood
    and whether it matches the sample (or which of the newest posts it matches)."""
    rule = rule[:MAX_RULE_CHARS]
    found: dict[str, Any] = {"rule": rule, "text": text, "mode": mode, "trial_posts": TRIAL_POSTS}
    if not rule.strip():
        return found
    try:
        parsed = topics.check_rule(rt, rule)
    except RuleSyntaxError as exc:
        at = min(max(exc.position, 0), len(rule))
        found["error"] = {
            "message": str(exc),
            "position": at + 1,
            "before": rule[:at],
            "at": rule[at : at + 1],
            "after": rule[at + 1 :],
        }
        return found
    found["tree"] = parsed.tree()
    if mode == "recent":
        found["recent"] = topics.try_rule_on_posts(rt, rule, TRIAL_POSTS)
    elif text.strip():
        found["result"] = topics.try_rule(rt, rule, text[:MAX_SAMPLE_CHARS])
    return found


def build_router(rt: Runtime) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def units() -> list[dict[str, Any]]:
        with rt.sessions() as session:
            return flatten(org.tree_view(session))

    def list_page(
        request: Request,
        user: User,
        *,
        error: str | None = None,
        code: int = 200,
        form: dict[str, str] | None = None,
        tester: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        context = {
            "topics": topics.list_topics(rt),
            "groups": topics.word_group_views(rt),
            "group_kinds": list(topics.GROUP_KINDS),
            "units": units(),
            "may_edit": may_edit(user),
            "form": form or {},
            "tester": tester or rule_test(rt, "", "", "text"),
            "syntax_help": SYNTAX_HELP,
            "error": error,
        }
        return render(request, rt, user, "topics.html", context, active="topics", status_code=code)

    def topic_page(
        request: Request,
        user: User,
        topic_id: int,
        *,
        error: str | None = None,
        code: int = 200,
        form: dict[str, str] | None = None,
    ) -> HTMLResponse:
        try:
            topic = topics.get_topic(rt, topic_id)
        except LookupError as exc:
            return render(request, rt, user, "error.html", {"message": str(exc)}, status_code=404)
        rule = (form or {}).get("rule", topic["rule"])
        context = {
            "topic": topic,
            "units": units(),
            "may_edit": may_edit(user),
            "form": form or {},
            "tester": rule_test(rt, rule, "", "recent"),
            "syntax_help": SYNTAX_HELP,
            "error": error,
        }
        return render(request, rt, user, "topic.html", context, active="topics", status_code=code)

    @router.get("/topics", response_class=HTMLResponse)
    def topic_list(request: Request, user: CurrentUser) -> HTMLResponse:
        return list_page(request, user)

    @router.get("/topics/{topic_id}", response_class=HTMLResponse)
    def topic_detail(request: Request, topic_id: int, user: CurrentUser) -> HTMLResponse:
        return topic_page(request, user, topic_id)

    @router.post("/topics", dependencies=[Depends(verify_csrf)])
    def topic_add(
        request: Request, user: CurrentUser, name: Text = "", rule: Text = "", unit: Text = ""
    ) -> Response:
        form = {"name": name, "rule": rule, "unit": unit}

        def call() -> None:
            check_may_edit(user)
            if not name.strip():
                raise ValueError("请填写专题名称")
            topics.add_topic(rt, name.strip(), rule.strip(), chosen_unit(rt, unit), actor=user.person_id)

        return act(
            request,
            rt,
            user,
            action="topic.add",
            target=f"topic:{name.strip()[:100]}",
            call=call,
            done="topic_add",
            redirect_to="/topics",
            on_error=lambda message, status: list_page(request, user, error=message, code=status, form=form),
            detail={"rule": rule, "unit": unit},
        )

    @router.post("/topics/groups", dependencies=[Depends(verify_csrf)])
    def group_set(
        request: Request,
        user: CurrentUser,
        name: Text = "",
        kind: Text = "",
        words: Text = "",
        unit: Text = "",
    ) -> Response:
        group = name.strip().lstrip("@")
        form = {"group_name": name, "group_kind": kind, "group_words": words, "group_unit": unit}

        def call() -> None:
            check_may_edit(user)
            if not group:
                raise ValueError("请填写词组名称")
            if kind not in topics.GROUP_KINDS and kind != "other":
                raise ValueError(f"词组类型应为 {'、'.join(topics.GROUP_KINDS)} 或 其他")
            topics.set_word_group(
                rt, group, parse_words(words), kind, unit=chosen_unit(rt, unit), actor=user.person_id
            )

        return act(
            request,
            rt,
            user,
            action="topic.group",
            target=f"group:{group[:100]}",
            call=call,
            done="group",
            redirect_to="/topics",
            on_error=lambda message, status: list_page(request, user, error=message, code=status, form=form),
            detail={"kind": kind, "words": len(parse_words(words)), "unit": unit},
        )

    @router.post("/topics/test", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
    def topic_test(
        request: Request, user: CurrentUser, rule: Text = "", text: Text = "", mode: Text = "text"
    ) -> HTMLResponse:
        # The tester changes nothing, so unlike every other form post it leaves no audit line: it
        # runs at each pause in typing, and a line per keystroke would bury the log's real actions.
        tester = rule_test(rt, rule, text, "recent" if mode == "recent" else "text")
        if is_htmx(request):
            return render(request, rt, user, "_rule_test.html", {"tester": tester, "unread": 0})
        return list_page(request, user, tester=tester)

    @router.post("/topics/{topic_id}", dependencies=[Depends(verify_csrf)])
    def topic_update(
        request: Request, topic_id: int, user: CurrentUser, rule: Text = "", unit: Text = ""
    ) -> Response:
        form = {"rule": rule, "unit": unit}

        def call() -> None:
            check_may_edit(user)
            topics.update_topic(rt, topic_id, rule.strip(), chosen_unit(rt, unit), actor=user.person_id)

        return act(
            request,
            rt,
            user,
            action="topic.update",
            target=f"topic:{topic_id}",
            call=call,
            done="topic_update",
            redirect_to=f"/topics/{topic_id}",
            on_error=lambda message, status: topic_page(
                request, user, topic_id, error=message, code=status, form=form
            ),
            detail={"rule": rule, "unit": unit},
        )

    @router.post("/topics/{topic_id}/enabled", dependencies=[Depends(verify_csrf)])
    def topic_enabled(request: Request, topic_id: int, user: CurrentUser, enabled: Text = "") -> Response:
        switch_on = enabled == "1"

        def call() -> None:
            check_may_edit(user)
            topics.set_topic_enabled(rt, topic_id, switch_on, actor=user.person_id)

        return act(
            request,
            rt,
            user,
            action="topic.enable" if switch_on else "topic.disable",
            target=f"topic:{topic_id}",
            call=call,
            done="topic_enable" if switch_on else "topic_disable",
            redirect_to=f"/topics/{topic_id}",
            on_error=lambda message, status: topic_page(request, user, topic_id, error=message, code=status),
            detail={"enabled": switch_on},
        )

    return router
