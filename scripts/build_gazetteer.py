"""Build ``src/yuqing/analysis/data/gazetteer.tsv``: China's prefecture- and county-level divisions,
each with its province and city, for placing events (``yuqing.analysis.regions.place_of``).

Run from the repository root (needs internet to PyPI once, for the source table)::

    python3 -m pip download --no-deps cpca==0.5.5 -d /tmp/cpca
    .venv/bin/python scripts/build_gazetteer.py /tmp/cpca/cpca-0.5.5-py3-none-any.whl

Source: ``cpca/resources/adcodes.csv`` of the cpca package (MIT License, (c) 2018 QinYuan Du),
the administrative division codes of the National Bureau of Statistics of about 2016, and its list
of the 56 nationalities (to shorten 「延边朝鲜族自治州」 to 「延边」).

Each row: adcode, province (as ``regions.province_names`` spells it), city (the prefecture's short
name; empty for the districts of the four municipalities), name (the official name: 「婺源县」,
「来宾市」), stem (the name without its suffix: 「婺源」), and ``bare``: 1 when the stem alone may name
the place at the start of an entity's name (「永康中医院」). A stem is bare when it has two or more
characters and is no common word: jieba's dictionary (a dependency of the benchmark group) gives it a
frequency under 300, or does not list it (its parts of speech are no guide: 「常熟」 is an adjective
there, 「海门」 a noun), and it is not one of the words below that name hospitals and shops in many
cities (「同仁医院」, 「红星美凯龙」). 「东方」「长安」「光明」「江山」 are common words, so 「东方市场」
names no place; 「东方市」 still does. Stems shared by several divisions are resolved at
load time (an ambiguous one names none). cpca's license ships beside the table
(``data/gazetteer.LICENSE``).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "yuqing" / "analysis" / "data" / "gazetteer.tsv"

# Rows of the table that are groupings, not places.
_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
_PROVINCE_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
# Longest first: 「自治县」 before 「县」.
_SUFFIXES = ("自治州", "自治县", "自治旗", "地区", "林区", "特区", "盟", "市", "县", "区", "旗")
_MAX_BARE_FREQUENCY = 300
# Stems rare in jieba's dictionary that still name other things: hospitals and shops found in many
# cities, words, and the generic names of districts (城关区 is in a dozen cities).
# fmt: off
_NOT_BARE = frozenset({
    "同仁", "仁和", "协和", "红星", "长寿", "来宾", "青山", "大通", "会同", "比如",
    "城关", "城中", "城东", "城西", "城南", "城北", "新城", "市中", "郊区", "矿区",
    "河东", "河西", "河北", "河南", "新区", "老城", "古城", "新华", "和平", "友谊",
    "民主", "解放", "人民", "胜利", "先锋", "向阳", "红旗", "东风", "前进", "金山",
    "银山", "宝山", "青云", "白云", "华山", "泰山", "黄山", "龙山", "凤凰", "永安",
    "长安", "安宁", "太平", "平安", "吉利", "富民", "丰收",
})
# fmt: on


def read_source(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(adcode, name) rows and the nationalities, from the cpca wheel or its unpacked directory."""

    def read(member: str) -> str:
        if path.is_dir():
            return (path / "cpca" / "resources" / member).read_text(encoding="utf-8")
        with zipfile.ZipFile(path) as archive:
            return archive.read(f"cpca/resources/{member}").decode("utf-8")

    rows = [(r["adcode"], r["name"].strip()) for r in csv.DictReader(io.StringIO(read("adcodes.csv")))]
    nations = [line.strip() for line in read("56_nations.csv").splitlines() if line.strip()]
    return rows, nations


def stem_of(name: str, nations: list[str]) -> str:
    """「婺源县」 → 「婺源」, 「延边朝鲜族自治州」 → 「延边」,
    「积石山保安族东乡族撒拉族自治县」 → 「积石山」."""
    stem = name
    for suffix in _SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    if name.endswith(("自治州", "自治县", "自治旗")):
        changed = True
        while changed:
            changed = False
            for nation in sorted(nations, key=len, reverse=True):
                for form in (nation, nation.removesuffix("族")):
                    if len(form) >= 2 and stem.endswith(form) and len(stem) > len(form):
                        stem = stem[: -len(form)]
                        changed = True
            stem = stem.removesuffix("族") if len(stem) > 2 else stem
    return stem


def common_words() -> dict[str, tuple[int, str]]:
    """jieba's dictionary: word → (frequency, part of speech)."""
    import jieba  # type: ignore[import-untyped,import-not-found,unused-ignore]

    words: dict[str, tuple[int, str]] = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 3:
                words[parts[0]] = (int(parts[1]), parts[2])
    return words


def is_bare(stem: str, words: dict[str, tuple[int, str]]) -> bool:
    if len(stem) < 2 or stem in _NOT_BARE:
        return False
    entry = words.get(stem)
    return entry is None or entry[0] < _MAX_BARE_FREQUENCY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="the cpca wheel, or the directory it unpacks to")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    from yuqing.analysis.regions import province_names

    provinces_known = province_names()
    rows, nations = read_source(args.source)
    names = dict(rows)
    words = common_words()

    def province_of(code: str) -> str:
        full = names[code[:2] + "0" * 10]
        for suffix in _PROVINCE_SUFFIXES:
            if full.endswith(suffix) and len(full) > len(suffix):
                full = full[: -len(suffix)]
                break
        if full not in provinces_known:
            raise SystemExit(f"unknown province {full!r} ({code})")
        return full

    def city_short(code: str, province: str) -> str:
        """The prefecture's name as ``regions`` spells it (「南京」, 「延边」), else its stem."""
        full = names[code]
        for known in provinces_known[province]:
            if known != province and full.startswith(known):
                return known
        return stem_of(full, nations)

    out: list[tuple[str, str, str, str, str, int]] = []
    for code, name in sorted(set(rows)):
        if code[2:] == "0" * 10 or name in _PLACEHOLDERS or code[6:] != "0" * 6:
            continue
        province = province_of(code)
        prefecture = code[:4] + "0" * 8
        if code == prefecture:  # a prefecture-level city, 自治州, 地区 or 盟
            city = city_short(code, province)
        elif names.get(prefecture, "") in _PLACEHOLDERS or prefecture not in names:
            # a municipality's district (北京 海淀区) or a county-level city under the province (仙桃市)
            city = "" if province in ("北京", "天津", "上海", "重庆") else stem_of(name, nations)
        else:
            city = city_short(prefecture, province)
        stem = stem_of(name, nations)
        out.append((code, province, city, name, stem, int(is_bare(stem, words))))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(
            "# China's prefecture- and county-level divisions, built by scripts/build_gazetteer.py from\n"
            "# cpca 0.5.5 resources/adcodes.csv (MIT License, (c) 2018 QinYuan Du; codes of the National\n"
            "# Bureau of Statistics, about 2016). Columns: adcode, province, city, name, stem, bare.\n"
        )
        for row in out:
            handle.write("\t".join(str(v) for v in row) + "\n")
    bare = sum(r[5] for r in out)
    print(f"wrote {args.out}: {len(out)} divisions, {bare} with a bare stem")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
