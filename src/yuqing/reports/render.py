"""Writing a `Document` to a file: Word (through a replaceable docxtpl template), PDF (drawn with
fpdf2 in a Chinese font), HTML (one self-contained page) and Excel (the document's tables).

Text from collected posts is only ever inserted as text: escaped in HTML, as runs in Word, as
strings in PDF, and in Excel as text cells (`text_cell`: nothing that starts like a formula ever
becomes one).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from yuqing.reports.document import Bullets, Document, Figure, Paragraph, Quote, Table
from yuqing.reports.fonts import find_fonts

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell, MergedCell
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["FORMATS", "FORMULA_STARTS", "ReportFormatError", "render", "template_path", "text_cell"]

FORMATS = ("docx", "pdf", "html", "xlsx")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TEMPLATES = Path(__file__).parent / "templates"


class ReportFormatError(ValueError):
    pass


def issued_text(document: Document) -> str:
    local = document.issued_at.astimezone(ZoneInfo(document.zone))
    return f"{local.year}年{local.month}月{local.day}日"


def render(document: Document, fmt: str, *, template_dir: str = "", font: str = "") -> bytes:
    """The document as a file of format `fmt`."""
    if fmt == "docx":
        return to_docx(document, template_path(document.kind, template_dir))
    if fmt == "pdf":
        return to_pdf(document, font)
    if fmt == "html":
        return to_html(document).encode("utf-8")
    if fmt == "xlsx":
        return to_xlsx(document)
    raise ReportFormatError(f"不支持的报告格式 {fmt!r}；可选：{'、'.join(FORMATS)}")


def template_path(kind: str, template_dir: str = "") -> Path:
    """The Word template for a kind of report: `<dir>/<kind>.docx`, else `<dir>/default.docx`, else
    the shipped default."""
    if template_dir:
        folder = Path(template_dir).expanduser()
        if not folder.is_dir():
            raise ReportFormatError(f"设置 report_template_dir 指定的目录不存在：{folder}")
        for name in (f"{kind}.docx", "default.docx"):
            if (folder / name).is_file():
                return folder / name
    return TEMPLATES / "default.docx"


# ---- Word ------------------------------------------------------------------------------------------


def to_docx(document: Document, template: Path) -> bytes:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(str(template))
    main_styles = {style.name: style.style_id for style in tpl.get_docx().styles}
    if document.landscape:
        from docx.enum.section import WD_ORIENT

        for section in tpl.get_docx().sections:
            if section.orientation != WD_ORIENT.LANDSCAPE:
                section.orientation = WD_ORIENT.LANDSCAPE
                section.page_width, section.page_height = section.page_height, section.page_width
    first = tpl.get_docx().sections[0]
    text_cm = (first.page_width - first.left_margin - first.right_margin) / 360000  # EMU per cm
    body = tpl.new_subdoc()

    def styled(paragraph: Any, name: str) -> Any:
        # The subdocument is built on python-docx's blank document; its paragraphs refer to the
        # template's styles by id, so an office's template restyles them all.
        if name in main_styles:
            paragraph._p.get_or_add_pPr().style = main_styles[name]
        return paragraph

    def para(text: str, style: str = "Normal") -> Any:
        paragraph = body.add_paragraph()
        paragraph.add_run(text)
        return styled(paragraph, style)

    for number, section in enumerate(document.sections, start=1):
        para(f"{chinese_ordinal(number)}、{section.heading}", "Heading 1")
        for block in section.blocks:
            match block:
                case Paragraph(text=text, style=style):
                    para(text, {"lead": "Report Lead", "note": "Report Note"}.get(style, "Normal"))
                case Bullets(items=items):
                    for item in items:
                        para(item, "List Bullet")
                case Quote(text=text, source=source):
                    paragraph = para(f"“{text}”", "Quote")
                    run = paragraph.add_run(f"——{source}")
                    run.italic = False
                case Figure(caption=caption, png=png, missing=missing):
                    if png is not None:
                        picture = body.add_paragraph()
                        picture.alignment = 1
                        # An exact line height (the body's) would clip the image to one line.
                        picture.paragraph_format.line_spacing = 1.0
                        picture.paragraph_format.first_line_indent = Cm(0)
                        picture.add_run().add_picture(
                            io.BytesIO(png), width=Cm(min(text_cm - 0.6, _natural_mm(png) / 10))
                        )
                        para(caption, "Caption")
                    else:
                        para(f"{caption}（{missing}）", "Report Note")
                case Table(columns=columns, rows=rows, widths=widths, caption=caption):
                    if caption:
                        para(caption, "Caption")
                    table = body.add_table(rows=1 + len(rows), cols=len(columns))
                    if "Table Grid" in main_styles:
                        table._tbl.tblPr.style = main_styles["Table Grid"]
                    total = sum(widths) if widths else len(columns)
                    for index, heading in enumerate(columns):
                        cell = table.rows[0].cells[index]
                        cell.text = ""
                        run = styled(cell.paragraphs[0], "Report Table Text").add_run(heading)
                        run.bold = True
                        shade = OxmlElement("w:shd")
                        shade.set(qn("w:val"), "clear")
                        shade.set(qn("w:fill"), "E7E6E6")
                        cell._tc.get_or_add_tcPr().append(shade)
                    for r, row in enumerate(rows, start=1):
                        for c, value in enumerate(row):
                            cell = table.rows[r].cells[c]
                            styled(cell.paragraphs[0], "Report Table Text").add_run(value)
                    table.autofit = False
                    grid = table._tbl.tblGrid.findall(qn("w:gridCol"))
                    for c in range(len(columns)):
                        size = Cm(text_cm * (widths[c] if widths else 1) / total)
                        grid[c].set(qn("w:w"), str(int(size.twips)))
                        for row_cells in table.rows:
                            row_cells.cells[c].width = size
                    # Repeat the header row on every page.
                    header_props = table.rows[0]._tr.get_or_add_trPr()
                    repeat = OxmlElement("w:tblHeader")
                    repeat.set(qn("w:val"), "true")
                    header_props.append(repeat)
                    para("", "Report Note")
    context = {
        "banner": document.banner,
        "number_line": document.number or "",
        "issuer": document.issuer,
        "issued": issued_text(document),
        "title": document.title,
        "drill_mark": "【演练】本文件为应急演练材料，不作为真实舆情报送" if document.is_drill else "",
        "meta": document.meta,
        "body": body,
    }
    if document.meta:
        # Meta lines (报告期间, 统计口径, …) open the body.
        meta_first = tpl.new_subdoc()
        for label, value in document.meta:
            paragraph = meta_first.add_paragraph()
            paragraph.add_run(f"{label}：").bold = True
            paragraph.add_run(value)
            if "Report Note" in main_styles:
                paragraph._p.get_or_add_pPr().style = main_styles["Report Note"]
        target = meta_first.subdocx.element.body
        for element in list(body.subdocx.element.body):
            # Not the blank document's own page setup: the template's section is the only one.
            if element.tag != qn("w:sectPr"):
                target.append(element)
        # Keep the subdocument's page setup last, where Subdoc drops it when rendering.
        if target.sectPr is not None:
            target.append(target.sectPr)
        context["body"] = meta_first
    tpl.render(context, autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def _natural_mm(png: bytes) -> float:
    """The width of a chart at the resolution it was drawn at (150 dpi), in millimetres."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.width / 150 * 25.4


