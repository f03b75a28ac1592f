"""The 报告 page and /api/v1/reports through the real app: who may generate, what is archived, and
that the file downloaded is the file that was generated."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from tests.conftest import FakeClock
from tests.web.test_pages import World, build_world, csrf_of
from yuqing.accounts.models import AuditEntry
from yuqing.reports.models import Report
from yuqing.runtime import Runtime


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> World:
    return build_world(rt, clock)


def test_office_generates_a_special_report_and_downloads_the_archived_file(world: World) -> None:
    office = world.login("office")
    assert "生成舆情专报" in office.get(f"/events/{world.event_id}").text
    page = office.get("/reports")
    assert page.status_code == 200 and "生成报告" in page.text and "尚无已归档的报告" in page.text
    made = office.post(
        "/reports",
        data={
            "kind": "special",
            "format": "html",
            "event_id": str(world.event_id),
            "csrf_token": csrf_of(office),
        },
    )
    assert made.status_code == 303
    shown = office.get(made.headers["location"])
    assert (
        "报告已生成并归档" in shown.text and "舆情专报" in shown.text and "共监测到相关信息3条" in shown.text
    )
    # Collected text in the preview is escaped like everywhere else.
    assert "<script>alert(1)" not in shown.text
    report_id = int(made.headers["location"].split("?")[0].rsplit("/", 1)[1])
    download = office.get(f"/reports/{report_id}/file")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/html")
    assert "attachment" in download.headers["content-disposition"]
    with world.rt.sessions() as session:
        stored = session.get(Report, report_id)
        assert stored is not None and stored.created_by is not None and stored.via == "web"
        assert hashlib.sha256(download.content).hexdigest() == stored.sha256
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert "report.generate" in actions
    listed = office.get("/reports")
    assert f'href="/reports/{report_id}"' in listed.text and "控制台" in listed.text


def test_a_duty_officer_may_read_but_not_generate_and_errors_are_explained(world: World) -> None:
    duty = world.login("duty")
    assert duty.get("/reports").status_code == 200
    assert "生成舆情专报" not in duty.get(f"/events/{world.event_id}").text
    assert "生成报告" not in duty.get("/reports").text
    refused = duty.post("/reports", data={"kind": "daily", "format": "docx", "csrf_token": csrf_of(duty)})
    assert refused.status_code == 403 and "您没有生成报告的权限" in refused.text
    office = world.login("office")
    no_token = office.post("/reports", data={"kind": "daily", "format": "docx"})
    assert no_token.status_code == 403
    unknown = office.post(
        "/reports",
        data={"kind": "special", "format": "docx", "event_id": "777", "csrf_token": csrf_of(office)},
    )
    assert unknown.status_code == 400 and "找不到事件 777" in unknown.text
    wrong = office.post("/reports", data={"kind": "daily", "format": "xlsx", "csrf_token": csrf_of(office)})
    assert wrong.status_code == 400 and "只有预警响应情况表可以导出为 xlsx" in wrong.text
    with world.rt.sessions() as session:
        assert session.scalars(select(Report)).first() is None


def test_the_api_generates_lists_and_serves_reports(world: World) -> None:
    monitor = world.login("monitor")
    token = csrf_of(monitor)
    made = monitor.post(
        "/api/v1/reports",
        json={"kind": "response_table", "format": "xlsx", "from": "2026-11-01", "to": "2026-11-30"},
        headers={"X-CSRF-Token": token},
    )
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["kind"] == "response_table" and body["format"] == "xlsx" and body["via"] == "api"
    listed = monitor.get("/api/v1/reports").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]
    file = monitor.get(f"/api/v1/reports/{body['id']}/file")
    assert file.content[:2] == b"PK" and hashlib.sha256(file.content).hexdigest() == body["sha256"]
    missing = monitor.post("/api/v1/reports", json={"kind": "special"}, headers={"X-CSRF-Token": token})
    assert missing.status_code == 400 and "事件编号" in missing.json()["error"]["message"]
    duty = world.login("duty")
    refused = duty.post("/api/v1/reports", json={"kind": "daily"}, headers={"X-CSRF-Token": csrf_of(duty)})
    assert refused.status_code == 403
