"""The records of a JSON document, read as a stream (ijson) in constant memory whatever its size.

A document is a list of records, an object holding such a list under one of `ITEM_KEYS` (or under
a source's `items_path`), or one record. Every record keeps its own bytes (re-serialised) and a
locator `item=N`, the same whether it arrived by webhook, API or file, so evidence can find it
again.

yajl, ijson's C backend, refuses a number beyond 64 bits or a double ("integer overflow"), which
would lose the rest of the document for one bad value. The stream then starts again on ijson's
Python backend, which reads such numbers, and skips the records already read: one poison value
costs one dead letter, not the document.

ijson builds a new path string at every level it enters, so memory grows with the square of the
nesting: a body of 200 KB of `[` took gigabytes. Every stream handed to ijson counts the nesting
as it is read and stops a document deeper than `MAX_DEPTH`, before the parser sees that level.
"""

from __future__ import annotations

import decimal
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson  # type: ignore[import-untyped]
import orjson

from yuqing.ingest.connectors.base import ConnectorError
from yuqing.ingest.records import RawItem, Rejected

__all__ = [
    "ITEM_KEYS",
    "MAX_DEPTH",
    "JSONLayout",
    "JSONStreamError",
    "json_layout",
    "json_records",
    "record_bytes",
    "stream_records",
]

# Keys of an object that hold its records, in order of preference.
ITEM_KEYS = ("posts", "items", "data", "results", "list", "statuses")
Opener = Callable[[], IO[bytes]]

_FAST = ijson.get_backend("yajl2_c")
_EXACT = ijson.get_backend("python")
_ELEMENT_EVENTS = frozenset({"start_map", "start_array", "string", "number", "boolean", "null"})
_BOM = b"\xef\xbb\xbf"
# Real posts nest a few levels (a repost inside a post, its user, the user's counts); far more is
# an attack on the parser's memory.
MAX_DEPTH = 64
# What the depth count reads of a chunk: escapes (`\"` is no quote) are dropped first, then every
# byte but quotes and brackets, then what lies inside strings (brackets there do not count).
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')


class JSONStreamError(ConnectorError):
    """The document cannot be read as JSON at all (nothing in it could be read)."""


@dataclass(frozen=True)
class JSONLayout:
    """Where a document's records are: an ijson prefix ("item", "posts.item"; "" for the document
    itself as one record), and how many there are when they were counted."""

    prefix: str
    count: int | None = None


def json_layout(open_stream: Opener, items_path: str | None = None, *, count: bool = False) -> JSONLayout:
    """Find the records of a document (one pass over its events, building no objects, unless the
    document is a list and no count is asked for). JSONStreamError when it is not JSON."""
    if items_path and any(part.isdigit() for part in items_path.split(".")):
        raise ValueError("a path through list positions cannot be streamed")
    if not count and not items_path:
        with open_stream() as stream:
            if _first_byte(stream) == b"[":
                return JSONLayout("item")
    try:
        return _scan(open_stream, items_path, _FAST)
    except ijson.JSONError as exc:
        if not _is_overflow(exc):
            raise JSONStreamError(f"JSON 无法解析：{json_error_text(exc)}") from exc
    try:
        return _scan(open_stream, items_path, _EXACT)
    except ijson.JSONError as exc:
        raise JSONStreamError(f"JSON 无法解析：{json_error_text(exc)}") from exc


def _scan(open_stream: Opener, items_path: str | None, backend: Any) -> JSONLayout:
    # Only the prefixes that can hold the records are counted, so the pass keeps no state that
    # grows with the document.
    counts = dict.fromkeys(["item", *(f"{name}.item" for name in ITEM_KEYS)], 0)
    if items_path:
        counts[f"{items_path}.item"] = 0
    arrays: set[str] = set()
    seen: set[str] = set()
    top: str | None = None
    key: str | None = None
    with open_stream() as stream:
        for prefix, event, value in backend.parse(_without_bom(stream)):
            if top is None:
                top = event
            if event in _ELEMENT_EVENTS and prefix in counts:
                counts[prefix] += 1
            if prefix == "" and event == "map_key":
                key = value if value in ITEM_KEYS else None
            elif key is not None and prefix == key:
                seen.add(key)
                if event == "start_array":
                    arrays.add(key)
                key = None
            if items_path and prefix == items_path and event in _ELEMENT_EVENTS:
                seen.add(items_path)
                if event == "start_array":
                    arrays.add(items_path)
    if top is None:
        raise JSONStreamError("JSON 文档是空的")
    if items_path:
        if items_path not in seen:
            raise ConnectorError(f"JSON 中找不到条目路径 {items_path!r}")
        if items_path in arrays:
            return JSONLayout(f"{items_path}.item", counts.get(f"{items_path}.item", 0))
        return JSONLayout(items_path, 1)
    if top == "start_array":
        return JSONLayout("item", counts.get("item", 0))
    if top == "start_map":
        for name in ITEM_KEYS:
            if name in arrays:
                return JSONLayout(f"{name}.item", counts.get(f"{name}.item", 0))
    return JSONLayout("", 1)


