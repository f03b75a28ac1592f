"""Progress lines on standard error: redrawn on a terminal, plain lines elsewhere, quiet when off."""

from __future__ import annotations

import io

import pytest

from yuqing.cli.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_one_line_redrawn_with_rate_and_time_left() -> None:
    out, clock = Tty(), Clock()
    with Progress("导入", 1000, stream=out, clock=clock) as bar:
        for _ in range(4):
            clock.now += 1.0
            bar.advance(100)
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n")
    assert "导入：400/1,000 条（40%），100 条/秒，剩余约 0:06，用时 0:04" in text
    assert text.rstrip().endswith("完成")


def test_a_log_gets_plain_lines_every_few_seconds() -> None:
    out, clock = io.StringIO(), Clock()
    bar = Progress("分析", stream=out, clock=clock, plain_every=5.0)
    for _ in range(12):
        clock.now += 1.0
        bar.advance(50)
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines == [
        "分析：250 条，50 条/秒，用时 0:05",
        "分析：500 条，50 条/秒，用时 0:10",
        "分析：600 条，50 条/秒，用时 0:12，完成",
    ]


def test_an_interrupted_run_says_so_and_a_disabled_one_says_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()

    def interrupted() -> None:
        with Progress("导入", 10, stream=out, plain_every=0.0) as bar:
            bar.advance(3)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert out.getvalue().rstrip().endswith("已中断")
    quiet = io.StringIO()
    with Progress("导入", 10, stream=quiet, enabled=False) as bar:
        bar.advance(10)
    monkeypatch.setenv("YUQING_NO_PROGRESS", "1")
    with Progress("导入", 10, stream=quiet, plain_every=0.0) as bar:
        bar.advance(10)
    assert quiet.getvalue() == ""
