"""Where an event happens, and whether that lies inside the places yuqing's units answer for.

The plan's rule (seed 000: 「对属地明显的网上信息，由当地政府或部门独立处置；对属地不明显或跨辖区的
网上信息，由上一级机关处置」): an event plainly located elsewhere is the local government's to handle.
yuqing grades and lists it (an office watches how a similar incident elsewhere spreads), but it
wakes nobody and starts no clock here.

An event's location is read first from its story: the places named in its title and its first
posts (`lead_text`: the report that started it, before the comments), and the places its hospitals,
schools, companies and offices there start with (「宁波市第一医院」, 「浙江工业大学」). Each resolves
to a province, and to a city and county or district as far as it says (`regions.place_of`:
「江西婺源」, 「永康中医院」, 「南京鼓楼医院」); a name we cannot place (「鼓楼区」 alone, which four
cities have) tells nothing by itself. A story that names no place is
located by its entities (`Event.entities`: the most named, with the posts naming each): the places
named by at least 2 posts and a tenth of the event's posts, the most named and those named by at
least half as many. Comments name places in passing (「中午刚吃了兰州」 under a national 3.15 list):
three of them do not move a story. A story that names no place of China and opens with another
country (「法新社报道，俄罗斯总理普京…」) happens abroad (`_abroad`).

It is *outside* when at least one of those places resolves, none of them lies in a unit's regions (a
unit listing 江苏 covers 苏州; one listing 南京 covers 南京 and its districts only; one listing 江宁区
covers 江宁区, and a story placed only in 南京 may be there; a place a unit lists, 「鼓楼区」, matches by
name even when we cannot resolve it), and none of its named entities is itself a unit. An
event with no place we can resolve, or whose units list no place we can resolve, is never outside:
an unclear location is the unit above's business, as the plan says, and routing decides
(`service.route`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ahocorasick_rs
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.alerts.models import Alert
from yuqing.analysis.entities import Entity, compatible, extract, without_mentions
from yuqing.analysis.models import Event, PostAnalysis
from yuqing.analysis.regions import Division, place_of
from yuqing.cases.models import Case
from yuqing.ingest.models import Post
from yuqing.org.models import Unit
from yuqing.org.service import place_key

__all__ = [
    "WATCH_ONLY",
    "Home",
    "Locality",
    "events_elsewhere",
    "home_of",
    "lead_text",
    "locate",
    "story",
    "unit_named",
]


@dataclass(frozen=True, slots=True)
class Locality:
    """Where an event is located, and whether that is plainly outside every unit's places."""

    places: tuple[str, ...]  # the event's location, the places we could resolve: 「浙江」, 「宁波」
    outside: bool
    home: tuple[str, ...] = ()  # the places the units list, as they list them: 「南京」, 「江苏」
    abroad: bool = False  # another country: 「俄罗斯」

    @property
    def text(self) -> str:
        return "、".join(self.places)

    @property
    def where(self) -> str:
        """「外地（宁波）」, or 「境外（俄罗斯）」 for a story in another country."""
        return f"{'境外' if self.abroad else '外地'}（{self.text}）"

    @property
    def note(self) -> str:
        """The one sentence every page, notice and report says of an event elsewhere."""
        within = f"（{'、'.join(self.home)}）" if self.home else ""
        if self.abroad:
            return f"事发地：境外（{self.text}），不在本地辖区{within}内，不属本地处置范围"
        return f"事发地：{self.text}，不在本地辖区{within}内，按属地管理原则由当地政府或部门处置"


# What yuqing does with an event elsewhere, said after `Locality.note` on its page and in the notice.
WATCH_ONLY = "本系统已定级并持续监测，未发预警、未启动报告时限；如与本单位有关，可开立工单"


@lru_cache(maxsize=4096)
def _own_entities(name: str) -> tuple[Entity, ...]:
    """The entities a unit's name holds (asked for every event located: kept)."""
    return extract(name)


