"""Regions mentioned in a text: provinces, and cities mapped to their province.

Used for the "regions mentioned" metric and the cross-region condition of the two-level profile.
One Aho-Corasick pass over a lexicon of province and city names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import NamedTuple

import ahocorasick_rs

# Province -> its own names and its main cities (short forms as they appear in posts).
_PROVINCES: dict[str, tuple[str, ...]] = {
    "北京": ("北京",),
    "天津": ("天津",),
    "上海": ("上海",),
    "重庆": ("重庆",),
    "河北": (
        "河北",
        "石家庄",
        "唐山",
        "保定",
        "邯郸",
        "秦皇岛",
        "廊坊",
        "沧州",
        "邢台",
        "张家口",
        "承德",
        "衡水",
    ),
    "山西": ("山西", "太原", "大同", "运城", "临汾", "长治", "晋城", "晋中", "吕梁", "忻州", "阳泉"),
    "内蒙古": ("内蒙古", "呼和浩特", "包头", "鄂尔多斯", "赤峰", "通辽", "呼伦贝尔"),
    "辽宁": (
        "辽宁",
        "沈阳",
        "大连",
        "鞍山",
        "抚顺",
        "本溪",
        "丹东",
        "锦州",
        "营口",
        "阜新",
        "辽阳",
        "铁岭",
        "葫芦岛",
    ),
    "吉林": ("吉林", "长春", "四平", "延边", "通化", "松原", "白山"),
    "黑龙江": ("黑龙江", "哈尔滨", "齐齐哈尔", "大庆", "牡丹江", "佳木斯", "鸡西", "鹤岗", "双鸭山", "绥化"),
    "江苏": (
        "江苏",
        "南京",
        "苏州",
        "无锡",
        "常州",
        "南通",
        "扬州",
        "徐州",
        "镇江",
        "泰州",
        "盐城",
        "淮安",
        "连云港",
        "宿迁",
        "昆山",
    ),
    "浙江": (
        "浙江",
        "杭州",
        "宁波",
        "温州",
        "绍兴",
        "嘉兴",
        "湖州",
        "金华",
        "台州",
        "丽水",
        "衢州",
        "舟山",
        "义乌",
    ),
    "安徽": (
        "安徽",
        "合肥",
        "芜湖",
        "蚌埠",
        "淮南",
        "马鞍山",
        "安庆",
        "阜阳",
        "黄山",
        "六安",
        "亳州",
        "宿州",
    ),
    "福建": ("福建", "福州", "厦门", "泉州", "漳州", "莆田", "三明", "南平", "龙岩", "宁德"),
    "江西": (
        "江西",
        "南昌",
        "九江",
        "赣州",
        "景德镇",
        "上饶",
        "宜春",
        "吉安",
        "抚州",
        "萍乡",
        "新余",
        "鹰潭",
    ),
    "山东": (
        "山东",
        "济南",
        "青岛",
        "烟台",
        "潍坊",
        "淄博",
        "临沂",
        "济宁",
        "泰安",
        "威海",
        "日照",
        "德州",
        "聊城",
        "菏泽",
        "枣庄",
        "东营",
        "滨州",
    ),
    "河南": (
        "河南",
        "郑州",
        "洛阳",
        "开封",
        "新乡",
        "南阳",
        "安阳",
        "许昌",
        "平顶山",
        "焦作",
        "信阳",
        "周口",
        "驻马店",
        "商丘",
        "濮阳",
        "漯河",
    ),
    "湖北": (
        "湖北",
        "武汉",
        "宜昌",
        "襄阳",
        "十堰",
        "荆州",
        "黄石",
        "孝感",
        "黄冈",
        "咸宁",
        "恩施",
        "荆门",
        "随州",
    ),
    "湖南": (
        "湖南",
        "长沙",
        "株洲",
        "湘潭",
        "衡阳",
        "岳阳",
        "常德",
        "郴州",
        "永州",
        "怀化",
        "邵阳",
        "益阳",
        "娄底",
        "张家界",
    ),
    "广东": (
        "广东",
        "广州",
        "深圳",
        "东莞",
        "佛山",
        "珠海",
        "汕头",
        "惠州",
        "中山",
        "江门",
        "湛江",
        "茂名",
        "肇庆",
        "揭阳",
        "汕尾",
        "清远",
        "韶关",
        "梅州",
        "潮州",
        "阳江",
        "云浮",
        "河源",
    ),
    "广西": ("广西", "南宁", "柳州", "桂林", "北海", "梧州", "玉林", "钦州", "贵港", "百色", "防城港"),
    "海南": ("海南", "海口", "三亚", "儋州"),
    "四川": (
        "四川",
        "成都",
        "绵阳",
        "德阳",
        "宜宾",
        "泸州",
        "南充",
        "乐山",
        "自贡",
        "达州",
        "内江",
        "眉山",
        "遂宁",
        "攀枝花",
        "凉山",
        "雅安",
        "广元",
    ),
    "贵州": ("贵州", "贵阳", "遵义", "六盘水", "安顺", "毕节", "铜仁", "黔东南", "黔南"),
    "云南": ("云南", "昆明", "大理", "丽江", "曲靖", "玉溪", "红河", "西双版纳", "昭通", "保山"),
    "西藏": ("西藏", "拉萨", "日喀则", "林芝"),
    "陕西": ("陕西", "西安", "宝鸡", "咸阳", "渭南", "延安", "汉中", "榆林", "安康", "商洛", "铜川"),
    "甘肃": (
        "甘肃",
        "兰州",
        "天水",
        "酒泉",
        "嘉峪关",
        "张掖",
        "武威",
        "白银",
        "庆阳",
        "平凉",
        "定西",
        "陇南",
    ),
    "青海": ("青海", "西宁", "海东", "玉树", "格尔木"),
    "宁夏": ("宁夏", "银川", "石嘴山", "吴忠", "固原", "中卫"),
    "新疆": ("新疆", "乌鲁木齐", "克拉玛依", "喀什", "伊犁", "库尔勒", "哈密", "阿克苏", "和田", "石河子"),
    "香港": ("香港",),
    "澳门": ("澳门",),
    "台湾": ("台湾", "台北", "高雄", "台中", "台南", "新北"),
}

# Words that hold a city name but name no place in China: a leftmost-longest match on one of them
# hides the city inside (「佛罗里达州」 is no 达州, 「广大同胞」 no 大同, 「长治久安」 no 长治, and a
# 「兰州拉面」 shop's scandal happens in any city).
# Found by reading the contexts of every city match in the CED dev file.
# fmt: off
_SHADOWS: tuple[str, ...] = (
    "佛罗里达州", "德州扑克", "德州仪器", "北海道", "新北方", "新北京",
    "大同胞", "大同学", "大同仁", "大同志", "大同事", "大同小异", "世界大同", "方大同",
    "长治久安", "四平八稳", "玉树临风", "三明治", "哈密瓜", "和田玉", "和田碧玉", "和田白玉",
    "夸下海口", "夸海口", "未开封", "没开封", "已开封", "开封后", "开封菜", "可乐山", "小沈阳",
    "信阳光", "大理由", "大理论", "大理想", "伟大理", "海东青", "平安顺", "一天水", "两天水",
    "天水滴", "身体安康", "幸福安康", "家人安康", "父母安康", "全家安康", "合家安康", "健康安康",
    "纸白银", "白银暴", "白银价", "白银期货", "黄金白银", "金、白银", "白银市场", "白银ETF",
    "踢中卫", "打中卫", "中卫储", "孙中山", "中山路", "中山东路", "中山西路", "中山南路",
    "中山北路", "中山公园", "中山装", "中山陵", "中山大道", "中山医院",
    # dishes sold everywhere under a city's name
    "兰州拉面", "北京烤鸭", "重庆火锅", "重庆小面", "武汉热干面", "长沙臭豆腐", "新疆羊肉串", "天津狗不理",
)
# fmt: on


def shadows() -> tuple[str, ...]:
    """Words holding a city name that name no place (see `regions_in`)."""
    return _SHADOWS


@lru_cache(maxsize=1)
def _main_names() -> frozenset[str]:
    """Every province and main city name of `_PROVINCES`."""
    return frozenset(n for spellings in _PROVINCES.values() for n in spellings)


@lru_cache(maxsize=1)
def _automaton() -> tuple[ahocorasick_rs.AhoCorasick, list[str], list[str]]:
    """Province and city names, then the shadows (province ``""``): the automaton, each pattern's
    province and the patterns."""
    names: list[str] = []
    provinces: list[str] = []
    for province, spellings in _PROVINCES.items():
        for name in spellings:
            names.append(name)
            provinces.append(province)
    for shadow in _SHADOWS:
        names.append(shadow)
        provinces.append("")
    automaton = ahocorasick_rs.AhoCorasick(names, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
    return automaton, provinces, names


def province_names() -> Mapping[str, tuple[str, ...]]:
    """Each province (or municipality, region) with the names that stand for it: itself and its
    cities, as `regions_in` reads them."""
    return MappingProxyType(_PROVINCES)


def regions_in(text: str) -> set[str]:
    """The provinces a (simplified) text mentions, directly, through one of their cities, or by the
    official name of a prefecture or county of one province (「婺源县」, 「来宾市」); 「佛罗里达州」 and
    the other shadows mention none, nor does a market (「东方市场」)."""
    if not text:
        return set()
    automaton, provinces, counties = _mentions()
    found: set[str] = set()
    for index, _start, end in automaton.find_matches_as_indexes(text):
        if index >= counties and text[end - 1 : end + 1] in _NOT_SUFFIXES:
            continue
        found.add(provinces[index])
    found.discard("")
    return found


@lru_cache(maxsize=1)
def _mentions() -> tuple[ahocorasick_rs.AhoCorasick, list[str], int]:
    """`regions_in`'s automaton: the main names and shadows, then the official names of the
    gazetteer's divisions that lie in one province and hide no main name (「海南区」 of 乌海 would
    hide 海南); their patterns start at the index returned."""
    _main, provinces, names = _automaton()
    patterns, owners = list(names), list(provinces)
    counties = len(patterns)
    main = _main_names()
    for name, divisions in _gazetteer().names.items():
        owner = {d.province for d in divisions}
        if len(owner) == 1 and len(name) >= 3 and not any(n in name for n in main):
            patterns.append(name)
            owners.append(owner.pop())
    automaton = ahocorasick_rs.AhoCorasick(patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
    return automaton, owners, counties


class Division(NamedTuple):
    """A place resolved: its province, its city (the prefecture, as `province_names` spells it;
    None for a province itself and for a municipality's districts) and its county or district."""

    province: str
    city: str | None = None
    county: str | None = None

    @property
    def label(self) -> str:
        """How people name it: 「湖北」, 「宁波」, 「上饶婺源县」, 「北京海淀区」."""
        if self.county is None:
            return self.city or self.province
        return f"{self.city or self.province}{self.county}"


@dataclass(frozen=True, slots=True)
class _Gazetteer:
    """The prefecture- and county-level divisions of ``data/gazetteer.tsv`` (scripts/build_gazetteer.py)
    by official name (「婺源县」) and by stem (「婺源」), with the stems that name a place alone."""

    names: dict[str, tuple[Division, ...]]
    stems: dict[str, tuple[Division, ...]]
    bare: frozenset[str]
    longest: int


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    names: dict[str, list[Division]] = {}
    stems: dict[str, list[Division]] = {}
    bare: set[str] = set()
    text = resources.files("yuqing.analysis").joinpath("data/gazetteer.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, province, city, name, stem, is_bare = line.split("\t")
        division = Division(province, city or None, None if code[4:] == "0" * 8 else name)
        names.setdefault(name, []).append(division)
        if len(stem) >= 2:
            stems.setdefault(stem, []).append(division)
            if is_bare == "1":
                bare.add(stem)
    # a stem that is also one of the main names (「南京」) is read by the main automaton
    main = _main_names()
    return _Gazetteer(
        {k: tuple(v) for k, v in names.items()},
        {k: tuple(v) for k, v in stems.items() if k not in main},
        frozenset(bare - main),
        max(len(n) for n in names),
    )


def _common(candidates: Iterable[Division]) -> Division | None:
    """What several divisions of one name have in common: the division itself when it is one, the
    city or province they share (「鼓楼区」 of 南京 and 徐州: 江苏), None across provinces."""
    found = list(dict.fromkeys(candidates))
    if not found or len({d.province for d in found}) > 1:
        return None
    if len(found) == 1:
        return found[0]
    cities = {d.city for d in found}
    return Division(found[0].province, cities.pop() if len(cities) == 1 else None, None)


# A division's suffix followed by these is another word: 市场, 区域, 区别, 区分.
_NOT_SUFFIXES = frozenset({"市场", "区域", "区别", "区分"})


def _division_at_start(text: str, within: Division | None, any_stem: bool) -> Division | None:
    """The division ``text`` starts with: an official name (「婺源县」), else a stem (「永康中医院」)
    that names a place alone, or any stem ``within`` a province or city already named
    (「江西|婺源」, 「南京|鼓楼医院」), or any stem when ``any_stem`` (a unit's own list)."""
    gazetteer = _gazetteer()

    def inside(d: Division) -> bool:
        return within is None or (
            d.province == within.province and (within.city is None or d.city == within.city)
        )

    for end in range(min(len(text), gazetteer.longest), 1, -1):
        prefix = text[:end]
        if text[end - 1 : end + 1] in _NOT_SUFFIXES:  # 「东方市场」 is a market, 「西安区域」 a region
            continue
        named = [d for d in gazetteer.names.get(prefix, ()) if inside(d)]
        if named:
            return _common(named)
        if prefix in gazetteer.stems and (within is not None or any_stem or prefix in gazetteer.bare):
            stemmed = [d for d in gazetteer.stems[prefix] if inside(d)]
            if stemmed:
                return _common(stemmed)
    return None


def place_of(name: str, *, listed: bool = False) -> Division | None:
    """The place a name starts with, as precisely as it says: 「宁波市第一医院」 → (浙江, 宁波),
    「江西婺源」 → (江西, 上饶, 婺源县), 「永康中医院」 → (浙江, 金华, 永康市), 「浙江工业大学」 → (浙江);
    None for a name that starts with no place we know (「小龙虾」, 「兰州拉面」 and the other shadows,
    「东方市场」: 东方 alone is a common word), or with a name several provinces have (「鼓楼区」).
    ``listed``: the name is a place a unit lists (「宜兴」), so any stem of a division counts."""
    if not name:
        return None
    named = _main_at_start(name)
    if named is None:
        return _division_at_start(name, None, any_stem=listed)
    division, rest = named
    if division.city is None:  # 「河南郑州」
        city = _main_at_start(rest)
        if city is not None and city[0].province == division.province and city[0].city is not None:
            division, rest = city
    county = _division_at_start(rest, division, any_stem=True)
    return county if county is not None and county.county is not None else division


def _main_at_start(name: str) -> tuple[Division, str] | None:
    """The province or main city ``name`` starts with, and the rest after it (省/市 dropped)."""
    automaton, provinces, names = _automaton()
    for index, start, end in automaton.find_matches_as_indexes(name):
        province = provinces[index]
        if start != 0 or not province:
            return None
        rest = name[end:]
        rest = rest[1:] if rest[:1] in ("省", "市") else rest
        return Division(province, names[index] if names[index] != province else None), rest
    return None
