"""Health from outside: /readyz, /metrics in the Prometheus text format, JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.analysis.test_pipeline import HOSPITAL, load, setup_topics
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.observability import JsonFormatter
from yuqing.runtime import Runtime
from yuqing.web.app import create_app

# name{labels} value — what a Prometheus scraper accepts (comments aside)
SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
    r"[-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|Inf|NaN)$"  # 7.9e-05 is a value too
)


def _metric(body: str, name: str, **labels: str) -> float:
    for line in body.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            head = line.split(" ")[0]
            if head == name or head.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


def test_readyz_says_whether_the_database_serves(rt: Runtime) -> None:
    client = TestClient(create_app(rt))
    assert client.get("/readyz").json() == {"status": "ok", "reason": "ok"}
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    answer = client.get("/readyz")
    assert answer.status_code == 503 and "不是最新版本" in answer.json()["reason"]
    assert client.get("/healthz").status_code == 200  # the process itself is up


def test_readyz_names_no_database_host_or_user_to_anyone(caplog: pytest.LogCaptureFixture) -> None:
    """/readyz answers without a login: the driver's message stays in the log."""
    from yuqing.runtime import open_runtime
    from yuqing.settings import load_settings

    rt = open_runtime(
        load_settings(database_url="postgresql+psycopg://secret_user:pw@127.0.0.1:1/yuqing"), upgrade=False
    )
    try:
        with caplog.at_level("WARNING"):
            answer = TestClient(create_app(rt)).get("/readyz")
    finally:
        rt.close()
    assert answer.status_code == 503
    reason = answer.json()["reason"]
    assert reason.startswith("数据库无法连接") and "详情见服务日志" in reason
    assert "secret_user" not in reason and "127.0.0.1" not in reason
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records)


def test_metrics_are_off_unless_enabled_and_then_count_the_system(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert TestClient(create_app(rt)).get("/metrics").status_code == 404
    monkeypatch.setattr(rt.settings, "metrics_enabled", True)
    client = TestClient(create_app(rt))
    setup_topics(rt)
    load(
        rt,
        [
            {"id": f"m{i}", "text": f"第{i}位网友：{HOSPITAL}", "published_at": "2026-11-20T08:00:00+08:00"}
            for i in range(4)
        ],
    )
    body = client.get("/metrics").text
    for line in body.splitlines():
        assert line.startswith("#") or SAMPLE.match(line), line
    assert _metric(body, "yuqing_posts_stored_total", source="导入:t.jsonl") == 4
    assert _metric(body, "yuqing_analysis_backlog") == 4
    AnalysisPipeline(rt).run()
    client.get("/healthz")
    body = client.get("/metrics").text
    assert _metric(body, "yuqing_analysis_backlog") == 0
    assert _metric(body, "yuqing_posts_analysed_total") == 4
    assert _metric(body, "yuqing_pipeline_step_posts_total", step="analysis.cluster") >= 4
    assert _metric(body, "yuqing_http_request_duration_seconds_count", route="/healthz", status="2xx") >= 1


def test_metrics_token_is_required_when_set(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rt.settings, "metrics_enabled", True)
    monkeypatch.setattr(rt.settings, "metrics_token", "s3cret-token")
    client = TestClient(create_app(rt))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert answer.status_code == 200 and "yuqing_analysis_backlog" in answer.text


def test_json_log_lines_carry_the_step() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("yuqing.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("分析 %s 条", 3, extra={"step": "analysis", "posts": 3})
        try:
            raise ValueError("坏数据")
        except ValueError:
            logger.exception("失败")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))
    assert first["message"] == "分析 3 条" and first["step"] == "analysis" and first["level"] == "info"
    assert second["level"] == "error" and "ValueError: 坏数据" in second["exception"]
