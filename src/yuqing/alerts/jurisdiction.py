"""Where an event happens, and whether that lies inside the places yuqing's units answer for.

The plan's rule (seed 000: 「对属地明显的网上信息，由当地政府或部门独立处置；对属地不明显或跨辖区的
网上信息，由上一级机关处置」): an event plainly located elsewhere is the local government's to handle.
yuqing grades and lists it (an office watches how a similar incident elsewhere spreads), but it
wakes nobody and starts no clock here.

An event's location is read from its entities (`Event.entities`: the most named, with the posts
naming each): its places, and the places its hospitals, schools, companies and offices start with
(「宁波市第一医院」, 「浙江工业大学」). Each resolves to a province, and to a city when it is one of the
main cities (`regions.place_at_start`); a county or a name we cannot place (「婺源县」 alone) tells
nothing by itself. The event is *located* at the places named by at least half as many posts as the
most named one: a comment's passing 「南京也有」 does not move an incident in 宁波.

It is *outside* when at least one of those places resolves, none of them lies in a unit's regions (a
unit listing 江苏 covers 苏州; one listing 南京 covers 南京 only; a place a unit lists, 「鼓楼区」,
matches by name even when we cannot resolve it), and none of its named entities is itself a unit. An
event with no place we can resolve, or whose units list no place we can resolve, is never outside:
an unclear location is the unit above's business, as the plan says, and routing decides
(`service.route`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.analysis.entities import compatible, extract
from yuqing.analysis.models import Event
from yuqing.analysis.regions import place_at_start
from yuqing.org.models import Unit
from yuqing.org.service import place_key

__all__ = ["Home", "Locality", "home_of", "locate", "unit_named"]

Place = tuple[str, str | None]  # (province, city or None for the province itself)


@dataclass(frozen=True, slots=True)
class Locality:
    """Where an event is located, and whether that is plainly outside every unit's places."""

    places: tuple[str, ...]  # the event's location, the places we could resolve: 「浙江」, 「宁波」
    outside: bool

    @property
    def text(self) -> str:
        return "、".join(self.places)


def unit_named(units: list[Unit], named: list[tuple[str, str]]) -> Unit | None:
    """The first unit whose own name is one of these (kind, name) entities (「鼓楼医院」 names the
    unit 「南京鼓楼医院」: the same kind, one name a shorter mention of the other)."""
    for unit in sorted(units, key=lambda u: u.id):
        for own in extract(unit.name):
            if any(own.kind == kind and compatible(own.name, name) for kind, name in named):
                return unit
    return None


@dataclass(frozen=True, slots=True)
class Home:
    """The places yuqing's units answer for: as they list them (keys), and resolved."""

    units: tuple[Unit, ...]
    listed: frozenset[str]
    resolved: frozenset[Place]

    def covers(self, place: Place | str) -> bool:
        if isinstance(place, str):  # a place we could not resolve: only by name
            return place in self.listed
        province, city = place
        return (province, None) in self.resolved or (city is not None and (province, city) in self.resolved)

    def locate(self, entities: object) -> Locality:
        """The location of an event with these entities (`Event.entities`), and whether it is
        plainly outside (module docstring)."""
        found = (
            [e for e in entities or [] if isinstance(e, dict) and e.get("name")]
            if isinstance(entities, list)
            else []
        )
        named = [(str(e.get("kind")), str(e["name"])) for e in found if e.get("kind") != "place"]
        if unit_named(list(self.units), named) is not None:
            return Locality((), False)
        # places by what they resolve to; one we cannot place counts under its own name
        weight: Counter[Place | str] = Counter()
        shown: dict[Place, str] = {}
        for entity in found:
            name, posts = str(entity["name"]), int(entity.get("posts") or 1)
            place: Place | str | None = place_at_start(name)
            if place is None and entity.get("kind") == "place":
                place = place_key(name)
            if place is not None:
                weight[place] += posts
                if not isinstance(place, str):
                    shown.setdefault(place, place[1] or place[0])
        if not weight:
            return Locality((), False)
        top = max(weight.values())
        located = [p for p, n in weight.most_common() if 2 * n >= top]
        resolved = [p for p in located if not isinstance(p, str)]
        ours = any(self.covers(p) for p in located)
        # only places we could resolve are named to people (an extractor's stray 「什么」 is not shown)
        return Locality(tuple(shown[p] for p in resolved), bool(self.resolved and resolved) and not ours)


def home_of(session: Session) -> Home:
    units = tuple(session.scalars(select(Unit).order_by(Unit.id)))
    listed = frozenset(place_key(r) for u in units for r in (u.regions or []) if str(r).strip())
    resolved = frozenset(p for p in (place_at_start(r) for r in listed) if p is not None)
    return Home(units, listed, resolved)


def locate(session: Session, event: Event) -> Locality:
    """The event's location and whether it lies outside the places of every unit (module docstring)."""
    return home_of(session).locate(event.entities)
