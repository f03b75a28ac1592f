"""What a report says, independent of the file it is written to.

Every report is built as a `Document` — a header (the kind of report, its number, the issuing
unit, the date), a title and numbered sections holding paragraphs, lists, tables, charts and
quoted posts — and then written to Word, PDF, HTML or Excel by `yuqing.reports.render`. The
builders (`special`, `periodic`, `response_table`, `summary`) fill it from stored data only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = [
    "Block",
    "Bullets",
    "Document",
    "Figure",
    "Paragraph",
    "Quote",
    "Section",
    "Table",
]


@dataclass(frozen=True)
class Paragraph:
    text: str
    # "body" | "lead" (a summary paragraph set apart) | "note" (small print, e.g. data sources)
    style: str = "body"


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    # Relative column widths; None: equal.
    widths: tuple[float, ...] | None = None
    caption: str | None = None

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table row has {len(row)} cells, expected {len(self.columns)}")
        if self.widths is not None and len(self.widths) != len(self.columns):
            raise ValueError("table widths do not match its columns")


@dataclass(frozen=True)
class Figure:
    """A chart drawn as a PNG image; `png` is None when it could not be drawn (`missing` says why)."""

    caption: str
    png: bytes | None
    missing: str | None = None


@dataclass(frozen=True)
class Quote:
    """A representative post, quoted with where and when it appeared."""

    text: str
    source: str


Block = Paragraph | Bullets | Table | Figure | Quote


@dataclass
class Section:
    heading: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    kind: str  # special | daily | weekly | response_table | summary | drill
    banner: str  # the red header line: 舆情专报, 网络舆情日报, …
    title: str
    issuer: str  # the unit issuing it
    issued_at: dt.datetime  # aware; shown in the report's time zone
    zone: str
    number: str | None = None  # 2026年第3期
    meta: list[tuple[str, str]] = field(default_factory=list)  # 报告期间, 统计口径, …
    sections: list[Section] = field(default_factory=list)
    is_drill: bool = False
    # Wide tables (the response table): the page is turned.
    landscape: bool = False
    # Plain data for spreadsheets: one sheet per table, in order (the response table).
    sheets: list[tuple[str, Table]] = field(default_factory=list)

    def section(self, heading: str) -> Section:
        section = Section(heading)
        self.sections.append(section)
        return section

    def plain_text(self) -> str:
        """Everything the document says, as text (for tests, search and the archive's preview)."""
        lines = [self.banner, self.number or "", self.title, self.issuer]
        lines += [f"{label}：{value}" for label, value in self.meta]
        for section in self.sections:
            lines.append(section.heading)
            for block in section.blocks:
                match block:
                    case Paragraph(text=text):
                        lines.append(text)
                    case Bullets(items=items):
                        lines.extend(items)
                    case Table(columns=columns, rows=rows, caption=caption):
                        if caption:
                            lines.append(caption)
                        lines.append(" | ".join(columns))
                        lines.extend(" | ".join(row) for row in rows)
                    case Figure(caption=caption, missing=missing):
                        lines.append(caption + (f"（{missing}）" if missing else ""))
                    case Quote(text=text, source=source):
                        lines.append(f"“{text}”——{source}")
        return "\n".join(line for line in lines if line)
