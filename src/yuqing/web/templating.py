"""Jinja2 templates of the console: one environment, autoescaping always on (scraped text is never
rendered as HTML), shared filters for time and grades."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SHANGHAI = ZoneInfo("Asia/Shanghai")
GRADE_COLOURS = {"I": "red", "II": "orange", "III": "yellow", "IV": "blue"}

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.autoescape = True


def local_time(
    value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M", now: dt.datetime | None = None
) -> str:
    """A stored time shown in Asia/Shanghai. A short format without the year (`%m-%d …`) gets the
    year in front when the time is not of `now`'s year: 「2025-09-27 06:08」, not 「09-27 06:08」."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(SHANGHAI)
    if now is not None and fmt.startswith("%m-%d") and local.year != now.astimezone(SHANGHAI).year:
        fmt = "%Y-" + fmt
    return local.strftime(fmt)


@pass_context
def _local_time_filter(context: Context, value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    now = context.get("now")
    return local_time(value, fmt, now if isinstance(now, dt.datetime) else None)


_CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text: str) -> Markup:
    """Text with `backtick` spans shown as code (setting names, commands), everything escaped."""
    escaped = str(escape(text))  # every character of the text escaped before <code> is added
    return Markup(_CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", escaped))  # noqa: S704


def grade_colour(code: str | None) -> str:
    return GRADE_COLOURS.get(code or "", "grey")


templates.env.filters["local_time"] = _local_time_filter
templates.env.filters["grade_colour"] = grade_colour
templates.env.filters["code_spans"] = code_spans
