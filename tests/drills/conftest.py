"""Fixtures of the drill tests: an organisation like the plan's, a monitored topic that catches the
shipped hospital scenario, and the CLI run in-process on the tests' injected clock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import FakeClock
from yuqing.analysis import topics
from yuqing.cli import common
from yuqing.cli import drills as drills_cli
from yuqing.cli.main import app
from yuqing.db import transaction
from yuqing.org import duty
from yuqing.org import service as org
from yuqing.runtime import Runtime, open_runtime

# Who plays which role (the city's leaders act for its health commission).
ROLES = {
    "王值班": ("duty_officer", "市卫生健康委员会"),
    "李办公室": ("office", "市卫生健康委员会"),
    "赵分管": ("deputy_leader", "市卫生健康委员会"),
    "陈市长": ("chief", "演练市人民政府"),
    "周组员": ("leading_group", "演练市人民政府"),
    "钱联络": ("liaison", "市疾病预防控制中心"),
}
HOSPITAL_RULE = "(医院 | 卫生院) + (死亡 | H7N9 | 禽流感)"


def setup_org(rt: Runtime) -> None:
    """Units, people with roles and outside contacts, a duty rotation, and the hospital topic."""
    with transaction(rt.sessions) as session:
        city = org.create_unit(session, "演练市人民政府", kind="government", regions=["南京"])
        health = org.create_unit(session, "市卫生健康委员会", parent_id=city.id, kind="bureau")
        cdc = org.create_unit(session, "市疾病预防控制中心", parent_id=health.id, kind="department")
        ids = {"演练市人民政府": city.id, "市卫生健康委员会": health.id, "市疾病预防控制中心": cdc.id}
        people = {}
        for name, (role, unit) in ROLES.items():
            person = org.add_person(session, name, ids[unit])
            org.grant_role(session, person.id, role, ids[unit])
            people[name] = person
        # Outside channels that a drill must not use unless allowed.
        org.add_contact(session, people["王值班"].id, "email", "wang@example.cn")
        org.add_contact(
            session, people["李办公室"].id, "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t"
        )
        duty.set_rotation(session, health.id, [people["王值班"].id], dt.date(2026, 11, 1), hours="all_day")
    topics.add_topic(rt, "医疗卫生", HOSPITAL_RULE, "市卫生健康委员会")


class Cli:
    """The `yuqing` command in-process, its runtime on the test's clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, f"{args}: {result.output}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def refused(self, *args: str) -> str:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code != 0, f"{args} should have been refused: {result.output}"
        return result.output


@pytest.fixture
def cli(clock: FakeClock, monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> Cli:
    """The CLI on the injected clock: its runtime uses `clock`, and `drill run` waits by moving it."""
    opener: Callable[[], Runtime] = lambda: open_runtime(clock=clock)  # noqa: E731
    monkeypatch.setattr(common, "open_runtime", opener)
    monkeypatch.setattr(drills_cli, "sleep", lambda seconds: clock.advance(seconds=seconds))
    return Cli(clock)
