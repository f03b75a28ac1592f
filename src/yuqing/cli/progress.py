"""Progress of long commands (import, analyze, drill replay, benches) on standard error.

On a terminal: one line redrawn in place at most ten times a second, with the count, the total and
share when known, the rate and the time left. Not on a terminal (a log file, CI): a plain line
every few seconds and a last one at the end. Standard output is never touched, so `--json`
output stays clean; `enabled=False` (or `YUQING_NO_PROGRESS=1`) silences it.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts toward an optional total; see the module docstring for what is shown where."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "条",
        stream: TextIO | None = None,
        enabled: bool = True,
        plain_every: float = 5.0,
        clock: object = None,
    ) -> None:
        self.label = label
        self.total = total if total and total > 0 else None
        self.unit = unit
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = enabled and not os.environ.get("YUQING_NO_PROGRESS")
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._every = 0.1 if self._tty else plain_every
        self._now = clock if callable(clock) else time.monotonic
        self._start = self._now()
        self._shown_at = self._start
        self._width = 0
        self._closed = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close(interrupted=kind is not None)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self._now()
        if self._enabled and now - self._shown_at >= self._every:
            self._shown_at = now
            self._show(self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress as one line of text."""
        now = self._now() if now is None else now
        spent = max(now - self._start, 1e-9)
        rate = self.done / spent
        parts = [f"{self.label}：{self.done:,}"]
        if self.total:
            share = min(self.done / self.total, 1.0)
            parts[0] += f"/{self.total:,} {self.unit}（{share:.0%}）"
        else:
            parts[0] += f" {self.unit}"
        parts.append(f"{rate:,.0f} {self.unit}/秒")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"剩余约 {_clock((self.total - self.done) / rate)}")
        parts.append(f"用时 {_clock(spent)}")
        return "，".join(parts)

    def close(self, *, interrupted: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._enabled:
            return
        final = self.line() + ("，已中断" if interrupted else "，完成")
        if self._tty:
            self._show(final)
            self._stream.write("\n")
        else:
            self._stream.write(final + "\n")
        self._stream.flush()

    def _show(self, text: str) -> None:
        if self._tty:
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self._stream.write("\r" + text + " " * pad)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