def unit_named(units: list[Unit], named: list[tuple[str, str]]) -> Unit | None:
    """The first unit whose own name is one of these (kind, name) entities (「鼓楼医院」 names the
    unit 「南京鼓楼医院」: the same kind, one name a shorter mention of the other)."""
    if not named:
        return None
    for unit in sorted(units, key=lambda u: u.id):
        for own in _own_entities(unit.name):
            if any(own.kind == kind and compatible(own.name, name) for kind, name in named):
                return unit
    return None


@dataclass(frozen=True, slots=True)
class Home:
    """The places yuqing's units answer for: as they list them (keys), and resolved."""

    units: tuple[Unit, ...]
    listed: frozenset[str]
    resolved: frozenset[Division]
    regions: tuple[str, ...] = ()  # as the units list them, in unit order

    def covers(self, place: Division | str) -> bool:
        if isinstance(place, str):  # a place we could not resolve: only by name
            return place in self.listed
        # a place inside a unit's, or one that may be (「江苏一男子当街砍人」 for a unit of 南京, a
        # story in 南京 for a unit of 江宁区): the story does not say it is elsewhere
        return any(
            own.province == place.province
            and (own.city is None or place.city is None or own.city == place.city)
            and (own.county is None or place.county is None or own.county == place.county)
            for own in self.resolved
        )

    def locate(self, entities: object, lead: str = "", posts: int = 0, *, held: bool = False) -> Locality:
        """The location of an event with these entities (`Event.entities`), story (`lead_text`) and
        post count, and whether it is plainly outside (module docstring). `held`: the event was
        judged plainly elsewhere before, so the places its posts name place it even when too few
        of them name one: a story placed in 深圳 stays there as comments that name no place dilute
        its places (or its title becomes a copy that names none), until a post places it here."""
        found = (
            [e for e in entities if isinstance(e, dict) and e.get("name")]
            if isinstance(entities, list)
            else []
        )
        lead = _DATELINE.sub(" ", lead)  # 「中新社北京4月17日电」 files from 北京
        in_title = [{"kind": e.kind, "name": e.name, "posts": 1} for e in extract(lead)] if lead else []
        named = [(str(e.get("kind")), str(e["name"])) for e in found + in_title if e.get("kind") != "place"]
        if unit_named(list(self.units), named) is not None:
            return Locality((), False, self.regions)
        weight = _places(found)
        strong = {p for p, n in weight.items() if n >= _MIN_PLACE_POSTS and n >= _MIN_PLACE_SHARE * posts}
        title_weight = _places(in_title)
        abroad = _abroad(lead) if not title_weight else None
        if title_weight:  # the story's own words say where: 「江西婺源」, 「宁波一女子」
            located = list(title_weight)
        elif abroad is not None:  # 「法新社报道，俄罗斯总理普京…」: no place of ours, a country first
            located = [Division(_ABROAD, abroad)]
        else:  # else the places enough of its posts name, the most named and those near it
            placing = strong or (set(weight) if held else set())
            top = max((weight[p] for p in placing), default=0)
            located = [p for p, n in weight.most_common() if p in placing and 2 * n >= top]
        resolved = [p for p in located if not isinstance(p, str)]
        ours = any(self.covers(p) for p in {*located, *strong})
        provinces = list(dict.fromkeys(p.province for p in resolved))
        # a story listing places all over (「北京雾霾、上海死猪、香港奶粉」) happens in none of them;
        # not one held elsewhere, which only a post placing it here releases: the demo's 深圳
        # kidnapping alerted a 南京 bureau when one comment asked 「昨天不说在厦门吗？」
        scattered = len(provinces) >= _SCATTERED_PROVINCES and not held
        # only places we could resolve are named to people (an extractor's stray 「什么」 is not
        # shown), each as precisely as the story says: the responsible locality is the county's
        names = _shown(resolved, provinces)
        outside = bool(self.resolved and resolved) and not ours and not scattered
        foreign = bool(resolved) and all(p.province == _ABROAD for p in resolved)
        return Locality(tuple(dict.fromkeys(names)), outside, self.regions, abroad=foreign)


