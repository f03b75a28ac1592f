"""An official rebuttal that comes after an event's grade tells the offices handling it."""

from __future__ import annotations

from sqlalchemy import select

from tests.cases.test_response import HOSPITAL, import_posts, notifications, setup_org
from yuqing.analysis.models import Event, GradeSignal
from yuqing.analysis.pipeline import AnalysisPipeline
from yuqing.cases import followup
from yuqing.org import service as org
from yuqing.runtime import Runtime


def rebuttal(post_id: str, minute: int) -> dict[str, object]:
    return {
        "id": post_id,
        "text": "【辟谣】经查证，南京鼓楼医院未发生此事，请勿传播。//@网友:" + HOSPITAL,
        "kind": "repost",
        "cascade": "o1",
        "published_at": f"2026-11-20T08:{minute:02d}:00+08:00",
        "verified": True,
        "verified_type": 1,  # a government body
    }


SECOND = "南京鼓楼医院一名产妇在手术中意外死亡，家属今天上午聚集在医院门口要求说法，院方称正在调查。"


def test_the_office_handling_the_event_is_told_once_to_judge_the_grade_again(rt: Runtime) -> None:
    """特别重大 on two reports of the death (not on spread): the rebuttal takes its ground away."""
    setup_org(rt)
    import_posts(
        rt,
        [
            {"id": "o1", "text": HOSPITAL, "published_at": "2026-11-20T08:00:00+08:00"},
            {"id": "o2", "text": SECOND, "published_at": "2026-11-20T08:05:00+08:00"},
        ],
        "a.jsonl",
    )
    AnalysisPipeline(rt).run()
    with rt.sessions() as session:
        [event_id] = session.scalars(select(Event.id).where(Event.grade_code == "I"))
        reasons = [r["key"] for r in session.get(Event, event_id).reasons]  # type: ignore[union-attr]
    assert "flag:casualties" in reasons and "reposts" not in reasons
    assert followup.run_once(rt)["alerts"]["created"] == 1
    before = len(notifications(rt))
    import_posts(rt, [rebuttal("g1", 30)], "rebuttal.jsonl")
    AnalysisPipeline(rt).run()
    result = followup.run_once(rt)
    assert result["alerts"]["created"] == 0 and result["alerts"]["merged"] == 0  # no new alert
    told = [n for n in notifications(rt)[before:] if n.title.startswith("【官方辟谣】")]
    with rt.sessions() as session:
        office = org.find_person(session, "李办公室").id
        event = session.get(Event, event_id)
        assert event is not None and event.grade_code == "I"  # not lowered by itself
        kinds = list(session.scalars(select(GradeSignal.kind).where(GradeSignal.event_id == event_id)))
    assert {n.person_id for n in told} == {office}
    assert told[0].title == "【官方辟谣】特别重大：" + event.title[:40]
    assert kinds.count("rebutted") == 1
    # a second rebuttal tells nobody again
    import_posts(rt, [rebuttal("g2", 40)], "again.jsonl")
    AnalysisPipeline(rt).run()
    followup.run_once(rt)
    with rt.sessions() as session:
        kinds = list(session.scalars(select(GradeSignal.kind).where(GradeSignal.event_id == event_id)))
    assert kinds.count("rebutted") == 1
