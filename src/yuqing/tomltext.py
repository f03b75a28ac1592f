"""TOML syntax errors in Chinese: `tomllib` says 「Invalid value (at line 27, column 13)」, and the
office editing the plan profile in the console reads Chinese."""

from __future__ import annotations

import re
import tomllib

__all__ = ["toml_error"]

_WHERE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")
# The messages of Python 3.11-3.13's tomllib, by their opening words.
_MESSAGES: tuple[tuple[str, str], ...] = (
    ("Invalid value", "值无效（字符串须加英文引号，数字、true/false、日期、数组 [...] 或表 {...} 之一）"),
    ("Expected '=' after a key", "键后缺少“=”"),
    ("Invalid initial character for a key part", "键名的开头字符无效"),
    ("Invalid statement", "无法识别的语句"),
    ("Expected newline or end of document after a statement", "一条语句之后应换行"),
    ("Unclosed array", "数组缺少右方括号“]”"),
    ("Unclosed inline table", "内联表缺少右花括号“}”"),
    ("Unterminated string", "字符串缺少结束引号"),
    ("Illegal character", "含有不允许的字符"),
    ("Cannot overwrite a value", "同一个键重复赋值"),
    ("Cannot declare", "同一个表重复声明"),
    ("Cannot mutate", "不能修改已声明的表或数组"),
    ("Invalid date or datetime", "日期或时间格式有误"),
    ("Invalid hex value", "转义字符有误"),
    ("Unescaped", "字符串中有未转义的字符"),
    ("Expected ']' at the end of a table declaration", "表声明缺少右方括号“]”"),
    ("Expected ']]' at the end of an array declaration", "数组表声明缺少“]]”"),
)


def toml_error(exc: tomllib.TOMLDecodeError) -> str:
    """「第 27 行第 13 列：值无效（…）」 for 「Invalid value (at line 27, column 13)」."""
    text = str(exc)
    found = _WHERE.search(text)
    message = text[: found.start()] if found else text
    where = ""
    if found and found.group(1):
        where = f"第 {found.group(1)} 行第 {found.group(2)} 列："
    elif found:
        where = "文件末尾："
    for opening, chinese in _MESSAGES:
        if message.startswith(opening):
            return where + chinese
    return where + "格式有误"
