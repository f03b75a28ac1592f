"""The Chinese fonts reports are drawn with (charts and PDF).

A font of the system is preferred, like 宋体/黑体 in an office document: Noto Serif CJK SC for
text and Noto Sans CJK SC bold for headings where they are installed (Debian and Ubuntu,
Kylin and UOS, Fedora, Arch, Alpine), else WenQuanYi, AR PL, Droid; on Windows SimSun, Microsoft
YaHei and SimHei; on macOS Songti, PingFang and STHeiti. The setting `report_font` names a file of
the office's own. Failing all of these, the subset of Noto Sans CJK SC shipped with yuqing
(`fontdata/`, SIL Open Font License; GB 2312's 6,763 Hanzi and the usual punctuation; built by
`scripts/build_font_subset.py`) draws every report, so PDFs work on any machine. Nothing is
downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["BUNDLED_FONT", "FontFace", "FontMissing", "ReportFonts", "find_fonts"]

BUNDLED_FONT = Path(__file__).resolve().parent / "fontdata" / "NotoSansCJKsc-Regular-subset.otf"
# Where Linux distributions put Noto CJK (Debian/Ubuntu/Kylin/UOS, Fedora, Arch, Alpine).
_NOTO_DIRS = (
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/google-noto-cjk"),
    Path("/usr/share/fonts/google-noto-serif-cjk-fonts"),
    Path("/usr/share/fonts/google-noto-sans-cjk-fonts"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/noto"),
)
_WINDOWS = Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts"
_MACOS = (Path("/System/Library/Fonts"), Path("/System/Library/Fonts/Supplemental"), Path("/Library/Fonts"))


def _noto(name: str) -> list[tuple[Path, int]]:
    # Noto CJK collections hold JP, KR, SC, TC, HK in that order.
    return [(folder / name, 2) for folder in _NOTO_DIRS]


def _in(folders: Iterable[Path], name: str, index: int = 0) -> list[tuple[Path, int]]:
    return [(folder / name, index) for folder in folders]


# (file, index in a collection)
_TEXT_CANDIDATES: tuple[tuple[Path, int], ...] = (
    *_noto("NotoSerifCJK-Regular.ttc"),
    *_noto("NotoSansCJK-Regular.ttc"),
    (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
    (Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), 0),
    *_in([_WINDOWS], "simsun.ttc"),
    *_in([_WINDOWS], "msyh.ttc"),
    *_in([_WINDOWS], "simhei.ttf"),
    *_in(_MACOS, "Songti.ttc"),
    *_in(_MACOS, "PingFang.ttc"),
    *_in(_MACOS, "STHeiti Light.ttc"),
    *_in(_MACOS, "Arial Unicode.ttf"),
)
_BOLD_CANDIDATES: tuple[tuple[Path, int], ...] = (
    *_noto("NotoSansCJK-Bold.ttc"),
    *_noto("NotoSerifCJK-Bold.ttc"),
    *_in([_WINDOWS], "simhei.ttf"),
    *_in([_WINDOWS], "msyhbd.ttc"),
    *_in(_MACOS, "STHeiti Medium.ttc"),
)
_SANS_CANDIDATES: tuple[tuple[Path, int], ...] = (
    *_noto("NotoSansCJK-Regular.ttc"),
    *_in([_WINDOWS], "msyh.ttc"),
    *_in(_MACOS, "PingFang.ttc"),
    *_TEXT_CANDIDATES,
)

MISSING_MESSAGE = (
    "未找到中文字体：随 yuqing 安装的字体文件缺失，系统中也没有中文字体。请重新安装 yuqing，"
    "或安装系统中文字体（如 Debian/Ubuntu 的 fonts-noto-cjk），或在设置 report_font 中指定一个"
    "中文字体文件（.ttf/.otf/.ttc）"
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
        if not BUNDLED_FONT.is_file():
            raise FontMissing()
        text = FontFace(BUNDLED_FONT, 0)
    return ReportFonts(text, _first(_BOLD_CANDIDATES) or text, _first(_SANS_CANDIDATES) or text)
