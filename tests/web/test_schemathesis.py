"""Every operation of the JSON API, fuzzed by schemathesis from the app's own OpenAPI description,
signed in as an administrator (who may try everything) over a real SQLite database with an event,
its alert and the organisation behind them.

Per operation: the examples, every case of the coverage phase (boundary values, each parameter
missing or of the wrong type, methods the path does not take) and a few fuzzed requests, with a
fixed seed. It holds the app to: no server error; only statuses, content types, headers and bodies
the description declares; invalid input refused; 405 with a true `Allow`. Not checked: that every
schema-valid request succeeds — rules across fields (exactly one of event, alert or post; `to`
after `from`; a report kind's own parameters) answer 400 with the reason, and a schema cannot say
them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.conftest import FakeClock
from tests.web.test_pages import PASSWORD, World, build_world, csrf_of
from yuqing.accounts import service as accounts
from yuqing.db import transaction
from yuqing.org import service as org
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import load_settings
from yuqing.web.app import create_app


class Admin:
    """A signed-in administrator's session cookie and CSRF token."""

    def __init__(self, world: World, client: TestClient) -> None:
        self.world = world
        self.client = client
        self.session = client.cookies["yuqing_session"]
        self.csrf = csrf_of(client)


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    path: Path = tmp_path_factory.mktemp("schemathesis") / "yuqing.db"
    clock = FakeClock()
    rt: Runtime = open_runtime(
        load_settings(database_url=f"sqlite:///{path}", schedule_jitter_seconds=0), clock=clock
    )
    world = build_world(rt, clock)
    with transaction(rt.sessions) as session:
        city = org.find_unit(session, "南京市人民政府")
        person = org.add_person(session, "管理员", city.id)
        org.grant_role(session, person.id, "admin", city.id)
        accounts.create_account(session, person.id, "admin", PASSWORD, now=clock())
    client = world.login("admin")
    yield Admin(world, client)
    client.close()
    rt.close()


CONFIG = schemathesis.Config.from_dict(
    {
        # Methods no operation takes: each must be refused with 405 and an Allow header. The
        # answer is the same code for every method, so two of them are enough.
        "phases": {"coverage": {"unexpected-methods": ["trace", "options"]}},
        "operations": [
            {
                # Every valid request writes a real report (charts, Word, PDF: about a second each):
                # its coverage phase sends the invalid requests only; fuzzing still sends valid ones.
                "include-path": "/api/v1/reports",
                "include-method": "POST",
                "phases": {"coverage": {"generation": {"mode": "negative"}}},
            }
        ],
    }
)


def _described_app_schema() -> Any:
    """The schema as the app describes itself; routes do not depend on the data, so an app over an
    empty in-memory database will do (the lazy fixture loader does not work with pytest 9)."""
    rt = open_runtime(load_settings(database_url="sqlite:///:memory:"), upgrade=False)
    try:
        return schemathesis.openapi.from_dict(create_app(rt).openapi(), config=CONFIG)
    finally:
        rt.close()


schema = _described_app_schema()
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.unsupported_method,
    checks.allow_header_conformance,
    checks.missing_required_header,
]


@schema.parametrize()
@settings(
    max_examples=5, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)
def test_every_api_operation(case: Any, admin: Admin) -> None:
    case.call_and_validate(
        app=admin.client.app,
        cookies={"yuqing_session": admin.session},
        headers={"X-CSRF-Token": admin.csrf},
        checks=CHECKS,
    )
