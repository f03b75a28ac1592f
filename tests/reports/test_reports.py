"""Reports written from a real store: a graded event from imported posts, its alert, a case worked
through approval and release to closing — and every figure in the documents checked against the
rows it came from."""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document as WordDocument
from openpyxl import load_workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import FakeClock
from tests.web.test_pages import HOSPITAL, World, build_world, import_posts
from yuqing.alerts.models import Alert
from yuqing.analysis.models import Event, PostAnalysis
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.cases import service as cases
from yuqing.cases.models import Deadline
from yuqing.cli.main import app
from yuqing.notify.models import Notification
from yuqing.org.models import Person
from yuqing.reports import fonts, service
from yuqing.reports.common import GRADE_NAMES, ReportError
from yuqing.reports.document import Figure
from yuqing.reports.models import Report
from yuqing.runtime import Runtime


@pytest.fixture
def world(rt: Runtime, clock: FakeClock) -> World:
    return build_world(rt, clock)


def docx_text(content: bytes) -> str:
    document = WordDocument(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def work_case_to_release(world: World, channel: str = "新闻发布会") -> int:
    rt, clock = world.rt, world.clock
    opened = cases.open_case(rt, "李办公室", alert_id=world.alert_id)
    case_id = int(opened["id"])
    clock.advance(minutes=40)
    cases.advance(rt, case_id, "reported", "李办公室")
    cases.advance(rt, case_id, "assessed", "李办公室", category="捏造/歪曲/谣言/诽谤")
    cases.advance(rt, case_id, "disposing", "李办公室")
    clock.advance(minutes=30)
    cases.draft_statement(
        rt, case_id, "李办公室", facts="11月20日上午，鼓楼医院一名产妇术中死亡。", progress="已成立调查组。"
    )
    cases.approve(rt, case_id, "陈市长", comment="同意")
    cases.approve(rt, case_id, "周组员")
    clock.advance(minutes=20)
    cases.release(rt, case_id, channel, "李办公室")
    return case_id


# ---- 舆情专报 -------------------------------------------------------------------------------------


def test_special_report_counts_what_is_stored_and_escapes_collected_text(world: World) -> None:
    rt = world.rt
    with rt.sessions() as session:
        stored = session.scalar(select(func.count()).where(PostAnalysis.event_id == world.event_id))
        negative = session.scalar(
            select(func.count()).where(
                PostAnalysis.event_id == world.event_id, PostAnalysis.sentiment == "negative"
            )
        )
    made = service.generate(rt, "special", {"event_id": world.event_id}, "html")
    text = made.document.plain_text()
    assert f"共监测到相关信息{stored}条" in text
    assert f"负面信息{negative}条" in text
    with rt.sessions() as session:
        event = session.get(Event, world.event_id)
        assert event is not None and event.grade_code in ("I", "II")
    grade = GRADE_NAMES[event.grade_code]
    assert f"当前舆情等级：{grade}" in text and "尚未开立工单" in text
    assert made.document.number == "2026年第1期"
    # The timeline starts with the first post at 08:00 local time and lists the alert.
    assert "2026年11月20日 08:00 | 首发" in text and "发出预警" in text
    # the peak is the hour it was, not a moment before the first post
    assert "信息量在2026年11月20日 08:00至09:00间达到高峰（一小时3条）" in text
    # Recommendations come from the plan: grades I and II need the chief and the leading group,
    # and a report within 1 h (I) or 2 h (II).
    hours = {"I": 1, "II": 2}[event.grade_code]
    assert f"向上级报告：{hours} 小时" in text and "主要领导、领导小组成员审核同意" in text
    assert "出具答复意见（如定性为询问/质疑/诉求）：5 个工作日" in text  # not yet categorised
    # The repost 「太可怕了//@网友:…」 repeats the original: one view is quoted, not the same text twice.
    assert text.count("代表性言论") == 1
    assert "主流媒体参与情况：截至目前未监测到中央、省级和市级媒体报道。" in text
    html = made.content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    # Same event again: same number; archived twice.
    again = service.generate(rt, "special", {"event_id": world.event_id}, "docx")
    assert again.document.number == "2026年第1期"
    body = docx_text(again.content)
    assert len(WordDocument(io.BytesIO(again.content)).sections) == 1  # the template's page setup only
    assert "舆情专报" in body and "编发：市卫生健康委员会" in body and f"共监测到相关信息{stored}条" in body
    rows, total = service.list_reports(rt, kind="special")
    assert total == 2 and {r["format"] for r in rows} == {"html", "docx"}


def test_special_report_tells_how_the_story_goes_up_to_the_time_it_is_written(world: World) -> None:
    """「发展态势」 counts the six hours before 数据截至: a story whose last post came long ago is
    quiet, not 「热度上升」 on its last post (a repost eight months after the story read so)."""
    # an early repost that only reacts: no comment of its own in the table of early spreaders
    import_posts(
        world.rt,
        [
            {
                "id": "e1",
                "text": "[惊恐]@某网友",
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-20T08:30:00+08:00",
            }
        ],
        "early.jsonl",
    )
    AnalysisPipeline(world.rt).run()
    made = service.generate(world.rt, "special", {"event_id": world.event_id}, "html")
    text = made.document.plain_text()
    assert "发展态势：截至2026年11月20日 09:00，最近6小时新增" in text and "此前6小时0条，热度上升" in text
    assert "（转发，未加评论）" in text, text
    world.clock.advance(hours=24 * 30)
    text = service.generate(world.rt, "special", {"event_id": world.event_id}, "html").document.plain_text()
    assert "发展态势：截至2026年12月20日 09:00，近12小时无新增信息" in text, text
    assert "距今30.0天）" in text and "热度已回落" in text and "热度上升" not in text


def test_a_special_reports_netizen_views_are_the_stances_comments_take(world: World) -> None:
    """「网民观点」 listed the event's keywords (「观点1：围绕“医院”的信息3条」): words, not views.
    It now sorts what reposts and comments say in their own words into the stances an office
    reports, with shares and a remark each; the keywords stay as 讨论焦点."""
    said = [
        "真的假的？鼓楼医院这么大的医院也会出这种事",
        "求真相，医院为什么到现在还不回应",
        "真的假的啊，有没有人知道后续",
        "是真的吗？求证",
        "怎么回事？到底是谁的责任",
        "[蜡烛]一路走好，心疼孩子和家属",
        "[蜡烛]",
        "[蜡烛][蜡烛]",
        "一路走好，愿天堂没有病痛",
        "节哀，心疼这一家人",
        "严惩责任医生，必须给家属一个交代！",
        "必须追责，医院院长也要问责",
        "彻查此事，严惩相关责任人",
        "一定要严查，给个说法",
        "问责！问责！问责！",
        "@好友甲 @好友乙 妈的这医院真是草菅人命，严惩！",
        "转发微博",
        "[泪]",
    ]
    import_posts(
        world.rt,
        [
            {
                "id": f"v{i}",
                "text": f"{text}//@网友:{HOSPITAL}",
                "kind": "repost",
                "cascade": "o1",
                "published_at": f"2026-11-20T08:{30 + i}:00+08:00",
            }
            for i, text in enumerate(said)
        ],
        "views.jsonl",
    )
    AnalysisPipeline(world.rt).run()
    text = service.generate(world.rt, "special", {"event_id": world.event_id}, "html").document.plain_text()
    views = text[text.index("网民观点") : text.index("研判")]
    assert "条转发和评论中，可归入以下常见观点的有" in views
    assert "是要求追责、严惩，6条" in views
    assert "是质疑信息真实性，要求公开真相，5条" in views and "是同情、哀悼，5条" in views
    # each quoted in its own words (not the quoted chain); never the emoticon alone, never the vulgar one
    assert "//@" not in views and "妈的" not in views
    assert "“[蜡烛]”" not in views
    assert "讨论焦点：" in views and "围绕“" not in views


def test_stances_are_read_from_the_remarks_own_words() -> None:
    from yuqing.reports.opinions import is_focus_word, quotable, remark, sort_stances, stances

    assert stances("[怒]牲口") == ["愤怒谴责"]
    assert stances("真的假的？[汗]") == ["质疑信息真实性，要求公开真相"]
    assert stances("转发微博//@网友:严惩凶手！") == []  # the chain's words are not this remark's
    assert stances("羡慕嫉妒恨！[可怜]") == [] and stances("我最爱的蓝罐啊[泪]") == []
    assert stances("还让人怎么相信法律") == []
    assert stances("<script>alert(1)</script>") == [] and stances("R.I.P.") == ["同情、哀悼"]
    assert stances("大家不用恐慌！") == ["呼吁理性，等待调查结果"]
    assert stances("网传“老师打死学生”不实，系剪贴11年前旧闻") == ["指出系谣言或旧闻"]
    assert stances("帮扩散！妈妈要疯掉了！") == ["呼吁扩散、帮助寻找"]
    assert stances("丹麦蓝罐曲奇也中枪了，还能吃啥") == ["失望、无奈"]
    assert stances("@姿色份子-哈哈 你看") == []  # a name, not a laugh
    # after a second reading of the demo (helper-64): questions, negations and softeners are no stance
    assert stances("谣言呢？还是真的？") == ["质疑信息真实性，要求公开真相"]
    assert stances("敢怒不敢言") == [] and stances("有什么好担心") == []
    assert stances("最好别喝易拉罐饮料，呵呵") == [] and stances("官老爷们发发慈悲") == []
    assert stances("师德败坏啊！/@坤仔龙：回复@可儿老爸:[赞]") == []  # a chain quoted with one slash
    assert not quotable("这些可恶商家到底为啥还能健在？시발", "愤怒谴责")
    # and after a third (helper-65): asking for a denial or doubting one is no rumour call
    assert (
        stances("求砖家辟谣") == [] and stances("蒙牛，快来辟谣啊") == [] and stances("不实？都百度了") == []
    )
    assert stances("网传不实，系旧闻") == stances("已经辟谣了") == ["指出系谣言或旧闻"]
    assert stances("我超爱吃曲奇的[悲伤]") == [] and stances("他是理性主义者") == []
    # and after a fourth (2026-12-07): blaming the victim is no sympathy, a dare no worry, anger at
    # the poster for inciting doubts the story, and every office that 不管 is criticised
    assert stances("可怜之人必有可恨之处 不懂得尊重别人是重点") == []
    assert stances("谣言止于智者。智者快上，群众需要真相。") == []
    assert "担忧、恐慌" not in stances("敢不敢查查中国自制的食品菌类比这些高多少倍？？")
    assert "质疑信息真实性，要求公开真相" in stances("不可能 一定会煽动 宁波也是个文明城市 真是气死人")
    assert "批评监管部门和体制" in stances("这种老师怎么还会有在学校，难道教育部门都不管的吗？")
    assert not quotable("麻类个手臂，畜生年年有，今年特别多。", "愤怒谴责")
    assert not quotable("吾侧那！很想把那些畜生一个个从顶楼往下扔", "愤怒谴责")
    assert remark("回复@某人:这是一门艺术 @甲 [哈哈]") == "这是一门艺术"
    assert not quotable("2年前的事了，不知道后来怎么处理的[蜡烛]", "同情、哀悼")  # only the emoticon shows it
    assert not quotable("天灾人祸尤可怜，自取灭亡要改朝！", "同情、哀悼")
    found, stated = sort_stances(["哈哈", "哈哈哈", "太可怕了", "转发微博"], min_posts=2)
    assert stated == 3 and [(s.label, s.posts) for s in found] == [("调侃、戏谑", (0, 1))]
    texts = ["[蜡烛]", "[蜡烛]一路走好", "室友太狠了", "他的室友"]
    assert (
        not is_focus_word("蜡烛", texts) and is_focus_word("室友", texts) and not is_focus_word("不如", texts)
    )


def test_a_special_report_by_a_unit_that_cannot_see_the_case_never_says_there_is_none(world: World) -> None:
    """The education bureau writes the 专报 of the health commission's event: the case is not its
    to describe, and it was not 「尚未开立工单」 either."""
    case_id = work_case_to_release(world)
    with world.rt.sessions() as session:
        edu = session.scalars(select(Person.id).where(Person.name == "钱教育")).one()
    text = service.generate(
        world.rt, "special", {"event_id": world.event_id}, "html", person_id=edu
    ).document.plain_text()
    assert "尚未开立工单" not in text and "已由其他单位开立工单处置" in text
    assert f"第{case_id}号" not in text


def test_special_report_of_an_unknown_event_is_refused(world: World) -> None:
    with pytest.raises(ReportError, match="找不到事件 99999"):
        service.generate(world.rt, "special", {"event_id": 99999}, "docx")


def test_special_report_lists_the_measures_taken_with_their_times(world: World) -> None:
    case_id = work_case_to_release(world)
    made = service.generate(world.rt, "special", {"event_id": world.event_id}, "html")
    text = made.document.plain_text()
    assert f"已于2026年11月20日 09:00开立工单（第{case_id}号）" in text
    assert "通过新闻发布会发布权威信息（第1稿）" in text
    # the released text itself, as the public read it
    assert "已发布权威信息（第1稿，新闻发布会，2026年11月20日 10:30）" in text
    assert "事实：11月20日上午，鼓楼医院一名产妇术中死亡；进展：已成立调查组。" in text
    assert "已定性为「捏造/歪曲/谣言/诽谤」" in text and "发布事实真相" in text
    assert "出具答复意见" not in text  # owed to 询问/质疑/诉求 only
    assert "李办公室 | 发现 → 报告" in text
    # the timeline goes on past the release: reported up, followed up, closed
    world.clock.advance(hours=30)
    cases.regrade(world.rt, case_id, "III", "经核实无人死亡，传播已回落", "陈市长")
    cases.follow_up(world.rt, case_id, "权威信息发布后转发量回落。", "李办公室")
    cases.advance(world.rt, case_id, "following", "李办公室")
    cases.close(world.rt, case_id, "赵分管", summary="发布及时，谣言得到澄清。")
    text = service.generate(world.rt, "special", {"event_id": world.event_id}, "html").document.plain_text()
    timeline = text.split("事件脉络", 1)[1].split("传播情况", 1)[0]
    assert "→ 较大：经核实无人死亡，传播已回落）" in timeline, timeline
    for step in ("向上级报告", "第1次续报", "结案"):
        assert f"工单第{case_id}号{step}" in timeline, (step, timeline)


# ---- 总结评估 -------------------------------------------------------------------------------------


def test_summary_needs_a_closed_case_then_reports_every_clock_as_stored(world: World) -> None:
    rt = world.rt
    case_id = work_case_to_release(world)
    with pytest.raises(ReportError, match="提交总结或结案后才能生成总结评估"):
        service.generate(rt, "summary", {"case_id": case_id}, "docx")
    world.clock.advance(hours=30)
    cases.follow_up(rt, case_id, "权威信息发布后转发量回落。", "李办公室")
    cases.advance(rt, case_id, "following", "李办公室")
    cases.close(rt, case_id, "赵分管", summary="发布及时，谣言得到澄清。")
    made = service.generate(rt, "summary", {"case_id": case_id}, "docx")
    text = made.document.plain_text()
    assert "处置期间向上级续报1次。" in text
    assert "李办公室 | 第 1 次续报：权威信息发布后转发量回落。" in text  # in 处置经过
    with rt.sessions() as session:
        clocks = list(session.scalars(select(Deadline).where(Deadline.case_id == case_id)))
    met = sum(1 for d in clocks if d.state == "met")
    missed = sum(1 for d in clocks if d.state == "missed")
    assert f"按时完成{met}项，超时完成{missed}项" in text
    assert "经主要领导陈市长、领导小组成员周组员审核同意" in text
    assert "承办单位总结：发布及时，谣言得到澄清。" in text
    # the plan's measures for the category, set against what the record shows (not as a fault)
    assert (
        "对照预案：「捏造/歪曲/谣言/诽谤」类舆情的处置要求为发布事实真相，要求平台删除，移交公安机关；"
        "处置记录显示，本工单发布权威信息1次。"
    ) in text
    assert "历时" in text and "结案" in text
    assert "总结评估" in docx_text(made.content)


def test_a_clock_closing_ended_undone_is_a_shortcoming_in_the_summary(world: World) -> None:
    """A 特别重大 case released on Weibo and closed within the day: the press conference it owed
    was never held. Closing ends that clock, says so on the case, and the 总结评估 lists it instead
    of 「各项时限均按时完成」."""
    rt, clock = world.rt, world.clock
    case_id = work_case_to_release(world, channel="官方微博/微信")  # no press conference
    clock.advance(hours=2)
    cases.advance(rt, case_id, "following", "李办公室")
    closed = cases.close(rt, case_id, "赵分管", summary="谣言已澄清。")
    press = next(d for d in closed["deadlines"] if d["kind"] == "press_conference")
    assert press["state"] == "cancelled"
    line = next(e["text"] for e in closed["timeline"] if e["action"] == "deadline_ended")
    assert line.startswith("结案时召开新闻发布会尚未完成（应于") and line.endswith("该时限随结案终止")
    text = service.generate(rt, "summary", {"case_id": case_id}, "html").document.plain_text()
    assert f"{line}。" in text and "各项时限均按时完成" not in text
    special = service.generate(rt, "special", {"event_id": world.event_id}, "html").document.plain_text()
    advice = special.split("处置建议", 1)[1]
    assert "结案，请继续关注舆情是否反复" in advice and "召开新闻发布会：" not in advice


# ---- 日报 / 周报 ----------------------------------------------------------------------------------


def test_daily_report_is_a_zero_report_on_a_quiet_day(world: World) -> None:
    made = service.generate(world.rt, "daily", {"date": "2026-11-19"}, "docx")
    text = made.document.plain_text()
    assert "零报告：2026年11月19日，南京市人民政府及所属单位未监测到达到预警等级的网络舆情" in text
    assert made.document.title == "南京市人民政府网络舆情日报（2026年11月19日）"
    assert "2026年11月19日 00:00 至 2026年11月20日 00:00" in text and "截至生成时" not in text
    assert "零报告" in docx_text(made.content)
    assert "相关的事件0起" in text


def test_a_zero_report_says_its_topics_events_are_below_the_alert_grades(world: World) -> None:
    """A 零报告 beside 「相关的事件1起」 read as a contradiction: the event is one below the grades."""
    import_posts(
        world.rt,
        [
            {
                "id": "q1",
                "text": "南京市第一医院表示，已就患者投诉的挂号排队问题优化了流程，欢迎市民监督。",
                "published_at": "2026-11-19T10:00:00+08:00",
            }
        ],
        "quiet.jsonl",
    )
    AnalysisPipeline(world.rt).run()
    text = service.generate(world.rt, "daily", {"date": "2026-11-19"}, "html").document.plain_text()
    assert "零报告" in text
    assert "与本单位监测专题相关的事件1起（均未达到预警等级）" in text, text


def test_daily_report_of_the_event_day_lists_the_event_and_its_alert(world: World) -> None:
    rt = world.rt
    made = service.generate(rt, "daily", {"date": "2026-11-20", "unit": "市卫生健康委员会"}, "html")
    text = made.document.plain_text()
    with rt.sessions() as session:
        alerts = session.scalar(select(func.count()).select_from(Alert))
        grade = session.scalars(select(Event.grade_code).where(Event.id == world.event_id)).one()
    assert "零报告" not in text
    assert grade is not None
    # the day is still running: the period ends when the report was made, not at midnight to come
    assert "2026年11月20日 00:00 至 2026年11月20日 " in text and "（截至生成时）" in text
    assert f"共监测到达到预警等级的舆情事件1起（{GRADE_NAMES[grade]}1起），发出预警{alerts}条" in text
    assert "相关信息3条" in text
    # A unit that watches nothing and got no alert reports zero the same day.
    other = service.generate(rt, "daily", {"date": "2026-11-20", "unit": "市教育局"}, "html")
    assert "零报告" in other.document.plain_text()

    # A clock due later today is not overdue in today's report, made before it falls due.
    opened = cases.open_case(rt, "李办公室", alert_id=world.alert_id)
    report_due = next(
        dt.datetime.fromisoformat(d["due_at"]) for d in opened["deadlines"] if d["kind"] == "report"
    )
    assert report_due.date() == dt.date(2026, 11, 20) and report_due > world.clock()
    early = service.generate(rt, "daily", {"date": "2026-11-20", "unit": "市卫生健康委员会"}, "html")
    assert "截至生成时仍超时未办的时限0项" in early.document.plain_text()
    world.clock.advance(minutes=(report_due - world.clock()).total_seconds() / 60 + 5)
    late = service.generate(rt, "daily", {"date": "2026-11-20", "unit": "市卫生健康委员会"}, "html")
    assert "截至生成时仍超时未办的时限1项" in late.document.plain_text()


def test_a_daily_report_tells_the_days_posts_from_a_backfill_of_older_ones(world: World) -> None:
    """Posts of last year collected today (an archive import, a source catching up) are counted as
    collected, and said to be older: they are not the day's public opinion."""
    rt = world.rt
    import_posts(
        rt,
        [
            {"id": f"old{i}", "text": f"旧帖{i}：停车难", "published_at": "2025-05-01T08:00:00+08:00"}
            for i in range(2)
        ],
        "archive.jsonl",
    )
    text = service.generate(rt, "daily", {"date": "2026-11-20"}, "html").document.plain_text()
    assert re.search(r"本日系统共采集信息5条（启用信息源\d+个；其中补采本日以前发布的信息2条）", text), text
    quiet = service.generate(rt, "daily", {"date": "2026-11-19"}, "html").document.plain_text()
    assert "补采" not in quiet


def test_a_special_report_tells_a_verified_account_without_a_name_by_its_kind(world: World) -> None:
    """Collected data may carry no name: a verified medium is 「认证媒体账号」, not 「匿名用户」."""
    rt = world.rt
    import_posts(
        rt,
        [
            {
                "id": "m1",
                "text": "转发：" + HOSPITAL,
                "kind": "repost",
                "cascade": "o1",
                "verified": True,
                "verified_type": 3,  # Weibo: a medium
                "published_at": "2026-11-20T08:30:00+08:00",
            }
        ],
        "media.jsonl",
    )
    AnalysisPipeline(rt).run()
    text = service.generate(rt, "special", {"event_id": world.event_id}, "html").document.plain_text()
    assert "| 微博 | 认证媒体账号 |" in text, text
    assert "| 微博 | 匿名用户 |" in text  # the unverified ones, as before


def test_weekly_report_covers_the_iso_week(world: World) -> None:
    made = service.generate(world.rt, "weekly", {"week": "2026-W47"}, "html")
    text = made.document.plain_text()
    assert "2026年第47周（11月16日—11月22日）" in text
    assert "专题相关信息量（按日）" in text
    with pytest.raises(ReportError, match="无法识别的周"):
        service.generate(world.rt, "weekly", {"week": "47th"}, "html")


def test_a_weekly_report_lists_a_case_handled_all_through_the_week(world: World) -> None:
    """A case opened the week before and closed the week after was in hand the whole week: the
    week's report lists it among the cases in hand (it was left out: neither opened nor closed
    in the week, nor open when the report was made)."""
    rt = world.rt
    case_id = work_case_to_release(world)  # opened 2026-11-20, week 47
    world.clock.advance(days=10)  # 2026-11-30, week 48 behind it
    cases.follow_up(rt, case_id, "权威信息发布后转发量回落。", "李办公室")
    cases.advance(rt, case_id, "following", "李办公室")
    cases.close(rt, case_id, "赵分管", summary="发布及时，谣言得到澄清。")
    text = service.generate(rt, "weekly", {"week": "2026-W48"}, "html").document.plain_text()
    assert f"第{case_id}号" in text and "本周无在办工单" not in text, text


# ---- 预警响应情况表 --------------------------------------------------------------------------------


def test_response_table_has_a_row_per_alert_with_its_times_and_verdicts(world: World) -> None:
    rt = world.rt
    case_id = work_case_to_release(world)
    made = service.generate(rt, "response_table", {"from": "2026-11-01", "to": "2026-11-30"}, "xlsx")
    sheet = load_workbook(io.BytesIO(made.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[3]]
    assert header[:5] == ["序号", "舆情事件", "责任单位", "等级", "发现时间"]
    row = {h: c.value for h, c in zip(header, sheet[4], strict=True)}
    with rt.sessions() as session:
        alert = session.get(Alert, world.alert_id)
        assert alert is not None
        report_clock = session.scalars(
            select(Deadline).where(Deadline.case_id == case_id, Deadline.kind == "report")
        ).one()
    local = alert.created_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert row["发现时间"] == f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    assert row["报告是否按时"] == ("是" if report_clock.state == "met" else "否（超时完成）")
    assert row["发布时间"] == "2026年11月20日 10:30"
    # The release answered the first-response clock: the table gives its time beside 是.
    assert (row["首次回应时间"], row["回应是否按时"]) == ("2026年11月20日 10:30", "是")
    assert row["当前状态"] == f"工单第{case_id}号 处置"
    assert sheet.max_row == 4
    # Thirteen columns: the Word form is printed landscape.
    word = service.generate(rt, "response_table", {"from": "2026-11-01", "to": "2026-11-30"}, "docx")
    section = WordDocument(io.BytesIO(word.content)).sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert section.page_width > section.page_height
    with pytest.raises(ValueError, match="只有预警响应情况表可以导出为 xlsx"):
        service.generate(rt, "daily", {}, "xlsx")


# ---- PDF and the Word template --------------------------------------------------------------------


def test_pdf_reports_embed_a_chinese_font(world: World) -> None:
    made = service.generate(world.rt, "special", {"event_id": world.event_id}, "pdf")
    assert made.content.startswith(b"%PDF") and b"CJK" in made.content
    chart = made.document.sections[2].blocks[1]
    assert isinstance(chart, Figure) and chart.png is not None  # the trend chart was drawn


def test_a_pdf_report_holds_a_reply_of_several_pages(world: World) -> None:
    """fpdf2 cannot split a table row across pages: a long 答复意见 in 处置经过 goes on in the rows
    after its own, instead of failing the report."""
    case_id = work_case_to_release(world)
    reply = "".join(
        f"第{i}条：经核查，患者入院后医院按诊疗规范进行了检查和治疗，相关情况已向家属说明。"
        for i in range(200)
    )
    drafted = cases.respond(world.rt, case_id, "李办公室", reply, formal=True)
    cases.decide_reply(world.rt, case_id, drafted["replies"][0]["id"], "陈市长")
    with pytest.raises(ValueError, match="回应内容不超过 10000 字"):
        cases.respond(world.rt, case_id, "李办公室", "字" * 10_001)
    made = service.generate(world.rt, "special", {"event_id": world.event_id}, "pdf")
    assert made.content.startswith(b"%PDF") and made.content.count(b"/Type /Page") > 4
    assert reply in made.document.plain_text()


def test_pdf_reports_and_charts_need_no_system_font(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine without any Chinese font (no Debian package, not Windows or macOS) the font
    shipped with yuqing draws the PDF and its charts, every character of the report included."""
    for name in ("_TEXT_CANDIDATES", "_BOLD_CANDIDATES", "_SANS_CANDIDATES"):
        monkeypatch.setattr(fonts, name, ())
    fonts.find_fonts.cache_clear()
    try:
        chosen = fonts.find_fonts()
        assert chosen.text.path == fonts.BUNDLED_FONT and chosen.sans.path == fonts.BUNDLED_FONT
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            made = service.generate(world.rt, "special", {"event_id": world.event_id}, "pdf")
        missing = [str(w.message) for w in caught if "missing" in str(w.message).lower()]
        assert missing == []  # every character of the report has a glyph
        assert made.content.startswith(b"%PDF") and b"NotoSansCJKSC" in made.content
        chart = made.document.sections[2].blocks[1]
        assert isinstance(chart, Figure) and chart.png is not None
    finally:
        fonts.find_fonts.cache_clear()


def test_an_office_template_replaces_the_layout(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docx import Document as New

    house = New()
    house.add_paragraph("本单位专用格式 {{ title }}")
    house.add_paragraph("{{p body }}")
    house.save(str(tmp_path / "daily.docx"))
    monkeypatch.setattr(world.rt.settings, "report_template_dir", str(tmp_path))
    made = service.generate(world.rt, "daily", {"date": "2026-11-19"}, "docx")
    text = docx_text(made.content)
    assert "本单位专用格式 南京市人民政府网络舆情日报（2026年11月19日）" in text and "零报告" in text
    with zipfile.ZipFile(io.BytesIO(made.content)) as package:
        assert "{{" not in package.read("word/document.xml").decode()


# ---- scheduling and delivery ----------------------------------------------------------------------


def test_a_daily_report_tells_new_events_from_earlier_ones_still_spreading(world: World) -> None:
    """An event of the day before with one repost today was counted as today's 特别重大 event."""
    world.clock.now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    import_posts(
        world.rt,
        [
            {
                "id": "late1",
                "text": "过了一天医院还是没有任何回应，家属怎么办//@网友:" + HOSPITAL,
                "kind": "repost",
                "cascade": "o1",
                "published_at": "2026-11-21T10:00:00+08:00",
            }
        ],
        "late.jsonl",
    )
    AnalysisPipeline(world.rt).run()
    text = service.generate(world.rt, "daily", {"date": "2026-11-21"}, "html").document.plain_text()
    assert "本日共监测到达到预警等级的舆情事件1起（均为此前发生、本日仍有信息的事件）" in text, text
    first = service.generate(world.rt, "daily", {"date": "2026-11-20"}, "html").document.plain_text()
    assert "本日共监测到达到预警等级的舆情事件1起（" in first and "此前发生" not in first


def test_daily_report_is_sent_once_at_the_set_time_on_working_days(world: World) -> None:
    rt, clock = world.rt, world.clock
    clock.now = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)  # Friday 16:00 in Beijing
    assert service.send_daily_reports(rt) == []
    clock.advance(hours=1, minutes=5)  # 17:05
    [made] = service.send_daily_reports(rt)
    assert made["kind"] == "daily" and made["title"] == "南京市人民政府网络舆情日报（2026年11月20日）"
    assert service.send_daily_reports(rt) == []  # once a day, whatever the number of rounds
    with rt.sessions() as session:
        sent = list(session.scalars(select(Notification).where(Notification.subject_kind == "report")))
        archived = session.scalars(select(Report)).one()
    assert archived.schedule_key == f"daily:unit:{archived.unit_id}:2026-11-20" and archived.via == "schedule"
    assert {n.person_id for n in sent} and all(n.subject_id == archived.id for n in sent)
    assert any("【日报】" in str(n.payload) for n in sent)
    clock.now = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC)  # Saturday 17:30: a rest day
    assert service.send_daily_reports(rt) == []


def test_no_zero_report_while_the_days_posts_wait_for_analysis(world: World) -> None:
    """The demo sent 「零报告」 at report time with 295,000 imported posts not yet analysed: a day
    the system has not checked is no zero day. Today's report waits up to an hour for them, then
    says what is missing; once analysed, the zero report stands."""
    rt, clock = world.rt, world.clock
    clock.now = dt.datetime(2026, 11, 19, 9, 5, tzinfo=dt.UTC)  # Thursday 17:05 in Beijing
    import_posts(
        rt,
        [
            {
                "id": f"w{i}",
                "text": f"南京今天天气不错，适合出门散步{i}",
                "published_at": "2026-11-19T15:00:00+08:00",
            }
            for i in range(3)
        ],
        "backlog.jsonl",
    )
    text = service.generate(rt, "daily", {"date": "2026-11-19"}, "html").document.plain_text()
    assert "零报告：" not in text
    assert "但截至生成时尚有3条信息未完成分析，统计尚不完整，暂不作零报告" in text
    assert service.send_daily_reports(rt) == []  # waits for them
    clock.advance(minutes=61)  # 18:06: an hour past the set time, it is written as things stand
    [made] = service.send_daily_reports(rt)
    with rt.sessions() as session:
        archived = session.get(Report, made["id"])
        told = list(session.scalars(select(Notification).where(Notification.subject_id == made["id"])))
    assert archived is not None and "暂不作零报告" in archived.text
    assert told and all("（零报告）" not in str(n.payload) for n in told)

    AnalysisPipeline(rt).run()
    again = service.generate(rt, "daily", {"date": "2026-11-19"}, "html").document.plain_text()
    assert "零报告：2026年11月19日" in again and "未完成分析" not in again


def test_daily_reports_missed_while_the_service_was_down_are_written_when_it_is_back(world: World) -> None:
    """Written on Friday 20 November; the service is down over the weekend, Monday and Tuesday
    (Monday's and Tuesday's reports time passes), back on Wednesday morning before report time:
    Monday's and Tuesday's reports are written at once, marked 补发; Wednesday's at its time."""
    rt, clock = world.rt, world.clock
    clock.now = dt.datetime(2026, 11, 20, 9, 5, tzinfo=dt.UTC)  # Friday 17:05 in Beijing
    [friday] = service.send_daily_reports(rt)
    clock.now = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)  # Wednesday 09:00
    late = service.send_daily_reports(rt)
    assert [r["title"] for r in late] == [
        "南京市人民政府网络舆情日报（2026年11月23日）",
        "南京市人民政府网络舆情日报（2026年11月24日）",
    ]
    assert service.send_daily_reports(rt) == []  # written once
    with rt.sessions() as session:
        told = [
            n
            for n in session.scalars(select(Notification).where(Notification.kind == "in_app"))
            if n.subject_id == late[0]["id"]
        ]
    assert told and all("【日报·补发】" in n.title for n in told)
    assert "系统在11月23日报告时间未运行，现补发当日日报" in told[0].message["body"]
    clock.now = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)  # Wednesday 17:05
    [wednesday] = service.send_daily_reports(rt)
    assert wednesday["title"].endswith("（2026年11月25日）") and friday["id"] < wednesday["id"]