def chinese_ordinal(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")


# ---- HTML ------------------------------------------------------------------------------------------


def to_html(document: Document) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    env.filters["ordinal"] = chinese_ordinal

    def kind(block: Any) -> str:
        return type(block).__name__.lower()

    def data_uri(png: bytes) -> str:
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    env.filters["kind"] = kind
    env.filters["data_uri"] = data_uri
    return env.get_template("report.html").render(doc=document, issued=issued_text(document))


# ---- PDF -------------------------------------------------------------------------------------------


def to_pdf(document: Document, configured_font: str = "") -> bytes:
    from fpdf import FPDF
    from fpdf.enums import WrapMode
    from fpdf.errors import FPDFException
    from fpdf.fonts import FontFace

    # Chinese has no spaces between words: break lines anywhere, not only at spaces.
    CHAR = WrapMode.CHAR

    fonts = find_fonts(configured_font)

    class ReportPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-18)
            self.set_font("text", size=10)
            self.set_text_color(90, 90, 90)
            self.cell(0, 8, f"— {self.page_no()} —", align="C")

    pdf = ReportPDF(orientation="L" if document.landscape else "P", format="A4")
    pdf.set_margins(28, 30, 26)
    pdf.set_auto_page_break(True, margin=25)
    pdf.add_font("text", "", str(fonts.text.path), collection_font_number=fonts.text.index)
    pdf.add_font("bold", "", str(fonts.bold.path), collection_font_number=fonts.bold.index)
    pdf.set_title(document.title)
    pdf.set_creator("yuqing")
    pdf.add_page()
    width = pdf.epw

    def broken(text: str, w: float = width) -> str:
        """The text broken by the Chinese rules (`wrap_lines`) in the current font, for a cell `w`
        wide; fpdf2 itself would break anywhere and start a line with 「，」."""
        room = w - 2 * pdf.c_margin - 0.01
        return "\n".join(wrap_lines(text, room, pdf.get_string_width))

    pdf.set_font("bold", size=24)
    pdf.set_text_color(192, 0, 0)
    pdf.multi_cell(width, 13, document.banner, align="C", new_x="LMARGIN", new_y="NEXT", wrapmode=CHAR)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("text", size=12)
    if document.number:
        pdf.multi_cell(width, 8, document.number, align="C", new_x="LMARGIN", new_y="NEXT", wrapmode=CHAR)
    pdf.cell(width / 2, 8, f"编发：{document.issuer}")
    pdf.cell(width / 2, 8, issued_text(document), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(192, 0, 0)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.l_margin + width, pdf.get_y() + 1)
    pdf.ln(4)
    if document.is_drill:
        pdf.set_text_color(192, 0, 0)
        pdf.set_font("bold", size=12)
        pdf.multi_cell(
            width,
            8,
            "【演练】本文件为应急演练材料，不作为真实舆情报送",
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_text_color(0, 0, 0)
    pdf.set_font("bold", size=17)
    pdf.multi_cell(width, 10, broken(document.title), align="C", new_x="LMARGIN", new_y="NEXT", wrapmode=CHAR)
    pdf.ln(2)
    for label, value in document.meta:
        pdf.set_font("text", size=10.5)
        pdf.set_text_color(80, 80, 80)
        pdf.multi_cell(width, 6, broken(f"{label}：{value}"), new_x="LMARGIN", new_y="NEXT", wrapmode=CHAR)
    pdf.set_text_color(0, 0, 0)

    for number, section in enumerate(document.sections, start=1):
        pdf.ln(3)
        pdf.set_font("bold", size=14)
        pdf.multi_cell(
            width, 9, f"{chinese_ordinal(number)}、{section.heading}", new_x="LMARGIN", new_y="NEXT"
        )
        for block in section.blocks:
            match block:
                case Paragraph(text=text, style=style):
                    size = 10 if style == "note" else 12
                    pdf.set_font("text", size=size)
                    pdf.set_text_color(90, 90, 90) if style == "note" else pdf.set_text_color(0, 0, 0)
                    indent = "" if style == "note" else "\u3000\u3000"
                    pdf.multi_cell(
                        width,
                        size * 0.62,
                        broken(indent + text),
                        new_x="LMARGIN",
                        new_y="NEXT",
                        wrapmode=CHAR,
                    )
                    pdf.set_text_color(0, 0, 0)
                    pdf.ln(1)
                case Bullets(items=items):
                    pdf.set_font("text", size=12)
                    for item in items:
                        pdf.multi_cell(
                            width, 7.4, broken(f"· {item}"), new_x="LMARGIN", new_y="NEXT", wrapmode=CHAR
                        )
                case Quote(text=text, source=source):
                    pdf.set_font("text", size=11)
                    pdf.set_x(pdf.l_margin + 8)
                    pdf.multi_cell(
                        width - 8,
                        6.6,
                        broken(f"“{text}”——{source}", width - 8),
                        new_x="LMARGIN",
                        new_y="NEXT",
                        wrapmode=CHAR,
                    )
                    pdf.ln(1)
                case Figure(caption=caption, png=png, missing=missing):
                    if png is not None:
                        shown = min(width - 6, _natural_mm(png))
                        pdf.image(io.BytesIO(png), x=pdf.l_margin + (width - shown) / 2, w=shown)
                        pdf.set_font("bold", size=10.5)
                        pdf.multi_cell(
                            width, 6, caption, align="C", new_x="LMARGIN", new_y="NEXT", wrapmode=CHAR
                        )
                    else:
                        pdf.set_font("text", size=10)
                        pdf.multi_cell(
                            width, 6, f"{caption}（{missing}）", new_x="LMARGIN", new_y="NEXT", wrapmode=CHAR
                        )
                    pdf.ln(2)
                case Table(columns=columns, rows=rows, widths=widths, caption=caption):
                    if caption:
                        pdf.set_font("bold", size=10.5)
                        pdf.multi_cell(
                            width, 6, caption, align="C", new_x="LMARGIN", new_y="NEXT", wrapmode=CHAR
                        )
                    pdf.set_font("text", size=9.5)
                    pdf.set_draw_color(120, 120, 120)
                    pdf.set_line_width(0.2)
                    col_widths = widths or tuple(1 for _ in columns)
                    try:
                        with pdf.table(
                            col_widths=col_widths,
                            width=width,
                            line_height=_PDF_LINE,
                            headings_style=FontFace(family="bold", fill_color=(231, 230, 230)),
                            repeat_headings=1,
                            text_align="LEFT",
                            wrapmode=CHAR,
                        ) as table:
                            lines = int(pdf.eph * 0.6 / _PDF_LINE)
                            # each cell broken by the Chinese rules: fpdf2's own breaking split
                            # 「16:33」 into 「16:3」 and 「3」
                            # (fpdf2 takes the border's line width off a cell's text width too)
                            cell_widths = [width * w / sum(col_widths) - pdf.line_width for w in col_widths]
                            for values in (tuple(columns), *_pdf_rows(rows, col_widths, width, lines)):
                                row = table.row()
                                for value, cell_width in zip(values, cell_widths, strict=True):
                                    row.cell(broken(value, cell_width) if value else value)
                    except FPDFException as exc:
                        raise ReportFormatError(
                            f"表格“{caption or section.heading}”无法排入 PDF 页面；可改用 docx 或 html 格式"
                        ) from exc
                    pdf.ln(3)
    return bytes(pdf.output())


# Chinese line-breaking rules (禁则): these never begin a line, these never end one.
_NO_START = frozenset("，。、；：！？）】』」》〉”’…—·%℃,.;:!?)]}")
_NO_END = frozenset("（【『「《〈“‘([{")
# A run of Latin letters, digits and their signs is kept whole on a line when it fits.
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,:/%_+\-]*")


