"""File import: JSON Lines, JSON, CSV and XLSX, each optionally gzip-compressed.

Rows are read lazily, so a file of any length imports in constant memory apart from the file's
own bytes, which are kept once as evidence. A row that cannot be read (a line that is not JSON, a
CSV row with the wrong number of fields) becomes a dead letter and the rest of the file lands.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import orjson

from yuqing.ingest.connectors.api import json_items
from yuqing.ingest.connectors.base import ConnectorError
from yuqing.ingest.decoding import decode_document
from yuqing.ingest.records import RawItem, Rejected

FileFormat = Literal["jsonl", "json", "csv", "xlsx"]
FORMATS: tuple[FileFormat, ...] = ("jsonl", "json", "csv", "xlsx")
_SUFFIXES: dict[str, FileFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".xlsx": "xlsx",
}


class ImportFormatError(ConnectorError):
    """The file's format could not be told or read."""


def guess_format(name: str, data: bytes) -> FileFormat:
    path = Path(name.lower())
    suffix = path.suffix
    if suffix == ".gz":
        suffix = Path(path.stem).suffix
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    sample = maybe_decompress(data[:4096]).lstrip()[:1] if data else b""
    if data[:2] == b"PK":
        return "xlsx"
    if sample == b"[":
        return "json"
    if sample == b"{":
        return "jsonl"
    raise ImportFormatError(f"无法判断文件格式：{name}（请用 --format 指定 jsonl、json、csv 或 xlsx）")


def maybe_decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (EOFError, OSError):
            # A truncated sample of a larger file: decompress what is there.
            return gzip.GzipFile(fileobj=io.BytesIO(data)).read1(len(data) * 8)
    return data


def read_rows(data: bytes, file_format: FileFormat) -> Iterator[RawItem | Rejected]:
    """The file's rows as raw items (or rejections), in file order."""
    if file_format == "jsonl":
        yield from _jsonl_rows(data)
    elif file_format == "json":
        try:
            payload = orjson.loads(maybe_decompress(data))
        except orjson.JSONDecodeError as exc:
            raise ImportFormatError(f"JSON 文件无法解析：{exc}") from exc
        yield from json_items(payload)
    elif file_format == "csv":
        yield from _csv_rows(maybe_decompress(data))
    else:
        yield from _xlsx_rows(maybe_decompress(data))


def _jsonl_rows(data: bytes) -> Iterator[RawItem | Rejected]:
    stream: io.BufferedIOBase = (
        gzip.GzipFile(fileobj=io.BytesIO(data)) if data[:2] == b"\x1f\x8b" else io.BytesIO(data)
    )
    number = 0
    try:
        for number, line in enumerate(stream, start=1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Rejected(f"line={number}", "ingest.parse", f"第 {number} 行不是合法 JSON：{exc}", line)
                continue
            if isinstance(record, dict):
                yield RawItem(record=record, locator=f"line={number}", raw=line)
            else:
                yield Rejected(f"line={number}", "ingest.parse", f"第 {number} 行不是 JSON 对象", line)
    except (EOFError, OSError) as exc:
        # A truncated or corrupt gzip file: everything before the damage has been read.
        yield Rejected(f"line={number + 1}", "ingest.parse", f"压缩文件在第 {number} 行之后损坏：{exc}")


def _csv_rows(data: bytes) -> Iterator[RawItem | Rejected]:
    text = decode_document(data, None, kind="text").text
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [name.strip() for name in header]
    if not any(header):
        raise ImportFormatError("CSV 文件第一行没有列名")
    for values in reader:
        number = reader.line_num
        if not any(v.strip() for v in values):
            continue
        raw = orjson.dumps(values)
        if len(values) != len(header):
            yield Rejected(
                f"line={number}",
                "ingest.parse",
                f"CSV 第 {number} 行有 {len(values)} 列，表头有 {len(header)} 列",
                raw,
            )
            continue
        yield RawItem(record=dict(zip(header, values, strict=True)), locator=f"line={number}", raw=raw)


def _xlsx_rows(data: bytes) -> Iterator[RawItem | Rejected]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportFormatError(f"Excel 文件无法打开：{exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None:
            return
        header = [str(v).strip() if v is not None else "" for v in header_row]
        for number, values in enumerate(rows, start=2):
            if all(v is None or v == "" for v in values):
                continue
            record = {h: v for h, v in zip(header, values, strict=False) if h and v is not None}
            raw = orjson.dumps(record, default=str)
            yield RawItem(record=record, locator=f"row={number}", raw=raw)
    finally:
        workbook.close()
