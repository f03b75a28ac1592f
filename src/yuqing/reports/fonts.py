"""The Chinese fonts reports are drawn with (charts and PDF).

Debian's fonts-noto-cjk is preferred (Noto Serif CJK SC for text, Noto Sans CJK SC bold for
headings, like 宋体/黑体 in an office document); WenQuanYi and Droid fallbacks are accepted; the
setting `report_font` names a file of the office's own. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["FontFace", "FontMissing", "ReportFonts", "find_fonts"]

_NOTO = Path("/usr/share/fonts/opentype/noto")
# (file, index in a collection); Noto CJK collections hold JP, KR, SC, TC, HK in that order.
_TEXT_CANDIDATES: tuple[tuple[Path, int], ...] = (
    (_NOTO / "NotoSerifCJK-Regular.ttc", 2),
    (_NOTO / "NotoSansCJK-Regular.ttc", 2),
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), 0),
)
_BOLD_CANDIDATES: tuple[tuple[Path, int], ...] = (
    (_NOTO / "NotoSansCJK-Bold.ttc", 2),
    (_NOTO / "NotoSerifCJK-Bold.ttc", 2),
)
_SANS_CANDIDATES: tuple[tuple[Path, int], ...] = (
    (_NOTO / "NotoSansCJK-Regular.ttc", 2),
    *_TEXT_CANDIDATES,
)

MISSING_MESSAGE = (
    "未找到中文字体：请安装 Debian 软件包 fonts-noto-cjk（apt-get install fonts-noto-cjk），"
    "或在设置 report_font 中指定一个中文字体文件（.ttf/.otf/.ttc）"
)


class FontMissing(OSError):
    """No Chinese font on this machine: PDF and charts cannot be drawn."""

    def __init__(self) -> None:
        super().__init__(MISSING_MESSAGE)


@dataclass(frozen=True)
class FontFace:
    path: Path
    index: int = 0


@dataclass(frozen=True)
class ReportFonts:
    text: FontFace  # body text
    bold: FontFace  # headings and the banner
    sans: FontFace  # charts


def _first(candidates: tuple[tuple[Path, int], ...]) -> FontFace | None:
    for path, index in candidates:
        if path.is_file():
            return FontFace(path, index)
    return None


@lru_cache(maxsize=8)
def find_fonts(configured: str = "") -> ReportFonts:
    """The fonts to use; raises FontMissing when there is no Chinese font at all."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"设置 report_font 指定的字体文件不存在：{path}")
        face = FontFace(path, 0)
        return ReportFonts(face, face, face)
    text = _first(_TEXT_CANDIDATES)
    if text is None:
        raise FontMissing()
    return ReportFonts(text, _first(_BOLD_CANDIDATES) or text, _first(_SANS_CANDIDATES) or text)
