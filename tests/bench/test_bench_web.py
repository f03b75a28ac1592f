"""`yuqing bench web` on a small database: a row per page and per baseline, the server stopped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from yuqing.bench import web
from yuqing.demo import find_ced_file


def test_bench_web_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ced = find_ced_file()
    if ced is None:
        pytest.skip("ced_dev.jsonl.gz not available")
    servers: list[subprocess.Popen[bytes]] = []
    real_stop = web._stop_server

    def stop(process: subprocess.Popen[bytes]) -> bool:
        servers.append(process)
        return real_stop(process)

    monkeypatch.setattr(web, "_stop_server", stop)
    result = web.measure(
        ced, posts=2000, requests=20, concurrency=2, db=tmp_path / "web.db", echo=lambda _: None
    )

    assert result.posts == 2000
    assert result.build_seconds is not None
    names = [row[0] for row in result.rows]
    assert names[: len(result.pages)] == result.pages
    assert len(result.pages) == 4
    assert sum(1 for name in names if name.startswith("baseline:")) == 3
    assert sum(row[1] for row in result.rows[:4]) == 20
    for page in result.pages:
        assert page in result.table
    assert result.server_stopped
    assert len(servers) == 1 and servers[0].poll() is not None
