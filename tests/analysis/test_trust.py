"""Trustworthy events and grades, end to end through import and the pipeline: concurrent incidents
of one topic stay apart and are graded by the plan's thresholds, copies of a story merge, a
template about different hospitals does not, one word in one post raises nothing, and untopiced
chatter forms no event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from yuqing.analysis import queries, topics
from yuqing.analysis.models import Event, PostAnalysis
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.analysis.steps import trusted_flags
from yuqing.ingest import service
from yuqing.ingest.models import Post
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

DAY = "2026-11-19T"  # the day before the test clock: a post dated a week ahead is refused


def load(rt: Runtime, rows: list[dict[str, object]], name: str) -> None:
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    service.import_data(rt, PostWriter(rt.sessions, rt.settings, rt.clock), data, origin=name)


def medical_topic(rt: Runtime) -> None:
    topics.set_word_group(rt, "医疗主体", ["医院", "患者", "患儿", "医生"], "主体")
    topics.add_topic(rt, "医疗", "@医疗主体 + (投诉|误诊|死亡|纠纷|事故|索要红包|身亡)", "市卫健委")


def news(
    site: str, n: int, text: str, when: str, *, tier: str = "other", views: int = 0
) -> dict[str, object]:
    return {
        "id": f"{site}-{n}",
        "url": f"https://{site}/news/{n}.html",
        "platform": "news",
        "media_tier": tier,
        "text": text,
        "published_at": DAY + when,
        "views": views,
    }


# Four incidents at four hospitals of one city within two hours: four stories.
WAITING = (
    "南京市第一医院门诊排队三小时，患者家属投诉挂号难、医生态度冷漠，记者昨日走访发现，"
    "该院门诊大厅人满为患，自助机多台故障，院方回应称将增加窗口。"
)
MISDIAGNOSIS = (
    "江苏省人民医院被指乱收费：一名市民住院五天被收取检查费两万元，其中多项检查并未做过，家属投诉后"
    "要求退费，医院医务处表示已介入调查，将在三天内给出答复。"
)
BRIBE = (
    "鼓楼医院一名外科医生被曝术前向患者家属索要红包五千元，家属提供了录音，"
    "医院纪委已成立调查组，涉事医生停职接受调查。"
)
DEATH = (
    "南京市儿童医院一名5岁患儿输液后死亡，家属质疑护士用错药。12月3日上午，患儿在该院输液约二十分钟后"
    "出现抽搐，经抢救无效死亡，院方称已封存药品，等待尸检结果。"
)


def four_incidents() -> list[dict[str, object]]:
    """The four hospital incidents as reported on seven sites within two hours."""
    return [
        news("a.cn", 1, WAITING, "08:00:00+08:00", views=300),
        news("b.cn", 1, MISDIAGNOSIS, "08:20:00+08:00", views=1800),
        news("c.cn", 1, MISDIAGNOSIS.replace("三天内", "3天内"), "08:40:00+08:00", views=900),
        news("js.gov.cn", 1, BRIBE, "09:00:00+08:00", tier="provincial", views=2000),
        news("d.cn", 1, DEATH, "09:10:00+08:00", tier="city", views=5000),
        news("e.cn", 1, DEATH.replace("12月3日上午，", ""), "09:30:00+08:00", tier="city", views=3000),
        news("f.cn", 1, "转载：" + DEATH, "09:50:00+08:00", tier="city", views=2000),
    ]


def test_four_concurrent_hospital_incidents_are_four_events_graded_by_the_plan(rt: Runtime) -> None:
    medical_topic(rt)
    load(rt, four_incidents(), "four.jsonl")
    AnalysisPipeline(rt).run()
    events = sorted(queries.list_events(rt, graded_only=True), key=lambda e: e["first_seen"])
    assert [e["grade_code"] for e in events] == ["IV", "III", "II", "I"]
    assert [e["posts"] for e in events] == [1, 2, 1, 3]
    death = queries.get_event(rt, events[3]["id"], with_posts=True)
    [flag] = [r for r in death["reasons"] if r["key"] == "flag:casualties"]
    assert "人员伤亡" in flag["text"] and len(flag["posts"]) >= 1
    assert set(flag["posts"]) <= set(death["post_ids"])
    assert any(e["kind"] == "hospital" and "儿童医院" in e["name"] for e in death["entities"])
    # the misdiagnosis story on two sites is one event on two sites
    assert events[1]["metrics"]["sites"] == 2


TEMPLATE = (
    "患者家属投诉{}误诊，孩子高烧三天被当作普通感冒，延误治疗住进重症监护室，家属要求医院公开道歉并赔偿。"
)


def test_a_template_about_three_hospitals_is_three_events_and_a_copy_joins(rt: Runtime) -> None:
    medical_topic(rt)
    hospitals = ("南京鼓楼医院", "江苏省中医院", "南京市中大医院")
    rows = [news(f"s{i}.cn", 1, TEMPLATE.format(h), f"10:0{i}:00+08:00") for i, h in enumerate(hospitals)]
    # one character changed: the same story about the same hospital, on another site
    rows.append(news("s9.cn", 1, TEMPLATE.format(hospitals[0]).replace("三天", "3天"), "10:30:00+08:00"))
    load(rt, rows, "template.jsonl")
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        by_site = {
            url.split("/")[2]: event_id
            for url, event_id in session.execute(
                select(Post.url, PostAnalysis.event_id).join(PostAnalysis, PostAnalysis.post_id == Post.id)
            )
        }
    assert len({by_site["s0.cn"], by_site["s1.cn"], by_site["s2.cn"]}) == 3
    assert by_site["s9.cn"] == by_site["s0.cn"]
    # each later event is told that similar posts came before (a campaign, or a rumour coming back)
    from yuqing.analysis.queries import earlier_events

    with rt.sessions() as session:
        assert earlier_events(session, by_site["s0.cn"]) == []
        # (a copy links to the first of its copies)
        for site in ("s1.cn", "s2.cn"):
            assert [e.id for e in earlier_events(session, by_site[site])] == [by_site["s0.cn"]]


def test_one_word_in_a_post_raises_no_flag(rt: Runtime) -> None:
    medical_topic(rt)
    rows = [
        news(
            "h.cn",
            1,
            "星座运势：天蝎座今天易伤人，说话死倔，去医院看望病人时少说为妙，以免引发纠纷。",
            "11:00:00+08:00",
        ),
        news(
            "h.cn",
            2,
            "新书推荐《爱与死亡的故事》：一位医生在医院里见证的生死，温暖治愈，限时五折。",
            "11:10:00+08:00",
        ),
        news(
            "h.cn",
            3,
            "累死了，今天在医院陪床一整天，患者家属真不容易，笑死，护士说我比病人还憔悴。",
            "11:20:00+08:00",
        ),
    ]
    load(rt, rows, "noise.jsonl")
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        flags = [a.flags for a in session.scalars(select(PostAnalysis))]
    assert flags == [[], [], []]
    assert not any(e["grade_code"] == "I" for e in queries.list_events(rt, graded_only=True))


def test_untopiced_chatter_forms_no_event_but_a_repost_of_an_event_joins_it(rt: Runtime) -> None:
    medical_topic(rt)
    rows: list[dict[str, object]] = [
        {
            "id": f"x{i}",
            "text": f"今天天气不错，和朋友去公园散步第{i}天，心情很好。",
            "published_at": f"{DAY}12:0{i}:00+08:00",
        }
        for i in range(5)
    ]
    rows.append({"id": "o1", "text": DEATH, "published_at": DAY + "12:10:00+08:00", "platform": "weibo"})
    rows.append(
        {
            "id": "r1",
            "text": "太让人心痛了",
            "kind": "repost",
            "cascade": "o1",
            "published_at": DAY + "12:20:00+08:00",
            "platform": "weibo",
        }
    )
    load(rt, rows, "chatter.jsonl")
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1
        event = session.scalars(select(Event)).one()
        assert event.post_count == 2
        # the event's times are its posts' times
        assert event.first_seen.isoformat().startswith("2026-11-19T04:10")
        assert event.last_seen.isoformat().startswith("2026-11-19T04:20")
        unassigned = session.scalar(
            select(func.count()).select_from(PostAnalysis).where(PostAnalysis.event_id.is_(None))
        )
        assert unassigned == 5


def test_trusted_flags_need_an_incident() -> None:
    assert trusted_flags(False, False, False, ("casualties", "corruption")) == ()
    assert trusted_flags(True, True, False, ("public_safety", "corruption")) == ("casualties", "corruption")


def test_reposts_with_few_words_of_their_own_are_reactions_not_reports(rt: Runtime) -> None:
    """「转一发！」 or the deadly report quoted after 「求真相//@」 is no second report of the
    death: the casualties flag needs two reports (or one from an outlet), and one claim with a
    handful of reactions stays below it. A repost saying something of its own is read on its own."""
    medical_topic(rt)
    weibo = {"platform": "weibo", "cascade": "o1"}
    rows: list[dict[str, object]] = [
        {"id": "o1", "text": DEATH, "published_at": DAY + "12:10:00+08:00", "platform": "weibo"},
        {**weibo, "id": "r1", "kind": "repost", "text": "转一发！", "published_at": DAY + "12:11:00+08:00"},
        {
            **weibo,
            "id": "r2",
            "kind": "repost",
            "text": "求真相//@网友:" + DEATH,
            "published_at": DAY + "12:12:00+08:00",
        },
        # Weibo's share button quotes the post's title in words nobody typed (the demo's 浙工大 had
        # six of these counted as six reports of deaths)
        *(
            {
                **weibo,
                "id": f"s{i}",
                "kind": "repost",
                "text": f"{before}推荐@网友 的帖子《{DEATH[:40]}》{comma}大家也来看看吧{tilde}",
                "published_at": DAY + f"12:1{3 + i}:00+08:00",
            }
            for i, (before, comma, tilde) in enumerate((("", "，", "～"), ("[围观]", ",", "~")))
        ),
    ]
    load(rt, rows, "reactions.jsonl")
    AnalysisPipeline(rt).run()
    [event] = queries.list_events(rt)
    assert event["posts"] == 5
    assert event["metrics"]["incident_posts"] == 1
    assert event["metrics"]["flags"] == {"casualties": 1}  # one report states the death
    assert event["grade"] == "一般" and not any(r["key"].startswith("flag:") for r in event["reasons"])
    with rt.sessions() as session:
        by_text = {
            p.text: a.incident for p, a in session.execute(select(Post, PostAnalysis).join(PostAnalysis))
        }
    assert by_text[DEATH]["incident"] and by_text[DEATH]["casualties"]
    for row in rows[1:]:
        reaction = by_text[str(row["text"])]
        assert reaction == {**reaction, "incident": False, "casualties": False, "score": 0.0}, row

    # an opinion in front of the share button is read on its own words, not the shared title's
    opinion = (  # a real repost of the demo's 浙工大 event
        "如果是我，肯定会放手，傻孩子，两个人在一块要能给予彼此想要的，很明显，你给不了，放手不就行了，"
        "何必断送自己的前程  推荐@想房事儿 的帖子《高校又出凶杀案~浙江工业大学一女生在食堂门口被男友刺杀 "
        "男友的遗书令人 。。。》，大家也来看看吧～"
    )
    share = {**weibo, "id": "s9", "kind": "repost", "text": opinion, "published_at": DAY + "12:20:00+08:00"}
    load(rt, [share], "opinion.jsonl")
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        read = session.scalars(
            select(PostAnalysis.incident)
            .join(Post, Post.id == PostAnalysis.post_id)
            .where(Post.text == opinion)
        ).one()
    assert not read["casualties"], read
    [event] = queries.list_events(rt)
    assert event["metrics"]["flags"] == {"casualties": 1}

    # A repost that tells the occurrence again in its own words is a second report.
    own = (
        "我就在现场，南京市儿童医院那个5岁孩子输液后抽搐，抢救了很久还是没救过来，"
        "家属在走廊里哭，护士说药没用错。"
    )
    load(
        rt,
        [
            {
                **weibo,
                "id": "r3",
                "kind": "repost",
                "text": own + "//@网友:" + DEATH,
                "published_at": DAY + "12:30:00+08:00",
            }
        ],
        "witness.jsonl",
    )
    AnalysisPipeline(rt).run()
    [event] = queries.list_events(rt)
    assert event["metrics"]["incident_posts"] == 2
    assert event["grade"] == "特别重大"


def test_a_comment_telling_of_another_hospitals_death_is_no_evidence_for_this_event(rt: Runtime) -> None:
    """A comment follows its root into the root's event (it is that event's spread), but when its
    own words name only another hospital, what it reports is another occurrence: the demo's 广水
    strike read 「涉及人员伤亡」 on a comment telling of 临武's death. A comment naming the event's
    own hospital is a report of this event as before."""
    medical_topic(rt)
    weibo = {"platform": "weibo", "cascade": "o1", "kind": "comment"}
    complaint = (
        "南京鼓楼医院门诊排队三小时，患者家属投诉挂号难、医生态度冷漠，院方回应称将增加窗口，"
        "网友纷纷吐槽看病难的问题。"
    )
    elsewhere = (
        "这算什么，去年江苏省人民医院一个产妇手术后死亡，家属在医院门口拉横幅讨说法，"
        "医院到现在都没给个说法，患者家属太难了。"
    )
    rows: list[dict[str, object]] = [
        {"id": "o1", "text": complaint, "published_at": DAY + "12:10:00+08:00", "platform": "weibo"},
        {**weibo, "id": "c1", "text": elsewhere, "published_at": DAY + "12:20:00+08:00"},
        {
            **weibo,
            "id": "c2",
            "text": elsewhere.replace("去年", "前年"),
            "published_at": DAY + "12:25:00+08:00",
        },
    ]
    load(rt, rows, "elsewhere.jsonl")
    AnalysisPipeline(rt).run()
    [event] = queries.list_events(rt)
    assert event["posts"] == 3  # the comments are its spread
    assert event["metrics"]["flags"] == {}, event["metrics"]["flags"]
    assert event["metrics"]["incident_posts"] == 1
    assert not any(r["key"] == "flag:casualties" for r in event["reasons"])
    full = queries.get_event(rt, event["id"], with_posts=True)
    assert not any("江苏省人民医院" in e["name"] for e in full["entities"]), full["entities"]
    with rt.sessions() as session:
        read = session.scalars(
            select(PostAnalysis.incident)
            .join(Post, Post.id == PostAnalysis.post_id)
            .where(Post.text == elsewhere)
        ).one()
    assert read["casualties"] and read["other_story"]  # the comment does report a death: another one

    # a comment naming the event's own hospital reports this event
    here = "南京鼓楼医院昨天有个老人排队时晕倒摔伤了头，送急诊缝了五针，家属投诉医院排队太久没人管。"
    load(rt, [{**weibo, "id": "c3", "text": here, "published_at": DAY + "12:40:00+08:00"}], "here.jsonl")
    AnalysisPipeline(rt).run()
    [event] = queries.list_events(rt)
    assert event["metrics"]["flags"] == {"casualties": 1}, event["metrics"]["flags"]


def test_a_late_repost_of_a_closed_story_grows_its_event_instead_of_starting_one(rt: Runtime) -> None:
    """Weeks after a story went quiet, someone reposts it: the story's event grows (a case watching
    it sees the flare-up); no new one-post event appears."""
    medical_topic(rt)
    pipeline = AnalysisPipeline(rt)
    load(rt, [{"id": "o1", "text": DEATH, "published_at": DAY + "12:10:00+08:00", "platform": "weibo"}], "a")
    pipeline.run()
    late = "又是一个受伤的家庭，推荐大家看看这个帖子：南京市儿童医院患儿输液后死亡，真相到底是什么？"
    load(
        rt,
        [
            {
                "id": "x1",
                "text": "南京市第一医院门诊排队三小时，患者投诉挂号难，医院回应将增加窗口。",
                "published_at": "2026-11-26T09:00:00+08:00",
                "platform": "weibo",
            },
            {
                "id": "r9",
                "kind": "repost",
                "cascade": "o1",
                "text": late,
                "published_at": "2026-11-26T10:00:00+08:00",
                "platform": "weibo",
            },
        ],
        "b",
    )
    pipeline.run()
    with rt.sessions() as session:
        events = {e.title[:8]: e for e in session.scalars(select(Event))}
        assert len(events) == 2  # the story and the new queue complaint
        story = next(e for e in events.values() if "儿童医院" in e.title)
        assert story.post_count == 2 and story.title.startswith("南京市儿童医院")
        assert story.last_seen.isoformat().startswith("2026-11-26T02:00")
        repost = session.scalars(select(Post).where(Post.external_id == "r9")).one()
        assert session.get(PostAnalysis, repost.id).event_id == story.id


RUMOURS = (
    "永康市中医院今天死亡一例患者，家属在医院门口拉横幅，医院至今没有任何说法，大家转起来！",
    "听说永康市中医院下午又有一名患者手术后死亡了，家属围在门诊大楼讨说法，有没有知情人？",
    "永康市中医院出事了，一名患者输液后身亡，现场很多人，医院保安在拦着不让拍照。",
)


def rumour_event(rt: Runtime, rebuttal: dict[str, object]) -> dict[str, object]:
    """The one graded event of the three rumours and ``rebuttal``, analysed in one batch."""
    load(rt, rumour_posts(rebuttal), "rumour.jsonl")
    AnalysisPipeline(rt).run()
    [event] = queries.list_events(rt, graded_only=True)
    return event


def rumour_posts(rebuttal: dict[str, object]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {"id": f"u{i}", "platform": "weibo", "text": text, "published_at": f"{DAY}0{i}:00:00+08:00"}
        for i, text in enumerate(RUMOURS, start=1)
    ]
    return [*rows, rebuttal]


@pytest.mark.parametrize(
    "words",
    [
        "【辟谣】网传永康市中医院今天死亡一例患者，经查证，永康市中医院未发生此事，请勿传播。",
        # the demo's 银川 rebuttal of an H7N9 case, in its words: it counted as 公共卫生 evidence
        "关于网友发布的“永康市中医院今天死亡一例患者，疑似禽流感”的微博内容为不实信息。截至目前，"
        "永康市未收到人感染H7N9禽流感病例的报告，请勿传播。",
    ],
)
def test_an_official_rebuttal_takes_the_claimed_deaths_off_the_event(rt: Runtime, words: str) -> None:
    """The demo's 「永康中医院，今天死亡一例」 stayed 特别重大 beside 「@永康发布：经查证，永康市中医院
    未发生此事」 in the same event. An official account's rebuttal takes the claimed deaths off;
    the grade is that of the spread, and its reasons name the rebuttal. The rebuttal itself is
    evidence of nothing it denies."""
    medical_topic(rt)
    official = {
        "id": "gov-1",
        "platform": "weibo",
        "text": words,
        "published_at": f"{DAY}05:00:00+08:00",
        "verified": True,
        "verified_type": 1,  # Weibo: a government body
    }
    event = rumour_event(rt, official)
    assert event["posts"] == 4
    assert event["grade_code"] != "I"
    keys = [r["key"] for r in event["reasons"]]
    assert "flag:casualties" not in keys and "rebuttal" in keys
    [rebuttal] = [r for r in event["reasons"] if r["key"] == "rebuttal"]
    assert rebuttal["text"].startswith("已有官方辟谣：1 条")
    with rt.sessions() as session:
        official_id = session.scalar(select(Post.id).where(Post.external_id == "gov-1"))
        flags = session.scalar(select(PostAnalysis.flags).where(PostAnalysis.post_id == official_id))
    assert rebuttal["posts"] == [official_id]
    assert flags == [], flags


def test_a_rebuttal_by_anyone_else_changes_nothing(rt: Runtime) -> None:
    medical_topic(rt)
    someone = {
        "id": "someone",
        "platform": "weibo",
        "text": "永康市中医院今天死亡一例患者？有人说是假消息，到底怎么回事，医院快出来说明！",
        "published_at": f"{DAY}05:00:00+08:00",
    }
    event = rumour_event(rt, someone)
    assert event["grade_code"] == "I"
    keys = [r["key"] for r in event["reasons"]]
    assert "flag:casualties" in keys and "rebuttal" not in keys


def test_an_official_report_of_the_deaths_is_no_rebuttal(rt: Runtime) -> None:
    """An official report that confirms deaths ends with 「请勿传播虚假信息」: that is no rebuttal."""
    medical_topic(rt)
    report = {
        "id": "police-1",
        "platform": "weibo",
        "text": "【警情通报】12月3日9时许，永康市中医院一名患者坠楼身亡，警方已介入调查，"
        "死因正在调查中。请勿传播虚假信息。",
        "published_at": f"{DAY}05:00:00+08:00",
        "verified": True,
        "verified_type": 1,
    }
    event = rumour_event(rt, report)
    assert event["grade_code"] == "I"
    assert "rebuttal" not in [r["key"] for r in event["reasons"]]


def test_a_rebuttal_after_the_grade_asks_for_a_new_judgement(rt: Runtime) -> None:
    """Graded 特别重大 on the claimed deaths, the event keeps its grade when the official rebuttal
    comes later (a grade never drops by itself); the event and case pages then say so."""
    from yuqing.analysis.grading import rebutted_after_grading

    medical_topic(rt)
    load(rt, rumour_posts({})[:3], "rumour.jsonl")
    AnalysisPipeline(rt).run()
    [event] = queries.list_events(rt, graded_only=True)
    assert event["grade_code"] == "I"
    official = {
        "id": "gov-2",
        "platform": "weibo",
        "text": "【辟谣】网传永康市中医院今天患者死亡，经查证，永康市中医院未发生此事，请勿传播。",
        "published_at": f"{DAY}06:00:00+08:00",
        "verified": True,
        "verified_type": 1,
    }
    load(rt, [official], "later.jsonl")
    AnalysisPipeline(rt).run()
    [event] = queries.list_events(rt, graded_only=True)
    assert event["grade_code"] == "I" and event["posts"] == 4
    with rt.sessions() as session:
        stored = session.get(Event, event["id"])
        assert stored is not None
        late = rebutted_after_grading(stored.metrics, stored.reasons)
        official_id = session.scalar(select(Post.id).where(Post.external_id == "gov-2"))
    assert late == {"posts": 1, "mainstream": 1, "post_ids": [official_id]}
    # graded on spread alone, or graded with the rebuttal known, nothing is asked
    assert rebutted_after_grading(stored.metrics, [{"key": "reposts"}]) is None
    assert rebutted_after_grading(stored.metrics, [*stored.reasons, {"key": "rebuttal"}]) is None


def test_an_official_rebuttal_relayed_by_anyone_counts_as_official(rt: Runtime) -> None:
    """In the CED data @永康发布's rebuttal reached the event as a user's repost quoting it."""
    from yuqing.analysis.incidents import relays_official_rebuttal

    assert relays_official_rebuttal("@永康发布：经查证，永康市中医院未发生此事；目前正在查证")
    assert relays_official_rebuttal("转发//@永康发布: 经查证，系谣言//@网友: 永康中医院死人了")
    assert not relays_official_rebuttal("@永康发布 已辟谣。难得发挥一次作用")  # no words of its own quoted
    assert not relays_official_rebuttal("@网友小王：经查证，未发生此事")  # not an official account
    assert not relays_official_rebuttal("@永康发布：今日全市晴//@网友:纯属谣言")  # the user's words
    medical_topic(rt)
    relay = {  # a repost of the first rumour, as in the data
        "id": "relay",
        "platform": "weibo",
        "kind": "repost",
        "cascade": "u1",
        "text": "@永康发布：经查证，永康市中医院未发生此事；目前，正对全市医疗单位进行查证。",
        "published_at": f"{DAY}05:00:00+08:00",
    }
    event = rumour_event(rt, relay)
    assert event["grade_code"] != "I"
    assert "rebuttal" in [r["key"] for r in event["reasons"]]