def _shown(resolved: list[Division], provinces: list[str]) -> list[str]:
    """The places an event is located in, as people name them and as precisely as it says: the
    deepest of each province (「南京鼓楼区」, not 「南京、南京鼓楼区」; 「河南南阳宛城区」, not 「河南」,
    for a report from 「河南省南阳市宛城区红泥湾镇」), the province in front when the story names it."""
    names: list[str] = []
    for province in provinces:
        mine = list(dict.fromkeys(p for p in resolved if p.province == province))
        named = Division(province) in mine
        for place in mine:
            if any(other != place and _within(other, place) for other in mine):
                continue  # a city of one of its districts, a province of one of its cities
            label = place.label
            if named and place != Division(province) and not label.startswith(province):
                label = province + label
            names.append(label)
    return list(dict.fromkeys(names))


def _within(inner: Division, outer: Division) -> bool:
    return (
        inner.province == outer.province
        and (outer.city is None or inner.city == outer.city)
        and (outer.county is None or inner.county == outer.county)
    )


# An event's posts name its location when no place is in its title: a place named by at least this
# many of its posts and this share of them (three comments naming 兰州 under a national 3.15 list
# that names 兰州拉面 do not place it; 15 of 1,805 naming 宁波 do not either: unclear, alerted).
_MIN_PLACE_POSTS = 2
_MIN_PLACE_SHARE = 0.1
# The story is the title and the opening of its first posts: a report says where in its first
# sentence (「【悲哀】宁波一女子…」, 「网曝：7月20日，湖北广水市…」); a place further on is often
# in passing (「包括香港正在销售的（果粒橙）」 of a rumour about a product sold everywhere).
_LEAD_POSTS = 3
_LEAD_CHARS = 50
_SCATTERED_PROVINCES = 2


def _places(entities: list[dict[str, Any]]) -> Counter[Division | str]:
    """Posts naming each place (a place we cannot resolve counts under its own name)."""
    weight: Counter[Division | str] = Counter()
    for entity in entities:
        name, posts = str(entity["name"]), _count(entity.get("posts"))
        place: Division | str | None = place_of(name)
        if place is None and entity.get("kind") == "place":
            place = place_key(name)
        if place is not None:
            weight[place] += posts
    return weight


# A story that opens with another country and names no place of China happens abroad: not any
# local government's here. Only the opening counts: 「含有美国禁用农药」 further on is a product's
# story, sold everywhere. Words that hold a country's name and no event there are shadows.
_ABROAD = "境外"
_ABROAD_CHARS = 20
# fmt: off
_COUNTRIES: tuple[str, ...] = (
    "美国", "日本", "韩国", "朝鲜", "俄罗斯", "英国", "法国", "德国", "意大利", "西班牙", "葡萄牙",
    "荷兰", "比利时", "瑞士", "瑞典", "挪威", "丹麦", "芬兰", "爱尔兰", "奥地利", "波兰", "希腊",
    "土耳其", "乌克兰", "以色列", "伊朗", "伊拉克", "叙利亚", "沙特", "阿联酋", "埃及", "南非",
    "印度", "巴基斯坦", "阿富汗", "孟加拉", "尼泊尔", "缅甸", "泰国", "越南", "老挝", "柬埔寨",
    "马来西亚", "新加坡", "印尼", "印度尼西亚", "菲律宾", "澳大利亚", "新西兰", "加拿大", "墨西哥",
    "巴西", "阿根廷", "智利", "古巴", "欧盟", "欧洲", "非洲",
)
# Cities abroad that stories open with (「东京一名男子…」), shown with their country: 「日本东京」.
# Not 京都 (「北京都在下雨」) nor 罗马 (「条条大路通罗马」).
_FOREIGN_CITIES: dict[str, str] = {
    "东京": "日本", "大阪": "日本", "名古屋": "日本", "横滨": "日本", "福冈": "日本", "札幌": "日本",
    "冲绳": "日本", "首尔": "韩国", "釜山": "韩国", "平壤": "朝鲜", "纽约": "美国", "洛杉矶": "美国",
    "旧金山": "美国", "芝加哥": "美国", "波士顿": "美国", "西雅图": "美国", "休斯敦": "美国",
    "费城": "美国", "夏威夷": "美国", "拉斯维加斯": "美国", "伦敦": "英国", "曼彻斯特": "英国",
    "巴黎": "法国", "柏林": "德国", "慕尼黑": "德国", "法兰克福": "德国", "莫斯科": "俄罗斯",
    "马德里": "西班牙", "巴塞罗那": "西班牙", "阿姆斯特丹": "荷兰", "米兰": "意大利",
    "威尼斯": "意大利", "伊斯坦布尔": "土耳其", "迪拜": "阿联酋", "开罗": "埃及", "德黑兰": "伊朗",
    "巴格达": "伊拉克", "大马士革": "叙利亚", "耶路撒冷": "以色列", "新德里": "印度", "孟买": "印度",
    "曼谷": "泰国", "清迈": "泰国", "普吉岛": "泰国", "吉隆坡": "马来西亚", "雅加达": "印尼",
    "巴厘岛": "印尼", "马尼拉": "菲律宾", "河内": "越南", "胡志明市": "越南", "金边": "柬埔寨",
    "仰光": "缅甸", "悉尼": "澳大利亚", "墨尔本": "澳大利亚", "奥克兰": "新西兰", "温哥华": "加拿大",
    "多伦多": "加拿大", "蒙特利尔": "加拿大",
}
_COUNTRY_SHADOWS: tuple[str, ...] = (
    "法国梧桐", "德国骨科", "日本料理", "韩国料理", "泰国菜", "印度飞饼", "美国禁用", "美国进口",
    "日本进口", "德国进口", "澳大利亚进口", "新西兰进口", "巴黎世家", "巴黎欧莱雅", "巴黎贝甜",
    "东京热", "纽约时报", "伦敦金",
)
_ABROAD_NAMES: tuple[str, ...] = (*_COUNTRIES, *(f"{c}{city}" for city, c in _FOREIGN_CITIES.items()))
# fmt: on


