"""The container image itself (scale-out issue, item 5): built from the `Dockerfile` and run with a
real Docker engine, where the machine has one.

CI's machines and the usual development machine have no Docker engine, and there this test is
skipped with the reason. Where `docker info` answers (`apt-get install docker.io`, then `dockerd`),
it builds the image and runs its containers on the host network against this machine's PostgreSQL
and a private NATS: `init` twice, then the image's default command (`serve`) and two `worker`
containers with the compose file's environment; a webhook delivery is analysed, `pipeline status
--json` run inside the web container lists both workers, the health check turns healthy, `docker
stop` ends each worker with exit code 0, the processes run as uid 10001 and `yuqing doctor` finds
the Noto CJK fonts. Without Docker Hub, `scripts/image-standin-base` gives the engine a stand-in
base image built from Debian (docs/deploy.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.analysis.test_pipeline import setup_topics
from tests.analysis.test_worker import NATS_SERVER, PrivateNats
from tests.deploy.test_compose import (
    ROOT,
    deliver_hospital_posts,
    service_env,
    wait_until_analysed,
    yuqing_services,
)
from yuqing.ingest import service
from yuqing.runtime import open_runtime
from yuqing.settings import load_settings

IMAGE = "yuqing:image-test"
BASE = "python:3.11-slim-bookworm"


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command"
    try:
        if docker("info", timeout=15).returncode != 0:
            return "no Docker engine answers (`docker info` fails)"
    except subprocess.TimeoutExpired:
        return "the Docker engine does not answer"
    if docker("image", "inspect", BASE).returncode != 0 and docker("pull", BASE, timeout=300).returncode != 0:
        return f"{BASE} is neither present nor pullable (scripts/image-standin-base builds a stand-in)"
    return None


@pytest.fixture(scope="module")
def image() -> str:
    problem = _engine_problem()
    if problem:
        pytest.skip(problem)
    built = docker("build", "--network", "host", "-t", IMAGE, str(ROOT), timeout=1800)
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    return IMAGE


@pytest.fixture
def pg_url() -> Iterator[str]:
    from tests.conftest import postgres_schema

    yield from postgres_schema()


def env_flags(env: dict[str, str]) -> list[str]:
    return [
        flag for key, value in env.items() if key.startswith("YUQING_") for flag in ("-e", f"{key}={value}")
    ]


@pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed")
def test_the_image_runs_the_compose_services_as_uid_10001_with_fonts(
    image: str, pg_url: str, tmp_path: Path
) -> None:
    services = yuqing_services()
    nats = PrivateNats(tmp_path / "jetstream")
    nats.start()
    port = 18000 + uuid.uuid4().int % 1000
    run_id = uuid.uuid4().hex[:8]
    containers: list[str] = []
    try:
        init_env = env_flags(service_env(services["init"], pg_url, nats.url, port))
        for _ in range(2):  # a second `docker compose up` finds the schema and the administrator there
            done = docker("run", "--rm", "--network", "host", *init_env, image, *services["init"]["command"])
            assert done.returncode == 0, done.stderr[-3000:]
        assert "管理员账户已存在" in done.stdout or "admin" in done.stdout

        rt = open_runtime(load_settings(database_url=pg_url, import_worker=False))
        try:
            setup_topics(rt)
            source, token = service.add_source(rt, "webhook", None, name="推送", platform="weibo")
        finally:
            rt.close()

        web_env = env_flags(service_env(services["web"], pg_url, nats.url, port))
        web = f"yuqing-web-{run_id}"
        started = docker("run", "-d", "--name", web, "--network", "host", *web_env, image)  # CMD: serve
        assert started.returncode == 0, started.stderr
        containers.append(web)
        worker_env = env_flags(service_env(services["worker"], pg_url, nats.url, port))
        workers = [f"yuqing-worker-{run_id}-{n}" for n in range(services["worker"]["deploy"]["replicas"])]
        for name in workers:
            started = docker(
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "host",
                *worker_env,
                image,
                *services["worker"]["command"],
            )
            assert started.returncode == 0, started.stderr
            containers.append(name)

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, docker("logs", "--tail", "40", web).stderr
            time.sleep(0.5)
        deliver_hospital_posts(base, source.id, token, "i")
        wait_until_analysed(pg_url, 3, deadline + 60, lambda: None)

        status = docker("exec", web, "yuqing", "pipeline", "status", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["mode"] == "nats" and report["stored"] == report["analysed"] == 3
        listed = report["workers"]
        while len(listed) < len(workers):  # a standby worker reports after its first look at the lease
            logs = [docker("logs", "--tail", "20", w).stderr for w in workers]
            assert time.monotonic() < deadline + 90, (listed, logs)
            time.sleep(0.5)
            again = docker("exec", web, "yuqing", "pipeline", "status", "--json")
            listed = json.loads(again.stdout)["workers"]
        assert docker("exec", web, "id", "-u").stdout.strip() == "10001"
        doctor = docker("exec", web, "yuqing", "doctor")
        assert "/usr/share/fonts/opentype/noto/" in doctor.stdout, doctor.stdout
        health = ""
        while health != "healthy":  # the first check runs 30 s after the start
            assert time.monotonic() < deadline + 120, f"health: {health}"
            time.sleep(2)
            health = docker("inspect", "--format", "{{.State.Health.Status}}", web).stdout.strip()

        for name in workers:
            assert docker("stop", "--time", "60", name, timeout=90).returncode == 0
            code = docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
            assert code == "0", f"{name} stopped with exit code {code}: {docker('logs', name).stderr[-2000:]}"
    finally:
        for name in containers:
            docker("rm", "-f", name)
        nats.stop()
