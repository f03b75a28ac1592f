"""Which process this is, and whether the process behind an identity is still running.

Work that a process claims in the database (an outbox lease, a fetch run) carries the claimant's
identity `host:pid:start`, where `start` is the process's start time in clock ticks since boot
(Linux `/proc`), so a later process that happens to get the same pid is not mistaken for it. The
host part also names the PID namespace (`host~4026532194`): containers sharing the host's network
share its host name, and each counts its pids from 1, so a process in one container must not judge
a pid of another by its own `/proc` (it would find its own pid 7, started at another time, and call
the other container's live process dead). At
its start a process can then take over at once what a dead one left behind, instead of waiting
for a lease to run out; what a process on another machine holds cannot be judged from here and
is left to its lease.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path

__all__ = ["is_alive", "process_identity"]


def process_identity(pid: int | None = None) -> str:
    """`host:pid:start` of this process (or of another one on this machine)."""
    if pid is None:
        return _own_identity(os.getpid())  # every fetch run asks: read /proc once per process
    return f"{_host()}:{pid}:{_start_time(pid) or ''}"


@lru_cache(maxsize=4)
def _own_identity(pid: int) -> str:
    # Keyed by pid, so that a forked child has its own.
    return f"{_host()}:{pid}:{_start_time(pid) or ''}"


def is_alive(identity: str | None) -> bool | None:
    """Whether the process of an identity still runs: None when that cannot be told from here (it
    ran on another machine); False for no identity or one that cannot be read."""
    if not identity:
        return False
    parts = identity.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid_text, started = parts
    if host != _host():
        return None
    pid = int(pid_text)
    if not _running(pid):
        return False
    return not started or _start_time(pid) == started


@lru_cache(maxsize=1)
def _host() -> str:
    """The host name, and the PID namespace where Linux tells it: pids mean something only there."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return socket.gethostname()
    digits = "".join(c for c in namespace if c.isdigit())
    return f"{socket.gethostname()}~{digits}" if digits else socket.gethostname()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    except OverflowError:
        return False  # not a pid this system can have
    # A killed process its parent has not reaped yet is a zombie: gone for our purpose.
    return _state(pid) != "Z"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (Linux); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def _state(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None