def stream_records(open_stream: Opener, layout: JSONLayout) -> Iterator[RawItem | Rejected]:
    """The records at `layout`, in document order. A document damaged after some records ends
    with one rejection for the rest; damaged before the first, it raises JSONStreamError."""
    position = 0
    backend = _FAST
    while True:
        try:
            with open_stream() as stream:
                records = backend.items(_without_bom(stream), layout.prefix, **_options(backend))
                for index, record in enumerate(records):
                    if index < position:
                        continue  # read before the restart
                    yield _item(_plain(record) if backend is _EXACT else record, position)
                    position += 1
            return
        except ijson.JSONError as exc:
            if backend is _FAST and _is_overflow(exc):
                backend = _EXACT
                continue
            message = f"JSON 无法解析：{json_error_text(exc)}"
        except ConnectorError as exc:  # raised by the stream itself (a size limit)
            if position == 0:
                raise
            message = str(exc)
        if position == 0:
            raise JSONStreamError(message)
        yield Rejected(
            f"item={position}",
            "ingest.parse",
            f"第 {position + 1} 条起无法读取，其后的内容未导入：{message}",
        )
        return


def json_records(
    data: bytes, items_path: str | None = None, layout: JSONLayout | None = None
) -> Iterator[RawItem | Rejected]:
    """The records of a document held in memory (a webhook body, an API response, evidence). Where
    they are is found at once, so a document without them raises here; they are read as iterated."""

    def open_stream() -> IO[bytes]:
        return io.BytesIO(data)

    if items_path and any(part.isdigit() for part in items_path.split(".")):
        return _records_by_path(data, items_path)
    return stream_records(open_stream, layout or json_layout(open_stream, items_path))


def record_bytes(record: Any) -> bytes:
    """A record's own bytes: compact JSON. Python's encoder takes what orjson refuses (integers
    beyond 64 bits, lone surrogates)."""
    try:
        encoded = orjson.dumps(record)
    except TypeError:
        return json.dumps(record, default=str, separators=(",", ":")).encode("ascii")
    # orjson's result keeps the buffer it was written into, 4 KB even for `{}`: held for a batch
    # (and by every dead letter of one) that was most of an import's memory. A copy is exact.
    return memoryview(encoded).tobytes()


def _item(record: Any, position: int) -> RawItem | Rejected:
    try:
        raw = record_bytes(record)
    except RecursionError:
        return Rejected(f"item={position}", "ingest.parse", "条目嵌套过深，无法读取")
    if isinstance(record, dict):
        return RawItem(record=record, locator=f"item={position}", raw=raw)
    return Rejected(f"item={position}", "ingest.parse", "条目不是 JSON 对象", raw)


def _records_by_path(data: bytes, items_path: str) -> Iterator[RawItem | Rejected]:
    """A path through list positions (`data.0.list`): the document is parsed whole."""
    try:
        found: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise JSONStreamError(f"JSON 无法解析：{json_error_text(exc)}") from exc
    for key in items_path.split("."):
        if isinstance(found, dict) and key in found:
            found = found[key]
        elif isinstance(found, list) and key.isdigit() and int(key) < len(found):
            found = found[int(key)]
        else:
            raise ConnectorError(f"JSON 中找不到条目路径 {items_path!r}（缺少 {key!r}）")
    records = found if isinstance(found, list) else [found]
    return (_item(record, position) for position, record in enumerate(records))


def _options(backend: Any) -> dict[str, Any]:
    # The Python backend reads 1e400 only as a Decimal; `_plain` turns it into a float.
    return {"use_float": True} if backend is _FAST else {}


