"""Chinese line breaking in the PDF (禁则): closing punctuation never begins a line, opening
punctuation never ends one, a number stays whole — measured with the real font, at many widths."""

from __future__ import annotations

import pytest
from fpdf import FPDF

from yuqing.reports import fonts
from yuqing.reports.render import _NO_END, _NO_START, wrap_lines

TEXT = (
    "11月20日10时30分，网民“江城观察”发布微博称：某市第一人民医院（三甲）一名产妇在手术后死亡，"
    "家属在医院门口拉横幅讨说法。截至21日8时，该微博被转发12345次、评论6789条；"
    "《新闻晨报》、@平安南京等账号跟进报道。市卫生健康委员会已成立调查组，并于当日发布情况通报「经初步核查……」。"
)


@pytest.fixture(scope="module")
def measure() -> FPDF:
    pdf = FPDF()
    pdf.add_font("text", "", str(fonts.BUNDLED_FONT))
    pdf.set_font("text", size=12)
    return pdf


@pytest.mark.parametrize("limit", [40 + 3.7 * i for i in range(40)])
def test_no_line_begins_with_a_closing_mark_or_ends_with_an_opening_one(measure: FPDF, limit: float) -> None:
    lines = wrap_lines(TEXT, limit, measure.get_string_width)
    assert "".join(lines) == TEXT  # nothing lost, nothing added
    assert all(measure.get_string_width(line) <= limit for line in lines)
    assert all(line[0] not in _NO_START for line in lines[1:]), lines
    assert all(line[-1] not in _NO_END for line in lines[:-1]), lines
    numbers = ("12345", "6789", "11", "20", "30")
    assert all(any(n in line for line in lines) for n in numbers), lines  # never split across lines


def test_a_line_break_in_the_text_starts_a_line(measure: FPDF) -> None:
    assert wrap_lines("第一行，\n第二行。", 200, measure.get_string_width) == ["第一行，", "第二行。"]


def test_a_pdf_table_cell_keeps_a_time_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrow 截止 column of the drill summary showed 「16:3」 on one line and 「3」 on the next:
    the cells of a PDF table are broken by the same rules as its paragraphs, each line fitting its
    cell so that fpdf2 breaks none again."""
    import datetime as dt

    from fpdf.table import Row

    from yuqing.reports.document import Document, Table
    from yuqing.reports.render import to_pdf

    widths = (0.6, 1.2, 0.8, 0.8, 0.9, 2.6)
    overflowing: list[str] = []
    cell = Row.cell

    def measuring(self: Row, text: str = "", *args: object, **kwargs: object) -> object:
        pdf = self._table._fpdf  # the table's own document, in the cell's font
        room = pdf.epw * widths[len(self.cells)] / sum(widths) - 2 * pdf.c_margin - pdf.line_width
        overflowing.extend(line for line in text.split("\n") if pdf.get_string_width(line) > room)
        return cell(self, text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Row, "cell", measuring)
    times = ("2026-12-05 16:33", "2026-12-05 09:05", "2026-12-06 23:59")
    doc = Document(
        kind="drill",
        banner="演练总结",
        title="演练总结",
        issuer="演练市人民政府",
        issued_at=dt.datetime(2026, 12, 5, 8, tzinfo=dt.UTC),
        zone="Asia/Shanghai",
    )
    rows = tuple(("#3", "召开新闻发布会（重大及以上事件）", at, at, "按时完成", TEXT) for at in times)
    doc.section("时限执行情况").add(Table(("工单", "时限", "截止", "完成", "状态", "说明"), rows, widths))
    assert to_pdf(doc).startswith(b"%PDF")
    assert overflowing == []
