"""Jinja2 templates of the console: one environment, autoescaping always on (scraped text is never
rendered as HTML), shared filters for time and grades."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SHANGHAI = ZoneInfo("Asia/Shanghai")
GRADE_COLOURS = {"I": "red", "II": "orange", "III": "yellow", "IV": "blue"}

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.autoescape = True


def local_time(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time shown in Asia/Shanghai."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)


def grade_colour(code: str | None) -> str:
    return GRADE_COLOURS.get(code or "", "grey")


templates.env.filters["local_time"] = local_time
templates.env.filters["grade_colour"] = grade_colour