@lru_cache(maxsize=1)
def _country_automaton() -> ahocorasick_rs.AhoCorasick:
    return ahocorasick_rs.AhoCorasick(
        [*_COUNTRIES, *_FOREIGN_CITIES, *_COUNTRY_SHADOWS], matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
    )


def _abroad(lead: str) -> str | None:
    """The country, or city abroad, the story opens with (the first `_ABROAD_CHARS` of its title
    or a first post): 「俄罗斯」, 「日本东京」."""
    automaton = _country_automaton()
    for part in lead.split("\n"):
        for index, _start, _end in automaton.find_matches_as_indexes(part[:_ABROAD_CHARS]):
            if index < len(_ABROAD_NAMES):
                return _ABROAD_NAMES[index]
    return None


def _count(value: object) -> int:
    """A count of posts as stored (an int); anything else counts once."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 1
    try:
        return max(1, int(value))
    except ValueError:
        return 1


def home_of(session: Session) -> Home:
    units = tuple(session.scalars(select(Unit).order_by(Unit.id)))
    listed = frozenset(place_key(str(r)) for u in units for r in (u.regions or []) if str(r).strip())
    resolved = frozenset(p for p in (place_of(r, listed=True) for r in listed) if p is not None)
    regions = tuple(dict.fromkeys(str(r).strip() for u in units for r in (u.regions or []) if str(r).strip()))
    return Home(units, listed, resolved, regions)


def lead_text(session: Session, event_id: int, title: str | None) -> str:
    """The words that tell an event's story: its title and its first posts (the report that started
    it, before the comments)."""
    return story(title, first_posts(session, [event_id]).get(event_id, []))


def first_posts(session: Session, ids: list[int]) -> dict[int, list[tuple[str, str | None]]]:
    """`lead_text`'s first posts of many events in one query, each with its author's location."""
    rank = func.row_number().over(partition_by=PostAnalysis.event_id, order_by=PostAnalysis.post_id)
    ranked = (
        select(PostAnalysis.event_id, Post.text, Post.location, rank.label("rank"))
        .join(Post, Post.id == PostAnalysis.post_id)
        .where(PostAnalysis.event_id.in_(ids))
        .subquery()
    )
    out: dict[int, list[tuple[str, str | None]]] = {}
    query = select(ranked.c.event_id, ranked.c.text, ranked.c.location).where(ranked.c.rank <= _LEAD_POSTS)
    for event_id, text, location in session.execute(query.order_by(ranked.c.event_id, ranked.c.rank)):
        out.setdefault(event_id, []).append((text or "", location))
    return out


# A news agency's dateline says where it files from, not where the news happens: 「中新社北京4月17日电
# 温家宝总理：近年来相继发生“毒奶粉”…」 is a national speech, not an event in 北京.
_DATELINE = re.compile(
    r"(?:[\u4e00-\u9fff]{1,6}(?:社|网|报|台|新闻))\s*[\u4e00-\u9fff]{2,6}?\s*\d{1,2}月\d{1,2}日(?:电|讯)"
)


def story(title: str | None, first_posts: Iterable[str | tuple[str | None, str | None] | None]) -> str:
    """The title and the opening (`_LEAD_CHARS`) of each first post, accounts' names blanked. A
    post given with its author's location (「上海 黄浦区」) that speaks of its own place (「本市检察机关
    集中公诉…」) names that place instead: a city's account says 本市 of its city."""
    openings = []
    for post in first_posts:
        text, location = post if isinstance(post, tuple) else (post, None)
        opening = without_mentions(text or "")[:_LEAD_CHARS]
        home = _home_words(location) if location else ""
        if location and home:
            # 「本市」 of an account in 「上海 黄浦区」 is 上海, not its district; 「本区」 is the district
            opening = _own_place(opening, home, _home_words(location, city_only=True))
        openings.append(opening)
    return "\n".join([title or "", *openings])


