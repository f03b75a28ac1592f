"""The `yuqing calendar` command-line contract: the due-time output in a real process (few runs: each
costs seconds), the rest in-process through the same Typer app."""

from __future__ import annotations

from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from tests.test_cli import ok_json, yuqing
from yuqing.cli.main import app

# TEST DATA ONLY — invented dates, not the State Council's 2027 schedule.
TEST_2027 = """
year = 2027
source = "测试数据（非官方安排）"

[[holidays]]
name = "元旦"
start = "2027-01-01"
end = "2027-01-03"
"""


def test_due_prints_only_the_due_time() -> None:
    # A naive start is Asia/Shanghai time; 2026-10-01..07 is the National Day break.
    result = yuqing("calendar", "due", "--start", "2026-09-30T17:00", "--working-hours", "3")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == "2026-10-08T11:00:00+08:00\n"
    assert result.stderr.decode() == ""


def test_uncovered_year_warns_until_its_schedule_is_imported(tmp_path: Path) -> None:
    start = "2026-12-30T10:00:00+08:00"
    warned = yuqing("calendar", "due", "--start", start, "--working-days", "5", "--json")
    assert ok_json(warned) == {"due": "2027-01-06T17:30:00+08:00", "uncovered_years": [2027]}
    assert "警告：2027 年的节假日安排尚未录入" in warned.stderr.decode()

    schedule = tmp_path / "2027.toml"
    schedule.write_text(TEST_2027, encoding="utf-8")
    imported = run("calendar", "holidays", "import", str(schedule), "--by", "管理员")
    assert imported.exit_code == 0, imported.output
    assert "已录入 2027 年节假日安排：放假 3 天" in imported.stdout

    after = yuqing("calendar", "due", "--start", start, "--working-days", "5")
    assert after.returncode == 0, after.stderr.decode()
    assert after.stdout.decode() == "2027-01-07T17:30:00+08:00\n"
    assert after.stderr.decode() == ""


# The text views, in-process (same commands, no process start-up).


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_holidays_list_show_and_delete(tmp_path: Path) -> None:
    schedule = tmp_path / "2027.toml"
    schedule.write_text(TEST_2027, encoding="utf-8")
    assert run("calendar", "holidays", "import", str(schedule), "--by", "管理员").exit_code == 0

    listed = run("calendar", "holidays", "list")
    assert listed.exit_code == 0, listed.output
    assert "2004–2026  内置 chinese-calendar" in listed.stdout
    assert "由 管理员：测试数据（非官方安排）（放假 3 天，调休上班 0 天）" in listed.stdout

    january = run("calendar", "show", "2027", "--month", "1")
    assert january.exit_code == 0, january.output
    assert "2027-01-01 周五 放假（元旦）" in january.stdout
    assert "2027 年 1 月：工作日 20 天，休息日 11 天" in january.stdout
    whole_2026 = run("calendar", "show", "2026")
    assert "2026-02-15 至 2026-02-23  放假 9 天（春节）" in whole_2026.stdout
    assert "2026-02-28 周六 调休上班（春节）" in whole_2026.stdout
    uncovered = run("calendar", "show", "2028", "--month", "2")
    assert uncovered.exit_code == 0 and "2028 年的节假日安排尚未录入" in uncovered.stderr

    deleted = run("calendar", "holidays", "delete", "2027")
    assert deleted.exit_code == 0 and "该年将按周末双休计算" in deleted.stdout
    again = run("calendar", "holidays", "delete", "2027")
    assert again.exit_code == 1 and again.stderr.startswith("错误：2027 年没有录入的节假日安排")


def test_due_wants_exactly_one_amount() -> None:
    for amounts in ([], ["--working-days", "5", "--hours", "1"]):
        result = run("calendar", "due", "--start", "2026-09-30T17:00", *amounts)
        assert result.exit_code == 1 and result.stdout == ""
        assert "只给出" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    bad_start = run("calendar", "due", "--start", "30/09/2026", "--hours", "1")
    assert bad_start.exit_code == 1 and "ISO 8601" in bad_start.stderr


def test_a_bad_holiday_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TEST_2027.replace('end = "2027-01-03"', 'end = "2026-12-31"'), encoding="utf-8")
    result = run("calendar", "holidays", "import", str(bad))
    assert result.exit_code == 1
    assert "holidays 第 1 项（元旦）的 end" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
