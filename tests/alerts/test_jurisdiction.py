"""属地管理: an event plainly located outside every unit's places is graded and watched, not alerted;
one whose location is unclear, or that touches a unit's places, alerts as before."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.cases.test_response import import_posts, notifications, setup_org
from tests.conftest import FakeClock
from yuqing.alerts import service as alerts
from yuqing.alerts.jurisdiction import home_of, locate, story
from yuqing.analysis import topics
from yuqing.analysis.models import Event
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.analysis.queries import get_event
from yuqing.cases import followup
from yuqing.cases.plan import load_plan
from yuqing.db import transaction
from yuqing.org import service as org
from yuqing.org.models import Unit
from yuqing.reports import service as reports
from yuqing.runtime import Runtime
from yuqing.web.pages import queries
from yuqing.web.pages.dashboard import SeriesCache, dashboard_data
from yuqing.web.pages.events import event_context
from yuqing.workcal.service import load_calendar


def _place(name: str, posts: int, kind: str = "place") -> dict[str, object]:
    return {"kind": kind, "name": name, "posts": posts}


@pytest.mark.parametrize(
    ("regions", "entities", "places", "outside"),
    [
        # an incident in 宁波 for units in 南京 (and 江苏)
        (["南京", "江苏"], [_place("宁波", 12)], "宁波", True),
        (["南京", "江苏"], [_place("江西", 6), _place("婺源县", 1), _place("北京", 1)], "江西", True),
        # a unit listing the province covers its cities; a unit listing a city does not cover the next
        (["南京", "江苏"], [_place("苏州", 5)], "苏州", False),
        (["南京"], [_place("苏州", 5)], "苏州", True),
        # a comment's passing mention does not move the incident; two places both named: cross-region
        (["南京"], [_place("宁波", 10), _place("南京", 1)], "宁波", True),
        (["南京"], [_place("宁波", 4), _place("南京", 2)], "宁波、南京", False),
        # hospitals and schools carry their place
        (["南京"], [_place("宁波市第一医院", 8, "hospital")], "宁波", True),
        (["南京"], [_place("浙江工业大学", 8, "school")], "浙江", True),
        # counties and districts are placed by the gazetteer, in their city
        (["南京"], [_place("婺源县", 6)], "上饶婺源县", True),
        (["南京"], [_place("永康中医院", 6, "hospital")], "金华永康市", True),
        (["南京"], [_place("江宁区", 6)], "南京江宁区", False),
        (["江宁区"], [_place("南京鼓楼医院", 6, "hospital")], "南京鼓楼区", True),
        (["江宁区"], [_place("海淀区", 6)], "北京海淀区", True),
        # a story in the city of a district's unit may be in the district: unclear
        (["江宁区"], [_place("南京", 6)], "南京", False),
        # a district several provinces have (鼓楼区), a market (东方市场), a hospital named in many
        # cities (同仁医院), a shadow, nothing at all: unclear, alerted as before
        (["南京"], [_place("鼓楼区", 6)], "", False),
        (["南京"], [_place("东方市场", 6, "company")], "", False),
        (["北京"], [_place("同仁医院", 6, "hospital")], "", False),
        (["南京"], [_place("兰州拉面", 6)], "", False),
        (["南京"], [], "", False),
        # a place a unit lists by name, even one we cannot place
        (["南京", "婺源县"], [_place("江西", 6), _place("婺源", 6)], "江西上饶婺源县", False),
        (["南京"], [_place("江西", 6), _place("婺源", 6)], "江西上饶婺源县", True),
    ],
)
def test_an_events_location_is_read_from_its_most_named_places(
    rt: Runtime, regions: list[str], entities: list[dict[str, object]], places: str, outside: bool
) -> None:
    with transaction(rt.sessions) as session:
        org.create_unit(session, "市人民政府", kind="government", regions=regions)
        where = locate(session, Event(entities=entities))
    assert (where.text, where.outside) == (places, outside)


@pytest.mark.parametrize(
    ("lead", "entities", "posts", "places", "outside"),
    [
        # the story's own words place it, whatever its comments name
        ("江西省婺源县清华中学发生教师打死学生事件", [_place("北京", 30)], 300, "江西上饶婺源县", True),
        # as precisely as the story says: the county is the responsible locality, not the province
        ("河南省南阳市宛城区红泥湾镇一小学女生被班主任侵害", [], 700, "河南南阳宛城区", True),
        ("【悲哀】宁波一女子抱着孩子从医院楼顶跳下", [], 380, "宁波", True),
        # a national rumour list naming 兰州拉面; three comments naming 兰州 do not place it
        ("3.15又有17种问题食品曝光：1兰州拉面", [_place("兰州", 3), _place("宁波", 2)], 77, "", False),
        # without a place in its story, a place a tenth of its posts name does
        # the city in its province when both are named
        ("学生工疲劳死 其父又被打死", [_place("湖北", 40), _place("武汉", 25)], 240, "湖北武汉", True),
        ("学生工疲劳死 其父又被打死", [_place("湖北", 4), _place("武汉", 2)], 240, "", False),
        # a story naming places in two provinces happens in neither: a list, or cross-region
        ("央视现在的所作所为：北京雾霾、上海死猪", [], 160, "北京、上海", False),
        # a story that opens abroad and names no place of China: 「致人死亡的黄瓜」 of the EU
        ("法新社报道，俄罗斯总理普京今日称不会解除欧盟蔬菜进口禁令", [], 288, "俄罗斯", True),
        ("日本地震引发海啸\n太可怕了", [], 50, "日本", True),
        ("东京一名男子在地铁站持刀伤人", [], 50, "日本东京", True),
        # a news agency's dateline is where it files from, not where the news happens
        ("中新社北京4月17日电 温家宝总理：近年来相继发生“毒奶粉”“瘦肉精”等事件", [], 266, "", False),
        ("新华社杭州5月3日电 杭州一化工厂发生爆炸", [], 50, "杭州", True),
        ("巴黎世家新款被指抄袭", [], 50, "", False),
        ("北京都在下雨，注意安全", [], 50, "北京", True),
        # a country further on, or in a word that names no event there, places nothing
        ("可口可乐承认旗下果粒橙含有美国禁用农药「多菌灵」", [], 100, "", False),
        ("法国梧桐的飞絮太烦人，市民苦不堪言", [], 100, "", False),
        # a place of China in the story outweighs a country beside it
        ("南京一家日本料理店被曝使用过期食材", [], 100, "南京", False),
        # a story in 宁波 that many posts also place in 南京 crosses into the units' places
        ("宁波一女子抱着孩子从医院楼顶跳下", [_place("南京", 60)], 300, "宁波", False),
    ],
)
def test_an_events_story_places_it_before_its_comments(
    rt: Runtime, lead: str, entities: list[dict[str, object]], posts: int, places: str, outside: bool
) -> None:
    with transaction(rt.sessions) as session:
        org.create_unit(session, "市人民政府", kind="government", regions=["南京", "江苏"])
        where = home_of(session).locate(entities, lead, posts)
    assert (where.text, where.outside) == (places, outside)
    foreign = places in ("俄罗斯", "日本", "日本东京")
    assert where.abroad == foreign
    if outside:  # how lists and reports name it
        assert where.where == f"{'境外' if foreign else '外地'}（{places}）"
        assert ("不属本地处置范围" in where.note) == foreign and ("属地管理" in where.note) != foreign


def test_a_story_is_its_title_and_the_opening_of_its_first_posts() -> None:
    rumour = (
        "i各位，中央电视台《焦点访谈》已经播出，可口可乐承认旗下(果粒橙)含有美国禁用农药「多菌灵」，"
        "多菌灵可致癌症。包括香港正在销售的（果粒橙），香港食环署正在了解此事件。"
    )
    told = story("果粒橙含禁用农药", [rumour, "@宁波日报 转发", None])
    # a product sold everywhere, 香港 named in passing far into the post; an account's name
    assert "香港" not in told and "宁波" not in told and told.startswith("果粒橙含禁用农药\n")
    strike = "【学生工疲劳死 其父又被打死】网曝：7月20日，湖北广水市强海制鞋厂工人罢工"
    assert "湖北广水" in story(None, [strike])


def test_an_account_speaking_of_its_own_city_is_placed_by_its_location(rt: Runtime) -> None:
    """「本市检察机关集中公诉…」 from an account in 上海 is a story of 上海; without a location, or
    from an account abroad, 「本市」 places nothing."""
    opening = "【本市10起危害食品安全案件被集中公诉】#最新#本市检察机关集中公诉10起危害食品安全案"
    assert "#上海检察机关" in story(None, [(opening, "上海 黄浦区")])  # 本市 of a district's account
    assert "江宁区城管" in story(None, [("本区城管执法", "江苏 江宁区")])
    assert story(None, [(opening, None)]) == story(None, [opening]) == "\n" + opening[:50]
    assert story(None, [(opening, "海外 韩国")]) == story(None, [(opening, "其他")]) == "\n" + opening[:50]
    assert "本市场" in story(None, [("本市场监管局查处一批过期食品", "上海")])  # 市场, not 市
    with transaction(rt.sessions) as session:
        org.create_unit(session, "南京市人民政府", kind="government", regions=["南京"])
        home = home_of(session)
        title = "本市10起危害食品安全案件被集中公诉"
        shanghai = home.locate([], story(title, [(opening, "上海 黄浦区")]), 383)
        assert (shanghai.text, shanghai.outside) == ("上海", True)
        assert not home.locate([], story(title, [(opening, "江苏 南京")]), 383).outside
        assert not home.locate([], story(title, [(opening, None)]), 383).outside  # unclear: alerted


def test_a_story_placed_only_in_the_units_province_may_be_in_their_city(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        org.create_unit(session, "南京市人民政府", kind="government", regions=["南京"])
        home = home_of(session)
        assert not home.locate([], "江苏一男子当街砍人", 100).outside  # perhaps in 南京: alerted
        assert home.locate([], "浙江一男子当街砍人", 100).outside
        assert home.locate([], "苏州一男子当街砍人", 100).outside  # another city of the province


def test_a_story_held_as_elsewhere_stays_there_while_its_posts_name_no_place_of_ours(rt: Runtime) -> None:
    """A missing child's story placed in 深圳 at first; 88 posts later its title is a copy that names
    no place and one post names 深圳: judged afresh that is unclear (alerted here), but a story
    already held as elsewhere stays there, until a post names a place of ours."""
    entities = [
        {"kind": "place", "name": "深圳", "posts": 1},
        {"kind": "school", "name": "深圳爱绿双语幼儿园", "posts": 1},
    ]
    lead = story("转帖：Mico是中美混血男孩，3周岁，身高1米左右", ["被抢走？什么世道？求扩散，尽快有消息。"])
    with transaction(rt.sessions) as session:
        org.create_unit(session, "南京市人民政府", kind="government", regions=["南京"])
        home = home_of(session)
        assert not home.locate(entities, lead, 88).outside
        held = home.locate(entities, lead, 88, held=True)
        assert (held.outside, held.text) == (True, "深圳")
        ours = [*entities, {"kind": "place", "name": "南京", "posts": 1}]
        assert not home.locate(ours, lead, 89, held=True).outside
        # a comment naming another city (「昨天不说在厦门吗？」) does not scatter it into no place:
        # it alerted a 南京 bureau in the demo
        doubted = [
            *entities,
            {"kind": "place", "name": "厦门", "posts": 1},
        ]
        moved = home.locate(doubted, lead, 90, held=True)
        assert moved.outside and "深圳" in moved.text, moved
        assert not home.locate(doubted, lead, 90).outside  # judged afresh: unclear, alerted


def test_malformed_entities_and_regions_are_read_as_well_as_they_can_be(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        org.create_unit(session, "南京市人民政府", kind="government", regions=["南京"])
        # a region stored by another writer as a number
        session.execute(update(Unit).values(regions=["南京", 3]))
    with rt.sessions() as session:
        odd = [{"kind": "place", "name": "宁波", "posts": "many"}, {"name": None}, "宁波", {"kind": "place"}]
        assert locate(session, Event(entities=odd, title="宁波一女子跳楼", post_count=1)).outside


def test_units_listing_no_place_they_can_be_placed_in_see_every_event_as_theirs(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        org.create_unit(session, "市人民政府", kind="government")
        assert not locate(session, Event(entities=[_place("宁波", 12)])).outside


def test_an_event_naming_one_of_the_units_is_theirs_wherever_it_is(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        city = org.create_unit(session, "南京市人民政府", kind="government", regions=["南京"])
        org.create_unit(session, "江西婺源县人民医院", parent_id=city.id, kind="hospital")
        named = [_place("江西", 6), _place("婺源县人民医院", 3, "hospital")]
        assert not locate(session, Event(entities=named)).outside
        assert locate(session, Event(entities=named[:1])).outside


NINGBO = (
    "宁波市第一医院发生医疗事故，一名产妇在手术中死亡，家属在宁波市第一医院门口拉横幅讨说法，医院至今未回应。"
)


def _ningbo_event(rt: Runtime) -> int:
    setup_org(rt)
    topics.add_topic(rt, "医疗事故", "@主体 + (事故|死亡)", "市卫生健康委员会")
    import_posts(
        rt,
        [
            {"id": "n1", "text": NINGBO, "published_at": "2026-11-20T08:00:00+08:00", "reposts": 620},
            {
                "id": "n2",
                "text": "宁波这家医院太过分了//@网友:" + NINGBO,
                "kind": "repost",
                "cascade": "n1",
                "published_at": "2026-11-20T08:10:00+08:00",
            },
        ],
        "ningbo.jsonl",
    )
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        [event_id] = session.scalars(select(Event.id).where(Event.grade_code.is_not(None)))
    return event_id


def test_a_grave_incident_elsewhere_wakes_nobody_and_tells_the_office_to_watch(rt: Runtime) -> None:
    event_id = _ningbo_event(rt)
    counts = followup.run_once(rt)["alerts"]
    assert (counts["created"], counts["outside"]) == (0, 1)
    assert alerts.list_alerts(rt) == []
    told = notifications(rt)
    # the office only, in the console only: the duty officer (with an email address) is not woken
    assert {n.person_id for n in told} == {_person_id(rt, "李办公室")}
    assert {n.kind for n in told} == {"in_app"}
    [notice] = told
    assert notice.subject_kind == "event" and notice.subject_id == event_id
    assert "【外地舆情·关注】特别重大" in notice.title and "事发地：宁波" in notice.message["body"]
    assert str(notice.message["link"]).endswith(f"/events/{event_id}")  # 「查看」 leads to the event
    # the same grade again tells nobody twice
    with transaction(rt.sessions) as session:
        alerts.raise_alert(
            session,
            rt,
            session.get(Event, event_id),  # type: ignore[arg-type]
            "new",
            load_plan(None),
            load_calendar(rt),
            alerts.AlertCounts(),
        )
    assert len(notifications(rt)) == 1
    page = event_context(rt, event_id)
    note = "事发地：宁波，不在本地辖区（南京）内，按属地管理原则由当地政府或部门处置。"
    assert page is not None and page["elsewhere"].startswith(note)
    assert note + "本系统已定级并持续监测，未发预警、未启动报告时限" in notice.message["body"]
    assert get_event(rt, event_id)["location"] == {"places": ["宁波"], "outside": True, "abroad": False}
    with rt.sessions() as session:
        [row] = queries.event_page(session, "Asia/Shanghai", grade="graded", mark_elsewhere=True).rows
    assert (row["id"], row["elsewhere"]) == (event_id, "外地（宁波）")
    # the dashboard's 特别重大 count says one of them is elsewhere
    [grave] = [g for g in dashboard_data(rt, SeriesCache())["grades"] if g["code"] == "I"]
    assert (grave["count"], grave["elsewhere"]) == (1, 1)
    # the day's report lists it as watched, not as an event nobody opened a case on
    made = reports.generate(rt, "daily", {"date": "2026-11-20", "unit": "市卫生健康委员会"}, "html")
    text = made.document.plain_text()
    # its grade is not counted as the unit's own 特别重大
    overview = (
        "舆情事件1起，其中外地事件1起（特别重大1起），按属地管理原则由事发地处置，本单位仅作关注，"
        "未发预警；发出预警0条"
    )
    assert overview in text
    assert "外地（宁波），关注" in text and "未开立工单" not in text
    # a 专报 of it says whose it is and advises watching, not the plan's one-hour report clock
    special = reports.generate(rt, "special", {"event_id": event_id}, "html").document.plain_text()
    assert "事发地：宁波，不在本地辖区（南京）内，按属地管理原则由当地政府或部门处置。" in special
    assert "由当地处置，本单位不启动预案规定的报告、回应等时限" in special
    assert "向上级报告" not in special and "审核同意" not in special


def test_the_office_may_ask_for_alerts_on_events_elsewhere_too(rt: Runtime) -> None:
    rt.settings = rt.settings.model_copy(update={"alert_outside_regions": True})
    event_id = _ningbo_event(rt)
    assert followup.run_once(rt)["alerts"]["created"] == 1
    [alert] = alerts.list_alerts(rt)
    assert (alert["event_id"], alert["unit"], alert["grade"]) == (event_id, "市卫生健康委员会", "特别重大")
    page = event_context(rt, event_id)
    assert page is not None and page["elsewhere"] is None
    with rt.sessions() as session:
        [row] = queries.event_page(session, "Asia/Shanghai", grade="graded", mark_elsewhere=True).rows
    assert row["elsewhere"] is None  # alerted: not marked


def _person_id(rt: Runtime, name: str) -> int:
    with rt.sessions() as session:
        return org.find_person(session, name).id


def test_an_old_event_elsewhere_tells_nobody(rt: Runtime, clock: FakeClock) -> None:
    """Last year's incident in 宁波, collected now: held as old, and no 关注 notice either; its page
    says it is elsewhere (new posts would not raise an alert here)."""
    clock.advance(days=4)
    event_id = _ningbo_event(rt)
    counts = followup.run_once(rt)["alerts"]
    assert (counts["quiet"], counts["outside"], counts["notices"]) == (1, 0, 0)
    assert notifications(rt) == []
    page = event_context(rt, event_id)
    assert page is not None and page["quiet_hours"] is None and page["elsewhere"].startswith("事发地：宁波")
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        # held as old: when it is active again its place is judged afresh, not kept
        assert event is not None and event.alert_held_at is not None and not event.alert_held_elsewhere


def reposted_in_nanjing(rt: Runtime) -> None:
    """Three reposts of the 宁波 story that place it in 南京 too, analysed."""
    rows: list[dict[str, object]] = [
        {
            "id": f"nj{i}",
            "text": f"南京的医院也出过这样的事，南京卫健委管管吧（{i}）//@网友:" + NINGBO,
            "kind": "repost",
            "cascade": "n1",
            "published_at": f"2026-11-20T08:{20 + i}:00+08:00",
        }
        for i in range(3)
    ]
    import_posts(rt, rows, "ningbo_nanjing.jsonl")
    AnalysisPipeline(rt).run()


def test_an_event_held_as_elsewhere_is_judged_again_as_it_grows(rt: Runtime) -> None:
    """Judged plainly elsewhere at two posts, the story is placed in 南京 too by the posts that
    follow (cross-region): its alert, held back, is raised then; while nothing new comes in, it is
    not judged again every round."""
    event_id = _ningbo_event(rt)
    assert followup.run_once(rt)["alerts"]["outside"] == 1
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        assert event is not None and event.alert_held_at is not None and event.alert_held_posts == 2
        assert event.alert_held_elsewhere  # held as elsewhere, not as old: it keeps its place
    # nothing new: not judged again
    assert followup.run_once(rt)["alerts"]["outside"] == 0
    assert alerts.list_alerts(rt) == []
    reposted_in_nanjing(rt)
    counts = followup.run_once(rt)["alerts"]
    assert (counts["created"], counts["outside"]) == (1, 0)
    [alert] = alerts.list_alerts(rt)
    assert (alert["event_id"], alert["grade"]) == (event_id, "特别重大")
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        assert event is not None and event.alert_held_at is None and event.alert_held_posts is None
        assert not event.alert_held_elsewhere
    page = event_context(rt, event_id)
    assert page is not None and page["elsewhere"] is None and page["quiet_hours"] is None


def test_a_case_opened_on_an_event_elsewhere_raises_no_alert_beside_it(rt: Runtime) -> None:
    """The office opened a case from the page of a 特别重大 event held as elsewhere. Its next posts
    raised an alert beside the case, unlinked and unacknowledged, that escalated to the mayor
    after the case was closed."""
    from yuqing.cases import service as cases

    event_id = _ningbo_event(rt)
    assert followup.run_once(rt)["alerts"]["outside"] == 1
    case = cases.open_case(rt, "李办公室", event_id=event_id)
    assert case["grade_code"] == "I" and case["alert_id"] is None
    reposted_in_nanjing(rt)
    counts = followup.run_once(rt)["alerts"]
    assert counts["created"] == 0 and alerts.list_alerts(rt) == []
    with rt.sessions() as session:
        event = session.get(Event, event_id)
        assert event is not None and event.alert_held_at is None  # the case has it now
