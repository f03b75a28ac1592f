"""File import: JSON Lines, JSON, CSV and XLSX, each optionally gzip-compressed.

Rows are read lazily, so a file of any length imports in constant memory apart from the file's
own bytes, which are kept once as evidence: JSON Lines line by line, JSON as a stream of records
(`ingest.jsonstream`), a compressed file decompressed as it is read and never past
`import_max_decompressed_bytes`. A row that cannot be read (a line that is not JSON, a CSV row
with the wrong number of fields or a field over `MAX_CSV_FIELD_CHARS`, an Excel row or sheet that
is damaged) becomes a dead letter and the rest of the file lands.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from yuqing.ingest.connectors.base import ConnectorError
from yuqing.ingest.decoding import decode_document
from yuqing.ingest.jsonstream import json_error_text, json_layout, record_bytes, stream_records
from yuqing.ingest.records import RawItem, Rejected

log = logging.getLogger(__name__)
FileFormat = Literal["jsonl", "json", "csv", "xlsx"]
FORMATS: tuple[FileFormat, ...] = ("jsonl", "json", "csv", "xlsx")
_SUFFIXES: dict[str, FileFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".xlsx": "xlsx",
}
# The decompressed size of one file when no limit is given (the setting's default).
DEFAULT_MAX_DECOMPRESSED = 1024**3
# The longest CSV field read; Python's csv module stops at 131,072 characters by default, which a
# long article exceeds. A longer field makes its row a dead letter.
MAX_CSV_FIELD_CHARS = 16 * 1024 * 1024


class ImportFormatError(ConnectorError):
    """The file's format could not be told or read."""


class DecompressedTooLarge(ImportFormatError):
    """A compressed file that grows past the limit (a 'zip bomb', or a setting too small)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"压缩文件解压后超过 {limit:,} 字节上限（设置 import_max_decompressed_bytes），其后的内容未导入"
        )


def guess_format(name: str, data: bytes) -> FileFormat:
    path = Path(name.lower())
    suffix = path.suffix
    if suffix == ".gz":
        suffix = Path(path.stem).suffix
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    sample = _sample(data).lstrip()[:1] if data else b""
    if data[:2] == b"PK":
        return "xlsx"
    if sample == b"[":
        return "json"
    if sample == b"{":
        return "jsonl"
    raise ImportFormatError(f"无法判断文件格式：{name}（请用 --format 指定 jsonl、json、csv 或 xlsx）")


def _sample(data: bytes) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data[:4096]
    with open_file(data) as stream:
        return stream.read(4096)


class CompressedDamaged(ImportFormatError):
    """A gzip file that is cut short or corrupt: what came before the damage has been read."""


class _Gunzip(io.RawIOBase):
    """A gzip file decompressed as it is read, never past `limit` bytes.

    A file cut short or damaged ends the stream where the damage starts, after every byte that
    could be decompressed before it (`damage` then says what is wrong), so a reader keeps each
    whole line before it. `gzip.GzipFile` raises instead and drops what its last read had
    decompressed. Several gzip members one after another (`cat a.gz b.gz`) are one stream."""

    _CHUNK = 16 * 1024

    def __init__(self, data: bytes, limit: int) -> None:
        self._data = memoryview(data)
        self._at = 0
        self._limit = limit
        self._given = 0
        self._pending = b""
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.damage: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and self.damage is None and self._more():
            self._inflate_more(len(buffer))
        if not self._pending:
            return 0
        size = min(len(buffer), len(self._pending))
        if self._given + size > self._limit:
            raise DecompressedTooLarge(self._limit)
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self._given += size
        return size

    def _more(self) -> bool:
        """Whether there is more to decompress: the member goes on, or another follows."""
        if not self._inflate.eof:
            return True
        rest = self._inflate.unused_data + bytes(self._data[self._at :])
        if not rest.strip(b"\0"):  # the end, or padding after the last member
            return False
        self._data, self._at = memoryview(rest), 0
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return True

    def _inflate_more(self, want: int) -> None:
        inflate = self._inflate
        if inflate.unconsumed_tail:
            source = inflate.unconsumed_tail
        elif self._at < len(self._data):
            source = bytes(self._data[self._at : self._at + self._CHUNK])
            self._at += len(source)
        else:
            self.damage = "压缩数据在结束标记之前中断（文件不完整）"
            return
        before = inflate.copy()
        try:
            self._pending = inflate.decompress(source, max(want, 4 * self._CHUNK))
        except zlib.error as exc:
            self.damage = f"压缩数据损坏：{exc}"
            self._pending = _up_to_damage(before, source)


def _up_to_damage(inflate: Any, source: bytes) -> bytes:
    """What `source` decompresses to before the byte where it is corrupt."""
    out = []
    for at in range(0, len(source), 64):
        try:
            out.append(inflate.decompress(source[at : at + 64]))
        except zlib.error:
            break
    return b"".join(out)


def open_file(data: bytes, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> IO[bytes]:
    """The file's bytes as a stream, decompressed on the fly (at most `max_decompressed` bytes).

    A damaged gzip file's stream ends where the damage starts; `damage_of` then says what it is."""
    if data[:2] == b"\x1f\x8b":
        return io.BufferedReader(_Gunzip(data, max_decompressed), buffer_size=64 * 1024)
    return io.BytesIO(data)