def wrap_lines(text: str, limit: float, measure: Callable[[str], float]) -> list[str]:
    """`text` broken into lines no wider than `limit` (by `measure`), between any two characters as
    Chinese allows, but by its rules: closing punctuation (「，」「。」「）」「”」…) never begins a
    line and opening punctuation (「（」「“」…) never ends one: the characters before it go to the
    next line with it. A number or Latin word goes whole to the next line when it fits on one. A
    line break in the text starts a line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        tokens = _tokens(paragraph, limit, measure)
        line: list[str] = []
        used = 0.0
        for token in tokens:
            w = measure(token)
            if line and used + w > limit:
                carry: list[str] = []
                # a closing mark takes the character before it along (and that one's, if it is
                # a closing mark too)
                head = token
                while head[0] in _NO_START and len(line) > 1:
                    carry.insert(0, line.pop())
                    head = carry[0]
                while line[-1][-1] in _NO_END and len(line) > 1:  # an opening mark goes on
                    carry.insert(0, line.pop())
                lines.append("".join(line))
                line, used = carry, sum(measure(t) for t in carry)
            line.append(token)
            used += w
        lines.append("".join(line))
    return lines


def _tokens(paragraph: str, limit: float, measure: Callable[[str], float]) -> list[str]:
    """Characters, and Latin words or numbers that fit on a line as one token."""
    tokens: list[str] = []
    at = 0
    for match in _WORD.finditer(paragraph):
        tokens.extend(paragraph[at : match.start()])
        word = match.group()
        if len(word) > 1 and measure(word) <= limit:
            tokens.append(word)
        else:
            tokens.extend(word)
        at = match.end()
    tokens.extend(paragraph[at:])
    return tokens


_PDF_LINE = 5.2  # mm, a table line at 9.5 pt
_PDF_CHAR = 9.5 * 0.3528  # mm, the width of a Chinese character at 9.5 pt (Latin ones are narrower)


def _pdf_rows(
    rows: Sequence[Sequence[str]], widths: Sequence[float], width: float, max_lines: int
) -> Iterator[tuple[str, ...]]:
    """The rows of a PDF table, a row whose text would not fit on one page (a 12,000-character
    答复意见) cut into rows that do: its long cells go on in the rows after it, the other cells
    of those rows empty. fpdf2 cannot split a row across pages and refuses a table holding one."""
    total = sum(widths)
    per_line = [max(1, int((width * w / total - 2) / _PDF_CHAR)) for w in widths]
    for values in rows:
        pieces = [_cut(str(value), chars, max_lines) for value, chars in zip(values, per_line, strict=True)]
        for i in range(max(len(p) for p in pieces)):
            yield tuple(p[i] if i < len(p) else "" for p in pieces)


def _cut(text: str, per_line: int, max_lines: int) -> list[str]:
    """`text` in pieces of at most `max_lines` lines of `per_line` characters (a line break starts a
    line)."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for line in text.split("\n"):
        while True:
            need = max(1, -(-len(line) // per_line))
            if used + need <= max_lines:
                current.append(line)
                used += need
                break
            room = (max_lines - used) * per_line
            if room > 0:
                current.append(line[:room])
                line = line[room:]
            pieces.append("\n".join(current))
            current, used = [], 0
            if not line:
                break
    if current or not pieces:
        pieces.append("\n".join(current))
    return pieces


# ---- Excel -----------------------------------------------------------------------------------------


# What makes a spreadsheet read text as a formula (or, pasted on, as the start of one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(sheet: Worksheet, row: int, column: int, value: str) -> Cell | MergedCell:
    """Write `value` into a cell as text, whatever it starts with. Every cell filled from stored
    data goes through here: a unit named `=HYPERLINK(…)` or a post starting with `@` or `-` must
    show as the text it is, never become a formula. openpyxl makes any string starting with "="
    a formula, so the cell is typed as a string; one that looks like a formula also gets Excel's
    quote prefix (the leading apostrophe), so editing it in Excel or WPS keeps it text."""
    cell = sheet.cell(row, column)
    cell.value = value
    cell.data_type = "s"
    if value.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def to_xlsx(document: Document) -> bytes:
    """The document's tables as sheets (the response table's own sheet first), with a title row."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    sheets = list(document.sheets)
    if not sheets:
        for section in document.sections:
            for block in section.blocks:
                if isinstance(block, Table):
                    sheets.append((block.caption or section.heading, block))
    if not sheets:
        raise ReportFormatError("该报告没有表格，不能导出为 xlsx；请选择 docx、pdf 或 html")
    book = Workbook()
    for blank in list(book.worksheets):
        book.remove(blank)
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    used: set[str] = set()
    for name, table in sheets:
        title = "".join(ch for ch in name if ch not in "[]:*?/\\")[:28] or "表"
        while title in used:
            title = title[:26] + f"{len(used)}"
        used.add(title)
        sheet = book.create_sheet(title)
        text_cell(sheet, 1, 1, document.title).font = Font(bold=True, size=14)
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(table.columns))
        sheet.cell(1, 1).alignment = Alignment(horizontal="center")
        meta = "；".join(f"{label}：{value}" for label, value in document.meta)
        text_cell(
            sheet,
            2,
            1,
            f"填报单位：{document.issuer}　填报日期：{issued_text(document)}" + (f"　{meta}" if meta else ""),
        )
        sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(table.columns))
        for c, heading in enumerate(table.columns, start=1):
            cell = text_cell(sheet, 3, c, heading)
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="E7E6E6")
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            cell.border = border
        for r, row in enumerate(table.rows, start=4):
            for c, value in enumerate(row, start=1):
                cell = text_cell(sheet, r, c, value)
                cell.alignment = Alignment(vertical="top", wrap_text=True)
                cell.border = border
        for c, heading in enumerate(table.columns, start=1):
            longest = max([len(heading)] + [len(row[c - 1]) for row in table.rows])
            sheet.column_dimensions[get_column_letter(c)].width = min(60, max(8, longest * 1.8 + 2))
        sheet.freeze_panes = "A4"
        sheet.print_title_rows = "3:3"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth = 1
    book.properties.title = document.title
    book.properties.creator = "yuqing"
    book.properties.created = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
