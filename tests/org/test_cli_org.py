"""The org, people and duty commands, run as a real process (the roster is seeded in-process to keep
the number of slow process starts down)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from tests.org.test_org import build_tree
from tests.test_cli import ok_json, yuqing
from yuqing.db import transaction
from yuqing.org import duty, service
from yuqing.runtime import open_runtime

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def seeded() -> Iterator[dict[str, int]]:
    """The default database of the working directory, with the Nanjing tree and three people."""
    rt = open_runtime()
    try:
        with transaction(rt.sessions) as session:
            ids = build_tree(session)
            for name in ["张伟", "李娜", "王芳"]:
                ids[name] = service.add_person(session, name, ids["gulou_hospital"]).id
        yield ids
    finally:
        rt.close()


def test_people_add_with_roles_and_contacts_and_the_tree(seeded: dict[str, int]) -> None:
    added = ok_json(
        yuqing(
            "people",
            "add",
            "陈静",
            "--unit",
            "鼓楼医院",
            "--role",
            "值班员",
            "--role",
            "分管领导@市卫生健康委员会",
            "--email",
            "chenjing@njglyy.com",
            "--dingtalk",
            "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "--login",
            "chenjing",
            "--json",
        )
    )
    assert isinstance(added, dict)
    assert [(r["label"], r["unit"]) for r in added["roles"]] == [
        ("值班员", "鼓楼医院"),
        ("分管领导", "市卫生健康委员会"),
    ]
    assert [c["kind"] for c in added["contacts"]] == ["email", "dingtalk"]

    tree = ok_json(yuqing("org", "list", "--json"))
    assert isinstance(tree, list) and [u["name"] for u in tree] == ["南京市人民政府"]
    health = tree[0]["children"][0]
    assert health["name"] == "市卫生健康委员会"
    assert [u["name"] for u in health["children"]] == ["鼓楼医院", "南京市第一医院"]

    # A bad address stops the whole command: one line on stderr, and no half-added person.
    bad = yuqing("people", "add", "刘洋", "--unit", "鼓楼医院", "--role", "监测员", "--email", "liuyang@")
    assert bad.returncode != 0 and bad.stdout == b""
    message = bad.stderr.decode()
    assert "邮箱地址格式不对" in message and len(message.strip().splitlines()) == 1


def test_duty_override_now_and_gaps_during_24_hour_duty(seeded: dict[str, int]) -> None:
    rt = open_runtime()
    try:
        with transaction(rt.sessions) as session:
            hospital = seeded["gulou_hospital"]
            duty.set_rotation(session, hospital, [seeded["张伟"], seeded["李娜"]], dt.date(2026, 11, 24))
            opened = dt.datetime(2026, 11, 23, 20, 0, tzinfo=SHANGHAI)
            duty.start_24h_duty(session, hospital, "重大事件 #12 处置中", opened, key="case:12")
    finally:
        rt.close()

    placed = yuqing(
        "duty", "override", "鼓楼医院", "王芳", "--from", "2026-11-23T20:00", "--to", "2026-11-24T02:00"
    )
    assert placed.returncode == 0, placed.stderr.decode()
    assert "王芳" in placed.stdout.decode()

    now = ok_json(yuqing("duty", "now", "鼓楼医院", "--at", "2026-11-23T23:00", "--json"))
    assert isinstance(now, dict)
    assert [p["name"] for p in now["people"]] == ["王芳"]
    assert now["round_the_clock"] is True and now["reasons"] == ["重大事件 #12 处置中"]

    found = ok_json(
        yuqing("duty", "gaps", "鼓楼医院", "--from", "2026-11-23T18:00", "--to", "2026-11-24", "--json")
    )
    assert found == [{"start": "2026-11-24T02:00:00+08:00", "end": "2026-11-24T08:30:00+08:00", "hours": 6.5}]


def test_rotation_by_name_at_unit_and_an_ambiguous_name(seeded: dict[str, int]) -> None:
    rt = open_runtime()
    try:
        with transaction(rt.sessions) as session:
            service.add_person(session, "张伟", seeded["school"])
    finally:
        rt.close()

    ambiguous = yuqing("duty", "rotation", "鼓楼医院", "--people", "张伟,李娜", "--start", "2026-11-23")
    assert ambiguous.returncode != 0
    message = ambiguous.stderr.decode()
    assert "有 2 人名为 张伟" in message and "南京市第一中学" in message
    assert len(message.strip().splitlines()) == 1

    set_up = yuqing(
        "duty",
        "rotation",
        "鼓楼医院",
        "--people",
        "张伟@鼓楼医院,李娜",
        "--start",
        "2026-11-23",
        "--hours",
        "all_day",
    )
    assert set_up.returncode == 0, set_up.stderr.decode()

    shown = ok_json(
        yuqing("duty", "show", "鼓楼医院", "--from", "2026-11-23", "--to", "2026-11-24", "--json")
    )
    assert isinstance(shown, list)
    assert [(s["person"], s["start"][:16], s["hours"]) for s in shown] == [
        ("张伟", "2026-11-23T08:30", "all_day"),
        ("李娜", "2026-11-24T08:30", "all_day"),
    ]
