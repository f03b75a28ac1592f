"""Units, people, roles and contact channels, on a real database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

import yuqing.org
from yuqing.org import service
from yuqing.org.models import ContactKind, OrgError, UnitKind
from yuqing.org.roles import Role, parse_role
from yuqing.runtime import Runtime


def build_tree(session: Session) -> dict[str, int]:
    """南京市人民政府 with two bureaus, their hospitals and a school, and two district governments."""
    city = service.create_unit(session, "南京市人民政府", regions=["南京市"], alert_threshold="III")
    health = service.create_unit(session, "市卫生健康委员会", parent_id=city.id, kind="bureau")
    gulou_hospital = service.create_unit(session, "鼓楼医院", parent_id=health.id, kind="医院")
    first_hospital = service.create_unit(session, "南京市第一医院", parent_id=health.id, kind="hospital")
    education = service.create_unit(session, "市教育局", parent_id=city.id, kind=UnitKind.BUREAU)
    school = service.create_unit(session, "南京市第一中学", parent_id=education.id, kind="school")
    gulou = service.create_unit(session, "鼓楼区人民政府", parent_id=city.id, regions=["鼓楼区"])
    xuanwu = service.create_unit(session, "玄武区人民政府", parent_id=city.id, regions=["玄武区"])
    return {
        "city": city.id,
        "health": health.id,
        "gulou_hospital": gulou_hospital.id,
        "first_hospital": first_hospital.id,
        "education": education.id,
        "school": school.id,
        "gulou": gulou.id,
        "xuanwu": xuanwu.id,
    }


@pytest.fixture
def session(rt: Runtime) -> Iterator[Session]:
    with rt.sessions() as session, session.begin():
        yield session


@pytest.fixture
def units(session: Session) -> dict[str, int]:
    return build_tree(session)


def names(items: object) -> list[str]:
    assert isinstance(items, list)
    return [item.name for item in items]


def test_public_api_is_pinned() -> None:
    assert "on_duty" in yuqing.org.__all__ and "people_with_role" in yuqing.org.__all__
    assert all(hasattr(yuqing.org, name) for name in yuqing.org.__all__)


def test_tree_ancestors_and_defaults(session: Session, units: dict[str, int]) -> None:
    assert names(service.ancestors(session, units["gulou_hospital"])) == [
        "鼓楼医院",
        "市卫生健康委员会",
        "南京市人民政府",
    ]
    tree = [(unit.name, depth) for unit, depth in service.unit_tree(session)]
    assert tree[:4] == [
        ("南京市人民政府", 0),
        ("市卫生健康委员会", 1),
        ("鼓楼医院", 2),
        ("南京市第一医院", 2),
    ]
    city = service.find_unit(session, "南京市人民政府")
    assert city.kind == "government" and city.alert_threshold == "III"  # a root defaults to 政府
    assert service.find_unit(session, units["gulou"]).kind == "department"
    assert service.find_unit(session, str(units["gulou_hospital"])).kind == "hospital"  # from 医院
    nested = service.tree_view(session)
    assert [n["name"] for n in nested[0]["children"]] == [
        "市卫生健康委员会",
        "市教育局",
        "鼓楼区人民政府",
        "玄武区人民政府",
    ]


def test_unit_names_are_unique_and_a_unit_cannot_move_below_itself(
    session: Session, units: dict[str, int]
) -> None:
    with pytest.raises(OrgError, match="已有同名单位"):
        service.create_unit(session, "鼓楼医院")
    with pytest.raises(OrgError, match="下级"):
        service.update_unit(session, units["health"], parent_id=units["gulou_hospital"])
    moved = service.update_unit(session, units["school"], parent_id=units["gulou"], alert_threshold="重大")
    assert moved.alert_threshold == "II"
    assert names(service.ancestors(session, units["school"]))[1] == "鼓楼区人民政府"
    with pytest.raises(OrgError, match="未知预警级别"):
        service.update_unit(session, units["school"], alert_threshold="V")


def test_only_an_empty_unit_can_be_deleted(session: Session, units: dict[str, int]) -> None:
    service.add_person(session, "周敏", units["first_hospital"])
    with pytest.raises(OrgError, match="2 个下级单位"):
        service.delete_unit(session, units["health"])
    with pytest.raises(OrgError, match="1 名人员"):
        service.delete_unit(session, units["first_hospital"])
    service.delete_unit(session, units["xuanwu"])
    with pytest.raises(LookupError):
        service.find_unit(session, "玄武区人民政府")


def test_common_parent(session: Session, units: dict[str, int]) -> None:
    pairs = {
        ("gulou_hospital", "first_hospital"): "市卫生健康委员会",
        ("gulou_hospital", "school"): "南京市人民政府",
        ("gulou_hospital", "health"): "市卫生健康委员会",
        ("school", "school"): "南京市第一中学",
    }
    for (a, b), expected in pairs.items():
        parent = service.common_parent(session, [units[a], units[b]])
        assert parent is not None and parent.name == expected
    other = service.create_unit(session, "上海市人民政府")
    assert service.common_parent(session, [units["school"], other.id]) is None
    with pytest.raises(OrgError):
        service.common_parent(session, [])


def test_unit_for_regions(session: Session, units: dict[str, int]) -> None:
    def unit_for(*regions: str) -> str | None:
        unit = service.unit_for_regions(session, regions)
        return None if unit is None else unit.name

    assert unit_for("玄武区") == "玄武区人民政府"
    assert unit_for("鼓楼区") == "鼓楼区人民政府"
    # 南京市鼓楼区 is local to the district; two districts go to the city they share.
    assert unit_for("南京市", "鼓楼区") == "鼓楼区人民政府"
    assert unit_for("鼓楼区", "玄武区") == "南京市人民政府"
    assert unit_for("南京") == "南京市人民政府"  # 南京 and 南京市 are the same place
    assert unit_for("上海") is None

    service.update_unit(session, units["gulou_hospital"], regions=["南京市", "鼓楼区"])
    # The hospital is merely located in 南京市, which stays the city's business...
    assert unit_for("南京市") == "南京市人民政府"
    # ...but for 鼓楼区 the hospital and the district (different branches) both answer: the city decides.
    assert unit_for("鼓楼区") == "南京市人民政府"
    service.update_unit(session, units["gulou_hospital"], parent_id=units["gulou"])
    assert unit_for("鼓楼区") == "鼓楼区人民政府"


def test_alert_threshold(session: Session, units: dict[str, int]) -> None:
    city = service.get_unit(session, units["city"])
    hospital = service.get_unit(session, units["gulou_hospital"])
    assert not service.receives_alert(city, "IV") and service.receives_alert(city, "III")
    assert service.receives_alert(city, "I") and service.receives_alert(hospital, "IV")


def test_roles_are_inherited_downwards_and_admin_holds_all(session: Session, units: dict[str, int]) -> None:
    chief = service.add_person(session, "王建国", units["city"])
    deputy = service.add_person(session, "李娜", units["health"], login="lina")
    admin = service.add_person(session, "系统管理员", units["city"], login="admin")
    service.grant_role(session, chief.id, Role.CHIEF)
    service.grant_role(session, deputy.id, "分管领导")
    service.grant_role(session, admin.id, "admin")

    assert service.has_role(session, chief.id, Role.CHIEF, units["gulou_hospital"])
    assert service.has_role(session, deputy.id, Role.DEPUTY_LEADER, units["gulou_hospital"])
    assert not service.has_role(session, deputy.id, Role.DEPUTY_LEADER, units["school"])
    assert not service.has_role(session, deputy.id, Role.DEPUTY_LEADER, units["city"])
    assert not service.has_role(session, deputy.id, Role.CHIEF, units["health"])
    assert service.has_role(session, admin.id, Role.LEADING_GROUP, units["school"])

    service.update_person(session, chief.id, active=False)
    assert not service.has_role(session, chief.id, Role.CHIEF, units["city"])

    service.revoke_role(session, deputy.id, Role.DEPUTY_LEADER)
    assert not service.has_role(session, deputy.id, Role.DEPUTY_LEADER, units["health"])
    with pytest.raises(LookupError, match="没有 分管领导"):
        service.revoke_role(session, deputy.id, Role.DEPUTY_LEADER)


def test_people_with_role_falls_back_up_the_tree(session: Session, units: dict[str, int]) -> None:
    deputy = service.add_person(session, "李娜", units["health"])
    service.grant_role(session, deputy.id, Role.DEPUTY_LEADER)
    admin = service.add_person(session, "系统管理员", units["gulou_hospital"])
    service.grant_role(session, admin.id, Role.ADMIN)

    assert names(service.people_with_role(session, Role.DEPUTY_LEADER, units["gulou_hospital"])) == ["李娜"]
    assert service.people_with_role(session, Role.DEPUTY_LEADER, units["school"]) == []

    own = service.add_person(session, "陈静", units["gulou_hospital"])
    service.grant_role(session, own.id, "deputy_leader")
    assert names(service.people_with_role(session, "分管领导", units["gulou_hospital"])) == ["陈静"]
    service.update_person(session, own.id, active=False)
    assert names(service.people_with_role(session, "分管领导", units["gulou_hospital"])) == ["李娜"]


def test_a_decision_any_of_several_roles_may_take_is_asked_at_the_nearest_unit_with_one(
    session: Session, units: dict[str, int]
) -> None:
    """A bureau's formal reply is settled by its 分管领导 or 主要领导: the bureau's 分管领导 is
    asked, not the mayor above; the mayor only when the bureau has neither."""
    mayor = service.add_person(session, "周市长", units["city"])
    service.grant_role(session, mayor.id, Role.CHIEF)
    roles = (Role.DEPUTY_LEADER, Role.CHIEF)
    assert names(service.nearest_holders(session, roles, units["gulou_hospital"])) == ["周市长"]
    deputy = service.add_person(session, "冯副主任", units["health"])
    service.grant_role(session, deputy.id, Role.DEPUTY_LEADER)
    head = service.add_person(session, "褚主任", units["health"])
    service.grant_role(session, head.id, "chief")
    service.grant_role(session, head.id, "deputy_leader")
    assert names(service.nearest_holders(session, roles, units["gulou_hospital"])) == ["冯副主任", "褚主任"]
    assert names(service.nearest_holders(session, (Role.CHIEF,), units["health"])) == ["褚主任"]
    assert service.nearest_holders(session, (Role.LIAISON,), units["health"]) == []


def test_roles_parse_from_code_or_chinese_label() -> None:
    assert parse_role("分管领导") is Role.DEPUTY_LEADER
    assert parse_role("duty-officer") is Role.DUTY_OFFICER
    assert Role.LEADING_GROUP.label == "领导小组成员"
    with pytest.raises(OrgError, match="未知角色"):
        parse_role("局长")


def test_find_person_by_id_login_name_and_ambiguous_name(session: Session, units: dict[str, int]) -> None:
    first = service.add_person(session, "张伟", units["gulou_hospital"], login="zhangwei")
    second = service.add_person(session, "张伟", units["school"])
    assert service.find_person(session, str(first.id)).id == first.id
    assert service.find_person(session, "zhangwei").id == first.id
    assert service.find_person(session, "张伟@南京市第一中学").id == second.id
    with pytest.raises(OrgError, match="有 2 人名为 张伟") as raised:
        service.find_person(session, "张伟")
    assert "鼓楼医院" in str(raised.value) and "南京市第一中学" in str(raised.value)
    service.update_person(session, second.id, active=False)
    assert service.find_person(session, "张伟").id == first.id  # a leaver does not make it ambiguous
    with pytest.raises(LookupError, match="找不到人员"):
        service.find_person(session, "刘洋")
    with pytest.raises(OrgError, match="已被占用"):
        service.add_person(session, "张伟", units["city"], login="zhangwei")


def test_contact_channels_are_validated_and_ordered(session: Session, units: dict[str, int]) -> None:
    person = service.add_person(session, "王芳", units["health"])
    service.add_contact(session, person.id, "email", "wangfang@NJWJW.gov.cn")
    service.add_contact(session, person.id, "钉钉", "https://oapi.dingtalk.com/robot/send?access_token=abc")
    service.add_contact(session, person.id, ContactKind.PHONE, "025-83106666", priority=-1)
    sms = service.add_contact(session, person.id, "sms", "13912345678")
    service.set_contact_enabled(session, sms.id, False)

    contacts = service.contacts_of(session, person.id)
    assert [(c.kind, c.address) for c in contacts] == [
        ("phone", "025-83106666"),
        ("email", "wangfang@njwjw.gov.cn"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=abc"),
    ]
    assert len(service.contacts_of(session, person.id, include_disabled=True)) == 4

    for kind, address, message in [
        ("email", "wangfang@", "邮箱地址格式不对"),
        ("email", "wang fang@njwjw.gov.cn", "邮箱地址格式不对"),
        ("wecom", "ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send", "http"),
        ("feishu", "open.feishu.cn/open-apis/bot/v2/hook/x", "http"),
        ("phone", "call me", "电话号码格式不对"),
        ("fax", "025-1234567", "未知联系方式"),
    ]:
        with pytest.raises(OrgError, match=message):
            service.add_contact(session, person.id, kind, address)
