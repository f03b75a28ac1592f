"""A killed import: its prepare worker dies with it, and its run is closed as interrupted
(reliability issue, item 19). Real `yuqing import` processes, really killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from yuqing.ingest import service
from yuqing.ingest.models import FetchRun, Post
from yuqing.ingest.runs import INTERRUPTED_NOTE, owner_alive, process_identity
from yuqing.runtime import Runtime, open_runtime
from yuqing.settings import load_settings

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
    reason="the prepare worker runs on Linux machines with two cores or more",
)
TEXT = (
    "网传某市第一人民医院发生医疗事故，一名产妇在手术后死亡，家属在医院门口拉横幅讨说法，医院至今未作回应。"
)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def forked_workers(pid: int) -> list[int]:
    """The children that are forks of `pid` (the same command line): the prepare worker, not a
    short-lived helper a library may start (seen on a loaded CI machine, gone a moment later)."""

    def cmdline(p: int) -> bytes | None:
        try:
            return Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            return None

    own = cmdline(pid)
    return [child for child in children(pid) if own is not None and cmdline(child) == own]


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"  # a zombie has ended; only its entry is left


def wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def start_import(tmp_path: Path, database_url: str) -> subprocess.Popen[bytes]:
    # Over a megabyte, so the rows are prepared in a worker; small batches, so it takes a while.
    rows = [{"id": f"k{i}", "text": f"第{i}条：{TEXT}{i}"} for i in range(12_000)]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert path.stat().st_size > service.PARALLEL_IMPORT_BYTES
    env = dict(os.environ, YUQING_DATABASE_URL=database_url, YUQING_IMPORT_BATCH_SIZE="20")
    return subprocess.Popen(
        [sys.executable, "-m", "yuqing", "import", str(path), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def committed(database_url: str) -> bool:
    rt = open_runtime(load_settings(database_url=database_url), upgrade=False)
    try:
        with rt.sessions() as session:
            return session.scalars(select(Post.id).limit(1)).first() is not None
    finally:
        rt.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_killed_import_takes_its_worker_with_it_and_its_run_is_closed(
    tmp_path: Path, database_url: str, sig: signal.Signals
) -> None:
    process = start_import(tmp_path, database_url)
    try:
        found: list[int] = []
        spotted = wait_for(lambda: found.extend(forked_workers(process.pid)) or found, 30)
        assert spotted, process.stderr.read() if process.stderr else ""
        worker = found[0]
        assert wait_for(lambda: committed(database_url), 30)  # killed half-way, not before it began
        process.send_signal(sig)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert wait_for(lambda: gone(worker), 5), "the prepare worker outlived its parent"

    settings = load_settings(database_url=database_url)
    if sig == signal.SIGTERM:
        assert process.returncode == 130
        assert process.stderr is not None and "中断" in process.stderr.read().decode()
    else:
        # Closed by the next start of an import.
        small = tmp_path / "small.jsonl"
        small.write_text(json.dumps({"id": "s1", "text": "另一条信息"}, ensure_ascii=False), encoding="utf-8")
        env = dict(os.environ, YUQING_DATABASE_URL=database_url)
        again = subprocess.run(
            [sys.executable, "-m", "yuqing", "import", str(small), "--json"], env=env, capture_output=True
        )
        assert again.returncode == 0, again.stderr.decode()
    rt = open_runtime(settings)
    try:
        with rt.sessions() as session:
            killed = session.scalars(select(FetchRun).order_by(FetchRun.id)).first()
            assert killed is not None and killed.finished_at is not None
            assert killed.outcome == "interrupted" and killed.error == INTERRUPTED_NOTE
            # what its committed batches stored is counted, however it ended
            stored = session.scalars(select(Post.id).where(Post.fetch_run_id == killed.id)).all()
            assert killed.items_new + killed.items_near_duplicate == len(stored) > 0
            assert session.scalars(select(FetchRun).where(FetchRun.finished_at.is_(None))).all() == []
    finally:
        rt.close()


def test_runs_of_live_processes_are_left_open(rt: Runtime) -> None:
    source_id = service.ensure_file_source(rt, "导入", None)
    with rt.sessions() as session, session.begin():
        mine = FetchRun(source_id=source_id, started_at=rt.clock(), owner=process_identity())
        elsewhere = FetchRun(source_id=source_id, started_at=rt.clock(), owner="another-host:1:1")
        legacy = FetchRun(source_id=source_id, started_at=rt.clock())
        session.add_all([mine, elsewhere, legacy])
        session.flush()
        ids = {"mine": mine.id, "elsewhere": elsewhere.id, "legacy": legacy.id}
    assert owner_alive(process_identity()) is True
    assert owner_alive("another-host:1:1") is None
    assert service.close_interrupted_runs(rt) == [ids["legacy"]]
    with rt.sessions() as session:
        for still_open in ("mine", "elsewhere"):
            run = session.get(FetchRun, ids[still_open])
            assert run is not None and run.finished_at is None
        closed = session.get(FetchRun, ids["legacy"])
        assert closed is not None and closed.outcome == "interrupted" and closed.error == INTERRUPTED_NOTE


def test_a_run_killed_outright_keeps_the_counts_of_its_committed_batches(rt: Runtime) -> None:
    """Each batch adds its counts to its run as it commits: a run whose process died without a word
    (kill -9, a power cut) still says how many rows it read, stored, found again and refused —
    duplicates and refusals already listed included, which leave no row of the run's own."""
    from yuqing.ingest.files import read_rows
    from yuqing.ingest.store import PostWriter

    source_id = service.ensure_file_source(rt, "导入", None)
    with rt.sessions() as session:
        context = service.source_context(service.find_source(session, source_id), rt.settings)
    writer = PostWriter(rt.sessions, rt.settings, rt.clock)
    rows = [json.dumps({"id": f"p{i}", "text": f"第{i}条：{TEXT}"}, ensure_ascii=False) for i in range(3)]
    data = "\n".join([*rows, "{不是 JSON"]).encode()
    writer.write(context, read_rows(data, "jsonl"))  # the first import: three posts, one refused
    with rt.sessions() as session, session.begin():
        # the second one's process: one that no longer runs (a run without an owner is abandoned)
        run = FetchRun(source_id=source_id, started_at=rt.clock(), owner=None)
        session.add(run)
        session.flush()
        run_id = run.id
    writer.write(context, read_rows(data, "jsonl"), run_id=run_id)  # the same file again, then killed
    with rt.sessions() as session:
        assert session.get(FetchRun, run_id).finished_at is None  # type: ignore[union-attr]

    assert service.close_interrupted_runs(rt) == [run_id]
    with rt.sessions() as session:
        killed = session.get(FetchRun, run_id)
        assert killed is not None and killed.outcome == "interrupted"
        counts = (killed.items_read, killed.items_new, killed.items_duplicate, killed.items_rejected)
        assert counts == (4, 0, 3, 1)