def test_a_daily_report_that_cannot_be_written_is_told_once_and_the_others_still_go(world: World) -> None:
    """A report font that does not exist made the PDF daily report fail every minute, and a name in
    `daily_report_units` that is no unit stopped every unit's report: both were only in the log.
    Now each failure is told once a day to those who would have had the report (a name that is no
    unit: the top unit's office), the other units' reports go out, and a fixed cause sends it."""
    import dataclasses

    clock = world.clock
    clock.now = dt.datetime(2026, 11, 20, 9, 5, tzinfo=dt.UTC)  # Friday 17:05 in Beijing
    broken = dataclasses.replace(
        world.rt,
        settings=world.rt.settings.model_copy(
            update={
                "daily_report_units": ["市环保局", "市卫生健康委员会", "市教育局"],
                "daily_report_format": "pdf",
                "report_font": "/nonexistent/simhei.ttf",
            }
        ),
    )

    def failures() -> list[Notification]:
        with broken.sessions() as session:
            return list(
                session.scalars(
                    select(Notification)
                    .where(Notification.kind == "in_app", Notification.title.like("【日报生成失败】%"))
                    .order_by(Notification.id)
                )
            )

    assert service.send_daily_reports(broken) == []
    assert service.send_daily_reports(broken) == []  # a minute later: tried again, told once
    told = failures()
    with broken.sessions() as session:
        names = {p.id: p.name for p in session.scalars(select(Person))}
    assert sorted((n.title, names[n.person_id or 0]) for n in told) == [
        ("【日报生成失败】市卫生健康委员会 11月20日", "李办公室"),
        ("【日报生成失败】市卫生健康委员会 11月20日", "赵分管"),
        ("【日报生成失败】市卫生健康委员会 11月20日", "陈市长"),
        ("【日报生成失败】市教育局 11月20日", "钱教育"),
        ("【日报生成失败】市教育局 11月20日", "陈市长"),
        ("【日报生成失败】市环保局 11月20日", "陈市长"),  # no administrator: the top unit's report's
    ]
    by_title = {n.title: str(n.message["body"]) for n in told}
    assert "设置 report_font 指定的字体文件不存在" in by_title["【日报生成失败】市教育局 11月20日"]
    assert "「市环保局」不是已建立的单位" in by_title["【日报生成失败】市环保局 11月20日"]
    assert "系统每分钟重试，原因排除后即补发" in by_title["【日报生成失败】市教育局 11月20日"]

    fixed = dataclasses.replace(
        broken, settings=broken.settings.model_copy(update={"report_font": "", "daily_report_format": "html"})
    )
    made = service.send_daily_reports(fixed)
    assert sorted(r["title"] for r in made) == [
        "市卫生健康委员会网络舆情日报（2026年11月20日）",
        "市教育局网络舆情日报（2026年11月20日）",
    ]
    assert len(failures()) == len(told)