# An author's own place, as a post names it: 「本市」, 「我县」 (not 「本市场」)
_SELF_PLACE = re.compile(r"(?:本|我)(?:市|县|区)(?!场|域|别|分)")


def _home_words(location: str, *, city_only: bool = False) -> str:
    """An author's profile location (「上海 黄浦区」, 「广东 深圳」) as place words, when it names a
    place of China we can resolve (not 「海外 韩国」, 「其他」); `city_only`: down to its city
    (「上海」 for a district of a municipality, 「广东深圳」)."""
    parts = location.split()[:2]
    if not parts or place_of(parts[0]) is None:
        return ""
    if city_only and len(parts) > 1 and parts[0] in _MUNICIPALITIES:
        return parts[0]
    return "".join(parts)


_MUNICIPALITIES = frozenset({"北京", "上海", "天津", "重庆"})


def _own_place(text: str, home: str, city: str) -> str:
    """「本市」「我县」 in `text` named: the city for 市, the author's full location otherwise."""
    return _SELF_PLACE.sub(lambda m: city if m.group(0).endswith("市") else home, text)


def locate(session: Session, event: Event, *, held: bool = False) -> Locality:
    """The event's location and whether it lies outside the places of every unit (module
    docstring; `held`: see `Home.locate`)."""
    lead = lead_text(session, event.id, event.title) if event.id is not None else event.title or ""
    return home_of(session).locate(event.entities, lead, event.post_count or 0, held=held)


def events_elsewhere(session: Session, ids: list[int]) -> dict[int, str]:
    """Of these graded events, those located plainly elsewhere that raised no alert and have no
    case (a unit may have taken one up all the same), with where they are (`Locality.where`:
    「外地（宁波）」, 「境外（俄罗斯）」)."""
    if not ids:
        return {}
    taken = set(session.scalars(select(Alert.event_id).where(Alert.event_id.in_(ids))))
    taken |= set(session.scalars(select(Case.event_id).where(Case.event_id.in_(ids))))
    wanted = [i for i in ids if i not in taken]
    if not wanted:
        return {}
    home = home_of(session)
    firsts = first_posts(session, wanted)
    out: dict[int, str] = {}
    for event_id, entities, title, posts, held in session.execute(
        select(Event.id, Event.entities, Event.title, Event.post_count, Event.alert_held_elsewhere).where(
            Event.id.in_(wanted)
        )
    ):
        lead = story(title, firsts.get(event_id, []))
        where = home.locate(entities, lead, posts or 0, held=bool(held))
        if where.outside:
            out[event_id] = where.where
    return out
