"""Shared benchmark plumbing: isolated child processes and readable tables."""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable, Sequence
from typing import Any


def run_isolated(func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `func` in a forked child so its peak memory is its own; returns its result dict with
    `peak_rss_mb` (the child) and `children_peak_rss_mb` (the largest process it started) added."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def target() -> None:
        try:
            result = func(*args)
            result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            # Processes the run started itself (the import's prepare worker), largest of them.
            result["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            child.send(("ok", result))
        except BaseException as exc:  # report, then let the child die
            child.send(("error", f"{type(exc).__name__}: {exc}"))
            raise

    process = ctx.Process(target=target)
    process.start()
    status, payload = parent.recv()
    process.join()
    if status != "ok":
        raise RuntimeError(f"benchmark run failed: {payload}")
    return dict(payload)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(v + " " * (widths[i] - _width(v)) for i, v in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
