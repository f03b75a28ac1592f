"""Build the Chinese font yuqing ships for machines without one: a subset of Noto Sans CJK SC.

Reports (PDF and charts) prefer a font of the system (`yuqing.reports.fonts`); this subset is the
last resort, so `pip install` alone gives working PDFs on any machine. It holds the 6,763 Hanzi of
GB 2312 (with its symbols), ASCII, Latin-1 and Latin Extended-A, general punctuation, CJK
punctuation and full-width forms: about 8,000 characters, 1.6 MB. Characters outside it (rare
Hanzi in a post) draw as blanks, which is why a system font is preferred.

Source: Noto Sans CJK SC Regular (SIL Open Font License 1.1), as in Debian's fonts-noto-cjk:

    uv run python scripts/build_font_subset.py [/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc]

writes src/yuqing/reports/fontdata/NotoSansCJKsc-Regular-subset.otf and its LICENSE (the font's
copyright notice and the OFL text, which must travel with it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SC_INDEX = 2  # Noto CJK collections hold JP, KR, SC, TC, HK in that order
OUT = Path(__file__).resolve().parents[1] / "src" / "yuqing" / "reports" / "fontdata"
FONT_FILE = "NotoSansCJKsc-Regular-subset.otf"
OFL_CANDIDATES = (
    Path("/usr/share/common-licenses/OFL-1.1"),
    *sorted(Path.home().glob(".rustup/toolchains/*/share/doc/rust/licenses/OFL-1.1.txt")),
)


def characters() -> str:
    chars: set[str] = set()
    for high in range(0xA1, 0xF8):  # every GB 2312 code point: symbols, then Hanzi levels 1 and 2
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    for start, end in ((0x20, 0x7F), (0xA0, 0x180), (0x2000, 0x2070), (0x3000, 0x3040), (0xFF00, 0xFFEF)):
        chars.update(chr(c) for c in range(start, end))
    return "".join(sorted(chars))


def build(source: Path) -> Path:
    font: TTFont = TTCollection(str(source)).fonts[SC_INDEX]
    family = font["name"].getDebugName(1)
    if family != "Noto Sans CJK SC":
        raise SystemExit(f"{source}: face {SC_INDEX} is {family!r}, not Noto Sans CJK SC")
    notice = font["name"].getDebugName(0) or ""
    options = subset.Options()
    options.layout_features = []  # no vertical forms or ligatures: reports are horizontal
    options.name_IDs = ["*"]
    options.hinting = False
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters())
    subsetter.subset(font)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / FONT_FILE
    font.save(str(target))
    ofl = next((p for p in OFL_CANDIDATES if p.is_file()), None)
    if ofl is None:
        raise SystemExit("the SIL Open Font License text was not found; it must ship with the font")
    (OUT / "LICENSE").write_text(
        f"{FONT_FILE}: a subset of Noto Sans CJK SC Regular ({source.name}, face {SC_INDEX}),\n"
        f"made by scripts/build_font_subset.py.\n\n{notice}\n\n"
        "This Font Software is licensed under the SIL Open Font License, Version 1.1.\n\n"
        + ofl.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return target


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    target = build(source)
    print(f"{target}: {target.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
