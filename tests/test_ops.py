"""`yuqing doctor`, `yuqing backup` and `yuqing restore` against real databases."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from yuqing.accounts import service as accounts
from yuqing.cli.main import app
from yuqing.cli.ops import run_checks
from yuqing.db import transaction
from yuqing.ingest import service
from yuqing.ingest.models import Post
from yuqing.ingest.store import PostWriter
from yuqing.org import service as org
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import Settings, load_settings

runner = CliRunner()
ROWS = [
    {
        "id": f"p{i}",
        "text": f"南京某医院第{i}次发生医疗纠纷，家属聚集讨说法。",
        "published_at": "2026-11-20T08:00:00+08:00",
    }
    for i in range(30)
]


def _load(rt: Runtime) -> None:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS).encode()
    service.import_data(
        rt, PostWriter(rt.sessions, rt.settings, rt.clock), data, origin="t.jsonl", platform="weibo"
    )


def _posts(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Post)) or 0)


def test_doctor_reports_each_check_and_passes_on_a_working_install(rt: Runtime, settings: Settings) -> None:
    checks = {c.name: c for c in run_checks(settings, today=dt.date(2026, 12, 4))}
    assert checks["数据库"].status == "ok"
    assert checks["中文字体"].status in {"ok", "warn"}  # a system font, or the one shipped with yuqing
    assert checks["2026 年节假日"].status == "ok"
    assert checks["磁盘空间"].status in {"ok", "warn"}
    assert checks["邮件服务器"].status == "warn" and "smtp_host" in checks["邮件服务器"].detail
    assert checks["演示账号"].status == "ok"
    assert checks["通知发送"].status == "ok"
    result = runner.invoke(app, ["doctor", "--json"], env={"YUQING_DATABASE_URL": settings.database_url})
    assert result.exit_code == 0, result.output
    assert {c["name"] for c in json.loads(result.output)} >= {"数据库", "中文字体", "磁盘空间"}


def test_doctor_warns_of_accounts_that_still_use_the_demo_password(rt: Runtime, settings: Settings) -> None:
    with transaction(rt.sessions) as session:
        unit = org.create_unit(session, "南京市人民政府")
        person = org.add_person(session, "赵六", unit.id)
        org.grant_role(session, person.id, "admin", unit.id)
        accounts.create_demo_accounts(session)
    found = {c.name: c for c in run_checks(settings, today=dt.date(2026, 12, 4))}["演示账号"]
    assert found.status == "warn" and "（admin）" in found.detail
    assert "yuqing users passwd" in (found.fix or "")


def test_doctor_warns_of_notices_that_failed_in_the_last_day(rt: Runtime, settings: Settings) -> None:
    from yuqing.notify.models import Notification

    with transaction(rt.sessions) as session:
        session.add(
            Notification(
                kind="dingtalk",
                address="https://oapi.dingtalk.com/robot/send?access_token=x",
                dedup_key="alert:1:new:level:0:person:1:dingtalk",
                title="【特别重大舆情预警】…",
                level="red",
                message={"title": "…", "body": "…"},
                status="failed",
                attempts=5,
                last_error="errcode 310000：关键词不匹配",
            )
        )
    found = {c.name: c for c in run_checks(settings, today=dt.date(2026, 12, 4))}["通知发送"]
    assert found.status == "warn" and "dingtalk 1 条" in found.detail and "通知记录" in (found.fix or "")


def test_doctor_fails_when_a_daily_report_unit_does_not_exist(rt: Runtime, settings: Settings) -> None:
    with transaction(rt.sessions) as session:
        city = org.create_unit(session, "南京市人民政府")
        org.create_unit(session, "市教育局", parent_id=city.id)
    good = settings.model_copy(update={"daily_report_time": "17:00", "daily_report_units": ["市教育局"]})
    found = {c.name: c for c in run_checks(good, today=dt.date(2026, 12, 4))}["日报"]
    assert found.status == "ok" and found.detail == "每个工作日 17:00 为市教育局生成日报（docx）"
    wrong = good.model_copy(update={"daily_report_units": ["市教育局", "市环保局"]})
    found = {c.name: c for c in run_checks(wrong, today=dt.date(2026, 12, 4))}["日报"]
    assert found.status == "fail" and "「市环保局」不是已建立的单位" in found.detail


def test_doctor_says_what_to_fix_and_fails(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        "YUQING_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{port}/none",
        "YUQING_SMTP_HOST": "127.0.0.1",
        "YUQING_SMTP_PORT": str(port),
    }
    result = runner.invoke(app, ["doctor"], env=env)
    assert result.exit_code == 1
    assert "✗ 数据库" in result.output and "无法连接" in result.output
    assert "✗ 邮件服务器" in result.output and "→ 检查 smtp_host" in result.output
    assert "项需要修复" in result.output


def test_doctor_warns_when_next_years_holidays_are_unknown(rt: Runtime, settings: Settings) -> None:
    checks = {c.name: c for c in run_checks(settings, today=dt.date(2041, 6, 1))}
    assert checks["2041 年节假日"].status == "fail"  # deadlines this year would be wrong
    assert checks["2042 年节假日"].status == "warn"
    assert "yuqing calendar holidays import" in checks["2042 年节假日"].fix


def test_sqlite_backup_while_open_and_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/live.db"
    monkeypatch.setenv("YUQING_DATABASE_URL", url)
    rt = open_runtime(load_settings())
    try:
        _load(rt)
        assert _posts(rt) == 30
        with rt.sessions() as open_reader:  # the server keeps reading while the backup runs
            open_reader.execute(select(Post.id)).first()
            result = runner.invoke(app, ["backup", "-o", str(tmp_path / "b.db")])
        assert result.exit_code == 0, result.output
        assert "30 条信息" in result.output and "校验通过" in result.output
        assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith("b.db")) == ["b.db"]
        again = runner.invoke(app, ["backup", "-o", str(tmp_path / "b.db")])
        assert again.exit_code == 1 and "--force" in again.output
    finally:
        rt.close()
    (tmp_path / "live.db").unlink()
    result = runner.invoke(app, ["restore", str(tmp_path / "b.db")])
    assert result.exit_code == 0, result.output
    rt = open_runtime(load_settings())
    try:
        assert _posts(rt) == 30
    finally:
        rt.close()
    refused = runner.invoke(app, ["restore", str(tmp_path / "b.db")])
    assert refused.exit_code == 1 and "--force" in refused.output

    # a serve (here: this process) analysing on the database: no restore under it, --force or not
    from yuqing.analysis.models import PipelineState
    from yuqing.analysis.pipeline import LEASE_STATE
    from yuqing.process import process_identity

    rt = open_runtime(load_settings())
    try:
        with transaction(rt.sessions) as session:
            session.merge(PipelineState(name=LEASE_STATE, data=process_identity().encode(), cursor=0))
    finally:
        rt.close()
    busy = runner.invoke(app, ["restore", "--force", str(tmp_path / "b.db")])
    assert busy.exit_code == 1 and "正在使用该数据库" in busy.output and "先停止" in busy.output


def test_restore_refuses_a_damaged_or_foreign_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_DATABASE_URL", f"sqlite:///{tmp_path}/live.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x01" * 5000)
    result = runner.invoke(app, ["restore", str(junk)])
    assert result.exit_code == 1 and "无法恢复" in result.output
    assert not (tmp_path / "live.db").exists()


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="the PostgreSQL client tools are not installed")
def test_postgres_backup_and_restore(rt: Runtime, settings: Settings, tmp_path: Path) -> None:
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    _load(rt)
    # Another application's schema in the same database is neither copied nor overwritten.
    other = f"other_app_{tmp_path.name[-8:].lower().replace('-', '_')}"
    with rt.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {other}")
        conn.exec_driver_sql(f"CREATE TABLE {other}.keep (v text)")
        conn.exec_driver_sql(f"INSERT INTO {other}.keep VALUES ('theirs')")
    env = {"YUQING_DATABASE_URL": settings.database_url}
    result = runner.invoke(app, ["backup", "-o", str(tmp_path / "b.dump")], env=env)
    assert result.exit_code == 0, result.output
    assert "pg_restore --list 校验通过，全部数据可完整读取" in result.output
    dump = str(tmp_path / "b.dump")
    listed = subprocess.run(["pg_restore", "--list", dump], capture_output=True, text=True, check=True)
    assert other not in listed.stdout and " posts " in listed.stdout
    with rt.engine.begin() as conn:
        conn.execute(Post.__table__.delete().where(Post.external_id == "p3"))
    assert _posts(rt) == 29
    refused = runner.invoke(app, ["restore", str(tmp_path / "b.dump")], env=env)
    assert refused.exit_code == 1 and "pg_restore --clean" in refused.output
    # a backup cut short (a copy that stopped half-way) is refused before anything is dropped: its
    # table of contents reads, its data does not, and restoring it emptied the live database
    whole = (tmp_path / "b.dump").read_bytes()
    (tmp_path / "half.dump").write_bytes(whole[: len(whole) // 2])
    cut = runner.invoke(app, ["restore", "--force", str(tmp_path / "half.dump")], env=env)
    assert cut.exit_code == 1 and "备份文件不完整或已损坏" in cut.output and "现有数据未改动" in cut.output
    assert _posts(rt) == 29
    result = runner.invoke(app, ["restore", "--force", str(tmp_path / "b.dump")], env=env)
    assert result.exit_code == 0, result.output
    assert _posts(rt) == 30
    with rt.engine.begin() as conn:
        assert conn.exec_driver_sql(f"SELECT v FROM {other}.keep").scalar_one() == "theirs"
        conn.exec_driver_sql(f"DROP SCHEMA {other} CASCADE")


def test_doctor_checks_each_listed_bridge(settings: Settings) -> None:
    """An RSSHub or WeWe RSS listed in bridge_instances answers (any HTTP status), or the doctor
    says it cannot be reached and what to check; private addresses stay refused for the rest."""
    from tests.ingest.httpserver import LocalHTTPServer, Reply

    hub = LocalHTTPServer().start()
    try:
        hub.routes["/"] = Reply(200, {"Content-Type": "text/html"}, b"<title>Welcome to RSSHub!</title>")
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{s.getsockname()[1]}"
        listed = settings.model_copy(
            update={"allow_private_addresses": False, "bridge_instances": [hub.url(""), closed]}
        )
        bridges = [c for c in run_checks(listed, today=dt.date(2026, 12, 4)) if c.name == "桥接服务"]
    finally:
        hub.stop()
    assert [c.status for c in bridges] == ["ok", "fail"]
    assert bridges[0].detail == f"{hub.url('')} 可访问（HTTP 200）"
    assert closed in bridges[1].detail and "bridge_instances" in bridges[1].fix
    assert not [c for c in run_checks(settings, today=dt.date(2026, 12, 4)) if c.name == "桥接服务"]