def test_a_daily_report_of_a_day_to_come_is_refused(world: World) -> None:
    world.clock.now = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)
    with pytest.raises(ReportError, match="2026年11月26日尚未到来"):
        service.generate(world.rt, "daily", {"date": "2026-11-26"}, "html")


def test_a_unit_without_a_scheduled_report_yet_gets_no_back_reports(world: World) -> None:
    """A new installation starts its daily reports today, not with reports of the days before it."""
    world.clock.now = dt.datetime(2026, 11, 25, 9, 5, tzinfo=dt.UTC)
    made = service.send_daily_reports(world.rt)
    assert [r["title"] for r in made] == ["南京市人民政府网络舆情日报（2026年11月25日）"]


# ---- the command line -----------------------------------------------------------------------------


def test_cli_writes_the_file_and_archives_it(world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "专报.docx"
    result = runner.invoke(app, ["report", "special", str(world.event_id), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "已生成舆情专报" in result.output and out.read_bytes()[:2] == b"PK"
    table = tmp_path / "table.xlsx"
    result = runner.invoke(
        app, ["report", "response-table", "--from", "2026-11-01", "--to", "2026-11-30", "-o", str(table)]
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["report", "list"])
    assert "舆情专报" in listed.output and "预警响应情况表" in listed.output and "共 2 份" in listed.output
    refused = runner.invoke(app, ["report", "summary", "424242", "-o", str(tmp_path / "x.docx")])
    assert refused.exit_code == 1 and "找不到工单 424242" in refused.output
    # a folder that does not exist is refused before anything is made and archived (the report
    # was archived, the file not written, and the second try archived it again)
    missing = runner.invoke(
        app, ["report", "special", str(world.event_id), "-o", str(tmp_path / "无此目录" / "a.docx")]
    )
    assert missing.exit_code == 1 and "输出目录" in missing.output and "不存在，报告未生成" in missing.output
    assert "共 2 份" in runner.invoke(app, ["report", "list"]).output


def test_a_special_reports_title_nests_the_events_quotes_as_single_quotes() -> None:
    from yuqing.reports.special import nested_quotes

    title = '中国最美丽的乡村"江西婺源"一"教师打死学生"'
    assert nested_quotes(title) == "中国最美丽的乡村‘江西婺源’一‘教师打死学生’"
    assert nested_quotes("自榨花生油“无添加”未必安全") == "自榨花生油‘无添加’未必安全"
    assert nested_quotes("医院回应") == "医院回应"


@pytest.mark.parametrize(
    ("post", "called"),
    [
        # the opening clause when it says what happened
        (
            "南京鼓楼医院发生医疗事故，一名产妇在手术中死亡，家属在医院门口拉横幅讨说法，医院至今未回应。",
            "南京鼓楼医院发生医疗事故",
        ),
        # a bracketed headline is the story's own title
        (
            "【本市10起危害食品安全案件被集中公诉，小龙虾汤底添加有毒配料占4成！】#最新#本市检察机关",
            "本市10起危害食品安全案件被集中公诉",
        ),
        # a mood tag, a column, an account, a 转帖 say nothing; a short cry takes the next clause
        (
            "【悲哀】宁波一女子，因付不起孩子昂贵的医药费，抱着4个月的孩子从医院楼顶上跳下",
            "宁波一女子，因付不起孩子昂贵的医药费",
        ),
        (
            "#众议#【速成鸡】央视曝光违禁药物催肥速生鸡，再一次把本已千疮百孔的食品安全问题",
            "央视曝光违禁药物催肥速生鸡",
        ),
        (
            "@新浪早晚报 安徽淮南一位三四岁的小女孩，在同家人在外逛街时，转眼被人虏走",
            "安徽淮南一位三四岁的小女孩",
        ),
        ("转帖：Mico是中美混血男孩，3周岁，身高1米左右，偏瘦", "Mico是中美混血男孩"),
        (
            "太可怕了，今年3.15又有17种“问题食品”曝光：1兰州拉面，2砂锅粥",
            "太可怕了，今年3.15又有17种‘问题食品’曝光",
        ),
        # one long clause is cut, and says so
        (
            "红歌王为“李衙内轮奸案”请的76人律师团领队、法律大学副校长张爱国教授对媒体表示",
            "红歌王为‘李衙内轮奸案’请的76人律师团领队、法律大学副校…",
        ),
        ("太可怕了", "太可怕了"),
    ],
)
def test_a_report_names_its_event_in_a_phrase_not_a_cut_post(post: str, called: str) -> None:
    from yuqing.reports.common import subject

    assert subject(post) == called


def test_reports_say_when_a_person_lowered_the_grade_the_alert_was_raised_at(world: World) -> None:
    """A 特别重大 alert, its case lowered to 一般 by the chief: the 日报 shows the event as 一般 with
    the grade it replaced, its alert as raised with the grade now, and the 总结评估 tells both."""
    rt, clock = world.rt, world.clock
    case_id = work_case_to_release(world)
    cases.regrade(rt, case_id, "IV", "核实为个案，传播有限", "陈市长")
    daily = service.generate(rt, "daily", {"date": "2026-11-20"}, "html").document.plain_text()
    assert "Ⅳ级（一般）（人工调整，原特别重大）" in daily
    assert "特别重大（现为一般）" in daily
    clock.advance(hours=2)
    cases.advance(rt, case_id, "following", "李办公室")
    cases.close(rt, case_id, "赵分管", summary="已核实澄清。")
    summary = service.generate(rt, "summary", {"case_id": case_id}, "html").document.plain_text()
    assert "相关舆情，初定为特别重大，后调整为一般，定性为" in summary


def test_the_grade_a_case_was_given_over_its_life() -> None:
    from yuqing.reports.summary import graded_as

    assert graded_as("较大", []) == "定为较大"
    assert graded_as("一般", ["等级 特别重大 → 一般：核实为个案"]) == "初定为特别重大，后调整为一般"
    upgraded = ["等级 一般 → 较大（事件升级）", "等级 较大 → 一般：误报"]
    assert graded_as("一般", upgraded) == "定为一般（期间调整等级2次）"


def test_a_withdrawn_case_is_counted_and_summed_up_as_withdrawn(world: World) -> None:
    rt, clock = world.rt, world.clock
    case_id = int(cases.open_case(rt, "李办公室", alert_id=world.alert_id)["id"])
    clock.advance(minutes=30)
    cases.withdraw(rt, case_id, "经核实为误报", "赵分管")
    daily = service.generate(rt, "daily", {"date": "2026-11-20"}, "html").document.plain_text()
    assert "本日新开工单1件，结案1件（其中撤销1件）" in daily
    summary = service.generate(rt, "summary", {"case_id": case_id}, "html").document.plain_text()
    assert "撤销（经核实为误报），历时30分钟" in summary


def test_response_table_judges_an_alert_nobody_took_in_hand_by_the_plans_clocks(world: World) -> None:
    """A 特别重大 alert on which no case was opened was reported to nobody: once the plan's hour is
    past, 报告是否按时 says so (「否（超时未办）」), not 「—」; before that it is 「未到期」."""
    rt = world.rt

    def row() -> dict[str, Any]:
        made = service.generate(rt, "response_table", {"from": "2026-11-01", "to": "2026-11-30"}, "xlsx")
        sheet = load_workbook(io.BytesIO(made.content)).active
        assert sheet is not None
        header = [c.value for c in sheet[3]]
        return {h: c.value for h, c in zip(header, sheet[4], strict=True)}

    with rt.sessions() as session:
        alert = session.get(Alert, world.alert_id)
        assert alert is not None and alert.grade_code == "I"
        created = alert.created_at
    world.clock.now = created + dt.timedelta(minutes=30)
    early = row()
    assert (early["当前状态"], early["报告是否按时"], early["报告时间"]) == ("预警未确认", "未到期", "—")
    world.clock.now = created + dt.timedelta(hours=2)
    late = row()
    assert late["报告是否按时"] == "否（超时未办）" and late["报告时间"] == "—"
