"""Places resolved from names: provinces and main cities, then the gazetteer's prefectures,
counties and districts (data/gazetteer.tsv, scripts/build_gazetteer.py)."""

from __future__ import annotations

import pytest

from yuqing.analysis.regions import Division, place_of, regions_in


@pytest.mark.parametrize(
    ("name", "division"),
    [
        ("宁波市第一医院", Division("浙江", "宁波")),
        ("浙江工业大学", Division("浙江")),
        ("河南郑州", Division("河南", "郑州")),
        # a county or district, by its official name, after its province or city, or by a stem that
        # is no common word
        ("婺源县", Division("江西", "上饶", "婺源县")),
        ("江西婺源", Division("江西", "上饶", "婺源县")),
        ("永康中医院", Division("浙江", "金华", "永康市")),
        ("浙江永康市中医院", Division("浙江", "金华", "永康市")),
        ("新沂市棋盘中学", Division("江苏", "徐州", "新沂市")),
        ("海淀区", Division("北京", None, "海淀区")),
        ("积石山保安族东乡族撒拉族自治县", Division("甘肃", "临夏", "积石山保安族东乡族撒拉族自治县")),
        # prefectures outside the main list
        ("来宾市", Division("广西", "来宾")),
        ("延边", Division("吉林", "延边")),
        # a district of four cities is placed by the city before it, else by nothing
        ("南京鼓楼医院", Division("江苏", "南京", "鼓楼区")),
        ("北京朝阳医院", Division("北京", None, "朝阳区")),
        ("鼓楼区", None),
        ("普陀区", None),
        # common words, a market, hospitals named in many cities, shadows
        ("东方市场", None),
        ("长安", None),
        ("同仁医院", None),
        ("北京同仁医院", Division("北京")),
        ("来宾", None),
        ("兰州拉面", None),
        ("小龙虾", None),
        ("", None),
    ],
)
def test_a_name_resolves_to_the_place_it_starts_with(name: str, division: Division | None) -> None:
    assert place_of(name) == division


def test_a_place_a_unit_lists_resolves_by_any_stem() -> None:
    # 宜兴 and 来宾 are common enough words that a post's 「宜兴…」 is not read as the place alone;
    # a unit that lists them means the place
    assert place_of("宜兴") is None
    assert place_of("宜兴", listed=True) == Division("江苏", "无锡", "宜兴市")
    assert place_of("来宾", listed=True) == Division("广西", "来宾")
    assert place_of("鼓楼", listed=True) is None  # four cities have one


def test_a_division_is_shown_as_people_name_it() -> None:
    assert [d.label for d in (Division("湖北"), Division("浙江", "宁波"))] == ["湖北", "宁波"]
    assert Division("江西", "上饶", "婺源县").label == "上饶婺源县"
    assert Division("北京", None, "海淀区").label == "北京海淀区"


def test_the_regions_metric_reads_main_names_and_not_the_shadows() -> None:
    assert regions_in("复旦大学附属中山医院一医生被打") == set()
    assert regions_in("宁波一女子抱婴儿跳楼") == {"浙江"}


def test_the_regions_metric_reads_official_names_of_counties_of_one_province() -> None:
    assert regions_in("婺源县一教师打死学生") == {"江西"}
    assert regions_in("来宾市一男子") == {"广西"}
    # a market, a district four cities have, a region (区域) are no mention
    assert regions_in("东方市场发生火灾") == set()
    assert regions_in("鼓楼区一中学") == set()
