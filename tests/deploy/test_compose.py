"""The deployment files (scale-out issue, item 5): `Dockerfile` and `compose.yaml`.

CI has no container engine, so the image is not built here (`test_image.py` builds and runs it
where an engine answers). What is checked is what would break a deployment silently: every yuqing
service of the compose file runs a command the CLI has, with settings yuqing knows; the image runs
as a non-root user with the CJK fonts; and the services themselves — `init`, then `serve` and the
`worker` replicas with the compose file's own commands and environment (host names pointed at this
machine's PostgreSQL and a private NATS) — take a webhook delivery through to analysed posts, with
the workers listed by `yuqing pipeline status --json`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, func, select

from tests.analysis.test_pipeline import HOSPITAL, setup_topics
from tests.analysis.test_worker import NATS_SERVER, PrivateNats
from tests.conftest import postgres_schema
from yuqing.analysis.models import PostAnalysis
from yuqing.cli.main import app
from yuqing.ingest import service
from yuqing.runtime import open_runtime
from yuqing.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*)|:\?[^}]*)?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}`, as `docker compose` reads them."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def yuqing_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if str(service.get("image", "")).startswith("yuqing")
    }


def test_every_yuqing_service_runs_a_real_command_with_known_settings() -> None:
    services = yuqing_services()
    assert {"init", "web", "worker"} <= set(services)
    commands = {c.name for c in typer_commands()}
    known = {f"YUQING_{name.upper()}" for name in Settings.model_fields}
    for name, declared in services.items():
        assert declared["command"][0] in commands, f"{name}: yuqing {declared['command'][0]} does not exist"
        for key in declared["environment"]:
            assert key in known, f"{name}: {key} is not a yuqing setting"
        assert "YUQING_NATS_URL" in declared["environment"], name
    assert services["worker"]["deploy"]["replicas"] >= 2
    # web and workers wait for the schema and the first administrator
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert compose()["services"]["nats"]["command"][0] in ("--jetstream", "-js")


def typer_commands() -> list[Any]:
    import typer.main

    group = typer.main.get_command(app)
    return list(group.commands.values())  # type: ignore[attr-defined]


def test_the_image_runs_yuqing_as_a_non_root_user_with_cjk_fonts() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any("fonts-noto-cjk" in line for line in final)
    assert any(line.startswith("ENTRYPOINT") and '"yuqing"' in line for line in final)
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    # what the image installs is what the lock says
    assert any("uv sync --frozen --no-dev" in line for line in lines)
    # the health check asks the port yuqing listens on, not a fixed one
    health = " ".join(lines[next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK")) :][:2])
    assert "YUQING_PORT" in health and "/healthz" in health


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_schema()


def service_env(service: dict[str, Any], pg_url: str, nats_url: str, port: int) -> dict[str, str]:
    """The service's environment as compose would give it, with the compose network's host names
    (db, nats) pointed at this machine's servers, and the image's ENV for listening."""
    outside = {"YUQING_ADMIN_PASSWORD": "Compose-pw-8391"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")}
    for key, value in service["environment"].items():
        env[key] = interpolate(str(value), outside)
    assert env["YUQING_DATABASE_URL"].endswith("@db:5432/yuqing")
    assert env["YUQING_NATS_URL"] == "nats://nats:4222"
    env["YUQING_DATABASE_URL"] = pg_url
    env["YUQING_NATS_URL"] = nats_url
    env |= {"YUQING_HOST": "127.0.0.1", "YUQING_PORT": str(port), "YUQING_ANALYSIS_TICK_SECONDS": "0.2"}
    return env


def deliver_hospital_posts(base: str, source_id: int, token: str, prefix: str) -> httpx.Response:
    """Three posts about one hospital incident to the webhook of a running `yuqing serve`."""
    posts = [
        {
            "id": f"{prefix}{i}",
            "text": f"{HOSPITAL}（第{i}条）",
            "published_at": f"2026-11-20T08:{i:02d}:00+08:00",
        }
        for i in range(3)
    ]
    answer = httpx.post(
        f"{base}/api/v1/webhooks/{source_id}",
        content=json.dumps(posts, ensure_ascii=False).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer


def wait_until_analysed(pg_url: str, count: int, deadline: float, check: Callable[[], None]) -> None:
    """Until `count` posts are analysed in the database, calling `check` (it asserts the services
    still run) between looks; fails past `deadline` (time.monotonic)."""
    engine = create_engine(pg_url)
    try:
        analysed = 0
        while analysed < count:
            assert time.monotonic() < deadline, f"{analysed} of {count} posts analysed"
            check()
            time.sleep(0.2)
            with engine.connect() as conn:
                analysed = conn.execute(select(func.count()).select_from(PostAnalysis)).scalar_one()
    finally:
        engine.dispose()


def cli(service: dict[str, Any]) -> list[str]:
    """The service's command, run by this Python's yuqing (the image's entry point is `yuqing`)."""
    return [sys.executable, "-m", "yuqing", *service["command"]]


@pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed")
def test_the_compose_services_take_a_webhook_post_to_its_analysis(pg_url: str, tmp_path: Path) -> None:
    services = yuqing_services()
    nats = PrivateNats(tmp_path / "jetstream")
    nats.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running: list[subprocess.Popen[bytes]] = []
    try:
        init = services["init"]
        env = service_env(init, pg_url, nats.url, port)
        for _ in range(2):  # `docker compose up` again: init finds the schema and the admin there
            done = subprocess.run(cli(init), env=env, cwd=tmp_path, capture_output=True, timeout=120)
            assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert "admin" in done.stdout.decode() or "管理员账户已存在" in done.stdout.decode()

        rt = open_runtime(load_settings(database_url=pg_url, import_worker=False))
        try:
            setup_topics(rt)
            source, token = service.add_source(rt, "webhook", None, name="推送", platform="weibo")
        finally:
            rt.close()

        web = services["web"]
        web_env = service_env(web, pg_url, nats.url, port)
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            running.append(
                subprocess.Popen(cli(web), env=web_env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
            )
        worker = services["worker"]
        worker_env = service_env(worker, pg_url, nats.url, port)
        for _ in range(worker["deploy"]["replicas"]):
            running.append(
                subprocess.Popen(cli(worker), env=worker_env, cwd=tmp_path, stderr=subprocess.DEVNULL)
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert running[0].poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "yuqing serve did not answer"
            time.sleep(0.2)

        answer = deliver_hospital_posts(base, source.id, token, "c")
        assert answer.json()["new"] + answer.json()["near_duplicate"] == 3  # copies are posts too

        def workers_alive() -> None:
            assert all(p.poll() is None for p in running[1:]), "a worker exited"

        wait_until_analysed(pg_url, 3, deadline + 60, workers_alive)

        status = subprocess.run(
            [sys.executable, "-m", "yuqing", "pipeline", "status", "--json"],
            env=worker_env,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr.decode(errors="replace")
        report = json.loads(status.stdout)
        assert report["mode"] == "nats"
        assert report["stored"] == report["analysed"] == 3 and report["backlog"] == 0
        assert len(report["workers"]) == worker["deploy"]["replicas"]
    finally:
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in running:
            try:
                codes.append(process.wait(30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(None)
        nats.stop()
    assert codes[1:] == [0] * (len(codes) - 1), f"workers stopped with {codes[1:]} on SIGTERM"