def _plain(value: Any) -> Any:
    """Decimals as floats (a nesting too deep for this is left as it is, for `_item` to refuse)."""
    try:
        return _floats(value)
    except RecursionError:
        return value


def _floats(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


def _is_overflow(exc: Exception) -> bool:
    return "overflow" in str(exc)


# What a JSON parser's message (orjson's, ijson's yajl or Python backend) means, in the words a user
# reads; the first that matches says it.
_JSON_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), text)
    for pattern, text in (
        (
            r"premature EOF|Incomplete|end of data|EOF while|empty",
            "内容不完整，在结束前中断（可能被截断，或为空）",
        ),
        (r"trailing|Additional data|after document", "一段完整的 JSON 之后还有多余的内容"),
        (r"escape", "含有无效的转义字符（反斜杠后的字符不合规定）"),
        (r"separated by a colon", "键和值之间缺少冒号"),
        (r"string key|key must be|object key|property name", "对象的键必须是带双引号的字符串"),
        (r"control character", "字符串中含有未转义的控制字符（如换行）"),
        (
            r"lexical|invalid char|Unexpected symbol|unexpected character|expected|unallowed",
            "含有不合 JSON 语法的字符",
        ),
    )
)


def json_error_text(exc: Exception) -> str:
    """A JSON parser's error in Chinese, with where it happened when the parser says
    (「内容不完整，在结束前中断（第 63 个字符处）」): the parsers' English is not shown to users."""
    message = _short(exc)
    what = next((text for pattern, text in _JSON_ERRORS if pattern.search(message)), "格式不符合 JSON 语法")
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if isinstance(line, int) and isinstance(column, int):
        where = f"第 {column} 个字符处" if line == 1 else f"第 {line} 行第 {column} 个字符处"
        return f"{what}（{where}）"
    return what


def _short(exc: Exception) -> str:
    """The parser's message on one line, at most 200 characters. ijson's yajl backend gives its
    message as bytes, which `str()` would show as 「b'parse error…\\xe5\\x85…'」 with the text it
    quotes escaped (and cut mid-character): those are decoded, what cannot be read replaced."""
    parts = [
        arg.decode("utf-8", errors="replace") if isinstance(arg, bytes | bytearray) else str(arg)
        for arg in exc.args
    ] or [str(exc)]
    return " ".join(" ".join(parts).replace("\ufffd", "").split())[:200]


def _first_byte(stream: IO[bytes]) -> bytes:
    head = stream.read(64)
    while head:
        stripped = head.removeprefix(_BOM).lstrip()
        if stripped:
            return stripped[:1]
        head = stream.read(64)
    return b""


class _Rest(io.RawIOBase):
    """A stream with its first bytes given back (after a BOM was looked for), that stops a
    document nested deeper than `MAX_DEPTH` (JSONStreamError) before the parser reads that far."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream
        self._depth = 0
        self._in_string = False
        self._escape = b""  # a backslash that ended the last chunk: it escapes the next byte

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            data = self._stream.read(size)
        else:
            cut = len(self._head) if size < 0 else min(size, len(self._head))
            data, self._head = self._head[:cut], self._head[cut:]
        self._count_depth(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _count_depth(self, data: bytes) -> None:
        text = self._escape + data if self._escape else data
        self._escape = b""
        if b"\\" in text:
            text = _ESCAPE.sub(b"", text)
            if text.endswith(b"\\"):  # the escape's other half comes with the next chunk
                text, self._escape = text[:-1], b"\\"
        # Split at the quotes, the pieces alternate between outside and inside a string.
        pieces = text.translate(None, _NOT_STRUCTURE).split(b'"')
        marks = b"".join(pieces[1 if self._in_string else 0 :: 2])
        self._in_string ^= len(pieces) % 2 == 0
        opens = marks.count(b"[") + marks.count(b"{")
        if self._depth + opens <= MAX_DEPTH:
            self._depth += opens - marks.count(b"]") - marks.count(b"}")
            return
        for mark in marks:
            self._depth += 1 if mark in b"[{" else -1
            if self._depth > MAX_DEPTH:
                raise JSONStreamError(f"JSON 嵌套超过 {MAX_DEPTH} 层，不予读取")


def _without_bom(stream: IO[bytes]) -> IO[bytes]:
    head = stream.read(3)
    return _Rest(head.removeprefix(_BOM), stream)  # type: ignore[return-value]