def damage_of(stream: IO[bytes]) -> str | None:
    """What is wrong with the compressed file behind `stream` (None when nothing, or not gzip)."""
    raw = getattr(stream, "raw", None)
    return raw.damage if isinstance(raw, _Gunzip) else None


def decompressed(data: bytes, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> tuple[bytes, str | None]:
    """The whole file decompressed (CSV and Excel are read whole), at most `max_decompressed`,
    and what is wrong with it when it is damaged (the bytes are then those before the damage)."""
    if data[:2] != b"\x1f\x8b":
        return data, None
    with open_file(data, max_decompressed) as stream:
        return stream.read(), damage_of(stream)


def read_rows(
    data: bytes, file_format: FileFormat, *, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED
) -> Iterator[RawItem | Rejected]:
    """The file's rows as raw items (or rejections), in file order."""
    if file_format == "jsonl":
        yield from _jsonl_rows(data, max_decompressed)
    elif file_format == "json":
        yield from _json_rows(data, max_decompressed)
    elif file_format == "csv":
        text, damage = decompressed(data, max_decompressed)
        if damage is None:
            yield from _csv_rows(text)
            return
        # the rows before the damage land; the line it cut short is its dead letter's evidence
        whole, newline, cut = text.rpartition(b"\n")
        yield from _csv_rows(whole + newline)
        lines = whole.count(b"\n") + 1 if newline else 0
        yield Rejected(f"line={lines + 1}", "ingest.parse", _damaged_after(lines, "行", damage), cut or None)
    else:
        xlsx, damage = decompressed(data, max_decompressed)
        if damage is not None:
            raise ImportFormatError(f"压缩文件已损坏：{damage}")
        yield from _xlsx_rows(xlsx)


def _damaged_after(count: int, unit: str, damage: str) -> str:
    if count == 0:
        return f"压缩文件已损坏，未读到任何内容：{damage}"
    return f"压缩文件在第 {count} {unit}之后损坏，其后的内容无法读取：{damage}"


def _json_rows(data: bytes, max_decompressed: int) -> Iterator[RawItem | Rejected]:
    data = _from_utf16(data)
    opened: list[IO[bytes]] = []

    def open_stream() -> IO[bytes]:
        opened.append(open_file(data, max_decompressed))
        return opened[-1]

    def damage() -> str | None:
        return next((found for found in map(damage_of, opened) if found), None)

    try:
        layout = json_layout(open_stream)
    except DecompressedTooLarge:
        raise
    except ConnectorError as exc:
        if damage():
            raise ImportFormatError(_damaged_after(0, "条", damage() or "")) from exc
        raise ImportFormatError(f"JSON 文件无法解析：{exc}") from exc
    records = stream_records(open_stream, layout)
    position = 0
    while True:
        try:
            row = next(records)
        except StopIteration:
            return
        except DecompressedTooLarge:
            if position == 0:
                raise
            yield Rejected(f"item={position}", "ingest.parse", str(DecompressedTooLarge(max_decompressed)))
            return
        except ConnectorError as exc:
            # a compressed file cut short ends its JSON early: the records before it have landed
            if (found := damage()) is None:
                raise ImportFormatError(f"JSON 文件无法解析：{exc}") from exc
            if position == 0:
                raise ImportFormatError(_damaged_after(0, "条", found)) from exc
            yield Rejected(f"item={position + 1}", "ingest.parse", _damaged_after(position, "条", found))
            return
        if isinstance(row, Rejected) and (found := damage()) is not None:
            yield Rejected(row.locator, row.stage, _damaged_after(position, "条", found), row.raw)
            return
        position += 1
        yield row


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _from_utf16(data: bytes) -> bytes:
    """A file saved as UTF-16 with its byte-order mark (Windows PowerShell's `>`, Notepad's
    「Unicode」) as UTF-8; any other file as it is."""
    if data[:2] not in _UTF16_BOMS:
        return data
    try:
        return data.decode("utf-16").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFormatError("文件以 UTF-16 字节序标记开头，但无法按 UTF-16 解码，请另存为 UTF-8") from exc


def _legacy_line(line: bytes) -> bytes | None:
    """A line that is not UTF-8, decoded as GB18030 (GBK) or Big5 and given back as UTF-8; None
    for a line that is UTF-8 or none of them (the JSON itself is what is wrong)."""
    if _valid_utf8(line):
        return None
    for codec in ("gb18030", "big5"):
        try:
            return line.decode(codec).encode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


# A file whose first this many non-empty lines are all refused is not JSON Lines (a binary file, an
# archive, a document): one dead letter says so and reading stops (3 MB of random bytes made 11,623).
NOT_JSONL_AFTER = 20


def _jsonl_rows(data: bytes, max_decompressed: int) -> Iterator[RawItem | Rejected]:
    """The file's records; each bad line a dead letter, unless no line is good at all."""
    held: list[Rejected] = []  # refused lines before the first good one
    seen_good = False
    for row in _jsonl_lines(data, max_decompressed):
        if isinstance(row, RawItem):
            seen_good = True
            yield from held
            held.clear()
            yield row
        elif seen_good:
            yield row
        else:
            held.append(row)
            if len(held) >= NOT_JSONL_AFTER:
                undecodable = sum("既不是 UTF-8 编码" in r.error for r in held)
                why = f"，其中 {undecodable} 行既不是 UTF-8 也不是 GBK 文本" if undecodable else ""
                yield Rejected(
                    "file",
                    "ingest.parse",
                    f"文件的前 {NOT_JSONL_AFTER} 行都不是 JSON 对象{why}：这不像 JSON Lines 文件"
                    "（可能是二进制文件、压缩包或其他格式），已停止读取。"
                    "请检查文件，或用 --format 指定 csv、xlsx、json",
                    data[:4096],
                )
                return
    yield from held


def _jsonl_lines(data: bytes, max_decompressed: int) -> Iterator[RawItem | Rejected]:
    stream = open_file(_from_utf16(data), max_decompressed)
    number = 0
    try:
        for number, line in enumerate(stream, start=1):
            if not line.endswith(b"\n") and (damage := damage_of(stream)) is not None:
                # the line the damage cut short is the dead letter's evidence
                yield Rejected(
                    f"line={number}", "ingest.parse", _damaged_after(number - 1, "行", damage), line
                )
                return
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                # a GBK export (Excel, WPS and older crawlers on Chinese Windows write it) is read
                # line by line as CSV is; a line that is not JSON in any encoding is refused
                legacy = _legacy_line(line)
                where = f"line={number}"
                if legacy is None:
                    why = (
                        json_error_text(exc) if _valid_utf8(line) else "既不是 UTF-8 编码，也无法按 GBK 读取"
                    )
                    yield Rejected(where, "ingest.parse", f"第 {number} 行不是合法 JSON：{why}", line)
                    continue
                try:
                    record = orjson.loads(legacy)
                except orjson.JSONDecodeError as again:
                    yield Rejected(
                        where, "ingest.parse", f"第 {number} 行不是合法 JSON：{json_error_text(again)}", line
                    )
                    continue
            if isinstance(record, dict):
                yield RawItem(record=record, locator=f"line={number}", raw=line)
            else:
                yield Rejected(f"line={number}", "ingest.parse", f"第 {number} 行不是 JSON 对象", line)
        if (damage := damage_of(stream)) is not None:
            yield Rejected(f"line={number + 1}", "ingest.parse", _damaged_after(number, "行", damage))
    except DecompressedTooLarge as exc:
        yield Rejected(f"line={number + 1}", "ingest.parse", str(exc))
    finally:
        stream.close()


_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _reread_lines(
    physical: list[str], start: int, end: int, header: list[str]
) -> Iterator[RawItem | Rejected]:
    """Lines `start`..`end` (1-based) that the csv reader took as one row: the first opened a
    quote that closed lines later, or never; it is dead-lettered, and each line after it is a row
    of its own when it reads as one."""
    first = physical[start - 1] if start - 1 < len(physical) else ""
    yield Rejected(
        f"line={start}",
        "ingest.parse",
        f"CSV 第 {start} 行的引号没有闭合（其后第 {start + 1}–{end} 行已逐行读取）",
        first.encode("utf-8"),
    )
    for number in range(start + 1, min(end, len(physical)) + 1):
        line = physical[number - 1]
        if not line.strip():
            continue
        try:
            values = next(csv.reader([line]))
        except (csv.Error, StopIteration) as exc:
            message = f"CSV 第 {number} 行无法读取：{exc}"
            yield Rejected(f"line={number}", "ingest.parse", message, line.encode())
            continue
        raw = record_bytes(values)
        if len(values) != len(header):
            message = f"CSV 第 {number} 行有 {len(values)} 列，表头有 {len(header)} 列"
            yield Rejected(f"line={number}", "ingest.parse", message, raw)
            continue
        yield RawItem(record=dict(zip(header, values, strict=True)), locator=f"line={number}", raw=raw)


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mixed_lines(data: bytes) -> str:
    """A file no one encoding reads (a UTF-8 export with a GBK one appended: two Excel or WPS
    files merged), decoded line by line: UTF-8, else GB18030, else Big5, else with U+FFFD."""
    out: list[str] = []
    for line in data.splitlines(keepends=True):
        for codec in ("utf-8", "gb18030", "big5"):
            try:
                out.append(line.decode(codec))
                break
            except UnicodeDecodeError:
                continue
        else:
            out.append(line.decode("utf-8", errors="replace"))
    return "".join(out)


def _csv_rows(data: bytes) -> Iterator[RawItem | Rejected]:
    decoded = decode_document(data, None, kind="text")
    text = decoded.text
    mixed = decoded.encoding == "utf-8" and "\ufffd" in text and not _valid_utf8(data)
    if mixed:
        text = _mixed_lines(data)
    if text.startswith("\ufeff"):
        text = text[1:]
    # Process-wide, as the csv module has it; raised once, never lowered.
    if csv.field_size_limit() < MAX_CSV_FIELD_CHARS:
        csv.field_size_limit(MAX_CSV_FIELD_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ImportFormatError(f"CSV 文件第一行无法读取：{exc}") from exc
    header = [name.strip() for name in header]
    if not any(header):
        raise ImportFormatError("CSV 文件第一行没有列名")
    physical: list[str] | None = None  # the file's lines, split only when a row must be re-read
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader goes on at the next line, so one bad field costs its row only.
            yield Rejected(
                f"line={start}",
                "ingest.parse",
                f"CSV 第 {start} 行无法读取：{_csv_reason(exc)}",
            )
            continue
        number = reader.line_num
        if not any(v.strip() for v in values):
            continue
        raw = record_bytes(values)
        if mixed and any("\ufffd" in v for v in values):
            yield Rejected(
                f"line={number}",
                "ingest.parse",
                f"CSV 第 {number} 行的编码无法识别（文件中混有不同编码的行），未入库",
                raw,
            )
            continue
        if number > start and values:
            # A row over several lines: a quoted field with line breaks, or a quote opened and
            # never closed that swallowed the lines after it (odd quotes over the row, or on its
            # first line when the columns do not fit). Then the row that opened it is
            # dead-lettered and each line after it is read on its own.
            if physical is None:  # lines as the csv reader counts them (\r\n, \r or \n)
                physical = _LINE_RE.findall(text)
            span = physical[start - 1 : number]
            unclosed = "".join(span).count('"') % 2 == 1
            if unclosed or (len(values) != len(header) and span and span[0].count('"') % 2 == 1):
                yield from _reread_lines(physical, start, number, header)
                continue
        if len(values) != len(header):
            yield Rejected(
                f"line={number}",
                "ingest.parse",
                f"CSV 第 {number} 行有 {len(values)} 列，表头有 {len(header)} 列",
                raw,
            )
            continue
        yield RawItem(record=dict(zip(header, values, strict=True)), locator=f"line={number}", raw=raw)


def _csv_reason(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return f"有字段超过 {MAX_CSV_FIELD_CHARS:,} 字符上限"
    return str(exc)


# Rows above the header that hold at most one value are a sheet's title (「某市网络舆情信息汇总表」
# merged across the columns); the header is the first row with two or more, within this many.
_MAX_TITLE_ROWS = 10
_MERGE_RE = re.compile(rb'<mergeCell\s+ref="([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})"')


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


def _merged_ranges(data: bytes, sheet_path: str | None) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges (first row, first column, last row, last column), read from its
    XML: a read-only workbook does not give them, and a merged cell's value is in its first cell
    only (「平台」 merged down the rows of one platform in an office's sheet)."""
    if not sheet_path:
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            xml = package.read(sheet_path.lstrip("/"))
    except (KeyError, zipfile.BadZipFile, OSError):
        return []
    found = []
    for m in _MERGE_RE.finditer(xml):
        first_col, first_row = _column_number(m[1]), int(m[2])
        last_col, last_row = _column_number(m[3]), int(m[4])
        if last_row >= first_row and last_col >= first_col:
            found.append((first_row, first_col, last_row, last_col))
    return found


def _xlsx_rows(data: bytes) -> Iterator[RawItem | Rejected]:
    """The rows of the first worksheet. A damaged sheet keeps the rows read before the damage and
    gives one dead letter for the rest; a damaged row is a dead letter of its own. Title rows above
    the header are skipped; a merged cell's value stands in every row and column it covers."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        if isinstance(exc, zipfile.BadZipFile):  # a .xlsx is a zip archive: this one is none
            raise ImportFormatError(
                "Excel 文件无法打开：不是有效的 .xlsx 文件（可能已损坏，或是旧版 .xls、CSV 改了扩展名）"
            ) from exc
        raise ImportFormatError(f"Excel 文件无法打开：{type(exc).__name__}: {exc}") from exc
    number = 0
    try:
        try:
            sheet = workbook.worksheets[0]
            title = sheet.title
            merged = _merged_ranges(data, getattr(sheet, "_worksheet_path", None))
            rows = sheet.iter_rows(values_only=True)
            header_row = None
            for _ in range(_MAX_TITLE_ROWS):
                candidate = next(rows, None)
                if candidate is None:
                    break
                number += 1
                if sum(1 for v in candidate if v is not None and str(v).strip()) >= 2:
                    header_row = candidate
                    break
        except Exception as exc:  # a damaged sheet: nothing of it can be read
            raise ImportFormatError(f"Excel 文件的第一个工作表无法读取：{exc}") from exc
        if header_row is None:
            return
        header = [str(v).strip() if v is not None else "" for v in header_row]
        # merged ranges below the header: (first row, first col, last row, last col) -> value
        spans = [r for r in merged if r[0] > number]
        held: dict[tuple[int, int, int, int], Any] = {}
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # the sheet is damaged from here on
                log.warning("sheet %s of an Excel import is damaged after row %d: %s", title, number, exc)
                yield Rejected(
                    f"row={number + 1}",
                    "ingest.parse",
                    f"Excel 工作表 {title} 第 {number + 1} 行起无法读取，其后的行未导入：{exc}",
                )
                return
            number += 1
            if spans:
                values = _fill_merged(values, number, spans, held)
            if all(v is None or v == "" for v in values):
                continue
            record = {h: v for h, v in zip(header, values, strict=False) if h and v is not None}
            raw = record_bytes(record)
            yield RawItem(record=record, locator=f"row={number}", raw=raw)
    finally:
        workbook.close()


def _fill_merged(
    values: tuple[Any, ...],
    row: int,
    spans: list[tuple[int, int, int, int]],
    held: dict[tuple[int, int, int, int], Any],
) -> tuple[Any, ...]:
    """The row with each merged range's value copied down its first column (「平台」 merged over
    the rows of one platform); a range merged across columns keeps its value in its first cell,
    so one value never becomes two fields."""
    filled = list(values)
    for span in spans:
        first_row, first_col, last_row, _last_col = span
        if not first_row <= row <= last_row:
            continue
        column = first_col - 1
        if row == first_row:
            held[span] = filled[column] if column < len(filled) else None
            continue
        value = held.get(span)
        if value is None:
            continue
        if len(filled) <= column:
            filled.extend([None] * (column + 1 - len(filled)))
        if filled[column] is None:
            filled[column] = value
    return tuple(filled)
