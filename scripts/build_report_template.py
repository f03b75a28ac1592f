"""Build the default Word template of yuqing's reports (src/yuqing/reports/templates/default.docx).

The layout follows the common form of Chinese office documents (GB/T 9704): A4, margins 37 / 35 /
28 / 26 mm, a red banner with the report's name, its number and issuer above a red rule, the title
in a bold face, body text in a 仿宋-style face, first-level headings in 黑体, page numbers as
"— 1 —". An office replaces this file with its own house format (setting `report_template_dir`):
the template must contain the fields {{ banner }}, {{ number_line }}, {{ issuer }}, {{ issued }},
{{ title }}, {{ drill_mark }} and the body {{p body }}, and may restyle "Normal", "Heading 1",
"Heading 2", "List Bullet", "Table Grid", "Caption", "Quote", "Report Lead", "Report Note" and
"Report Table Text".

Run: uv run python scripts/build_report_template.py
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import BaseStyle

OUT = Path(__file__).resolve().parents[1] / "src" / "yuqing" / "reports" / "templates" / "default.docx"
RED = RGBColor(0xC0, 0x00, 0x00)


def set_fonts(style: BaseStyle, latin: str, east_asia: str, size: float, *, bold: bool = False) -> None:
    font = style.font  # type: ignore[attr-defined]
    font.name = latin
    font.size = Pt(size)
    font.bold = bold
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), east_asia)


def paragraph_style(document, name: str, base: str = "Normal"):  # type: ignore[no-untyped-def]
    styles = document.styles
    if name in [s.name for s in styles]:
        return styles[name]
    style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = styles[base]
    return style


def bottom_rule(paragraph, colour: str = "C00000", size: int = 18) -> None:  # type: ignore[no-untyped-def]
    ppr = paragraph._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", str(size)), ("w:space", "6"), ("w:color", colour)):
        bottom.set(qn(key), value)
    border.append(bottom)
    ppr.append(border)


def page_number_footer(section) -> None:  # type: ignore[no-untyped-def]
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("— ")
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind is not None:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._r.append(element)
    paragraph.add_run(" —")


def build() -> None:
    document = Document()
    section = document.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)

    styles = document.styles
    set_fonts(styles["Normal"], "Times New Roman", "仿宋", 14)
    normal = styles["Normal"].paragraph_format
    normal.line_spacing = Pt(26)
    normal.first_line_indent = Pt(28)
    normal.space_after = Pt(0)
    for name, east_asia, size in (("Heading 1", "黑体", 15), ("Heading 2", "楷体", 14)):
        style = styles[name]
        set_fonts(style, "Times New Roman", east_asia, size, bold=name == "Heading 1")
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.paragraph_format.space_before = Pt(10)
        style.paragraph_format.space_after = Pt(4)
        style.paragraph_format.first_line_indent = Pt(0)
    lead = paragraph_style(document, "Report Lead")
    set_fonts(lead, "Times New Roman", "楷体", 14)
    lead.paragraph_format.space_after = Pt(6)
    note = paragraph_style(document, "Report Note")
    set_fonts(note, "Times New Roman", "仿宋", 10.5)
    note.font.color.rgb = RGBColor(0x59, 0x59, 0x59)
    cell = paragraph_style(document, "Report Table Text")
    set_fonts(cell, "Times New Roman", "仿宋", 10.5)
    cell.paragraph_format.first_line_indent = Pt(0)
    cell.paragraph_format.line_spacing = Pt(15)
    quote = styles["Quote"]
    set_fonts(quote, "Times New Roman", "楷体", 12)
    quote.paragraph_format.left_indent = Pt(28)
    quote.paragraph_format.first_line_indent = Pt(0)
    caption = styles["Caption"]
    set_fonts(caption, "Times New Roman", "黑体", 10.5)
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.first_line_indent = Pt(0)
    caption.font.color.rgb = RGBColor(0, 0, 0)
    bullet = styles["List Bullet"]
    bullet.paragraph_format.first_line_indent = Pt(0)

    banner = document.add_paragraph()
    banner.alignment = WD_ALIGN_PARAGRAPH.CENTER
    banner.paragraph_format.first_line_indent = Pt(0)
    run = banner.add_run("{{ banner }}")
    run.font.size, run.font.bold, run.font.color.rgb = Pt(26), True, RED
    run._r.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "方正小标宋简体")

    number = document.add_paragraph()
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    number.paragraph_format.first_line_indent = Pt(0)
    number.add_run("{{ number_line }}")

    issuer = document.add_paragraph()
    issuer.paragraph_format.first_line_indent = Pt(0)
    issuer.add_run("编发：{{ issuer }}")
    issuer.add_run("\t{{ issued }}")
    issuer.paragraph_format.tab_stops.add_tab_stop(Mm(156), alignment=2)  # right-aligned date
    bottom_rule(issuer)

    mark = document.add_paragraph()
    mark.alignment = WD_ALIGN_PARAGRAPH.CENTER
    mark.paragraph_format.first_line_indent = Pt(0)
    run = mark.add_run("{{ drill_mark }}")
    run.font.bold, run.font.color.rgb = True, RED

    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.first_line_indent = Pt(0)
    title.paragraph_format.space_after = Pt(12)
    run = title.add_run("{{ title }}")
    run.font.size, run.font.bold = Pt(18), True
    run._r.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "黑体")

    document.add_paragraph("{{p body }}")
    page_number_footer(section)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(OUT))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    build()
