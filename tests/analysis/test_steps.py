"""The analysis steps in memory (`yuqing.analysis.testing`): the same decisions as the pipeline
over a database, for a list of posts."""

from __future__ import annotations

import pytest

from tests.analysis.test_trust import DAY, DEATH, four_incidents
from yuqing.analysis import steps
from yuqing.analysis.testing import analyse

TOPICS = {1: "@医疗主体 + (投诉|误诊|死亡|纠纷|事故|索要红包|身亡)"}
GROUPS = {"医疗主体": ["医院", "患者", "患儿", "医生"]}


def test_four_concurrent_hospital_incidents_graded_in_memory_as_by_the_pipeline() -> None:
    rows = four_incidents()
    result = analyse(rows, topics=TOPICS, groups=GROUPS)
    first = {p.external_id: p.when for p in result.posts}
    events = sorted(result.events.values(), key=lambda e: first[e.post_ids[0]])
    assert [e.grade_code for e in events] == ["IV", "III", "II", "I"]
    assert [e.post_ids for e in events] == [
        ["a.cn-1"],
        ["b.cn-1", "c.cn-1"],
        ["js.gov.cn-1"],
        ["d.cn-1", "e.cn-1", "f.cn-1"],
    ]
    death = events[3]
    [flag] = [r for r in death.reasons if r["key"] == "flag:casualties"]
    assert "人员伤亡" in flag["text"]
    assert any(e["kind"] == "hospital" and "儿童医院" in e["name"] for e in death.entities)
    assert events[1].metrics["sites"] == 2


def test_a_repost_joins_its_root_and_a_reaction_reports_nothing() -> None:
    rows = [
        {"id": "o", "text": DEATH, "published_at": DAY + "12:10:00+08:00"},
        {
            "id": "r",
            "text": "转一发！",
            "kind": "repost",
            "root": "o",
            "published_at": DAY + "12:11:00+08:00",
        },
        {
            "id": "x",
            "text": "今天天气不错，和朋友去公园散步，心情很好。",
            "published_at": DAY + "12:12:00+08:00",
        },
    ]
    result = analyse(rows, topics=TOPICS, groups=GROUPS)
    assert result.event_of["o"] == result.event_of["r"] is not None
    assert result.event_of["x"] is None  # untopiced chatter: no event
    [event] = result.events.values()
    assert event.metrics["incident_posts"] == 1 and event.grade == "一般"
    reaction = next(p for p in result.posts if p.external_id == "r")
    assert reaction.incident["incident"] is False and reaction.flags == ()


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        analyse([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], topics=TOPICS)
    with pytest.raises(ValueError, match="root 'z'"):
        analyse([{"id": "a", "text": "x", "root": "z"}], topics=TOPICS)
    with pytest.raises(ValueError, match="time zone"):
        analyse([{"id": "a", "text": "x", "published_at": "2026-11-19T12:00:00"}], topics=TOPICS)


def test_the_steps_are_named_as_the_pipeline_times_them() -> None:
    from yuqing.analysis.pipeline import STAGES

    assert STAGES == steps.STEPS


@pytest.mark.parametrize(
    ("verified", "kind", "grade"),
    [
        (True, "media", "特别重大"),
        (True, "government", "特别重大"),
        (None, "media", "特别重大"),  # a source that gives the kind only
        (True, "individual", "一般"),  # a verified 大V retelling a death is one post, not a report
        (True, "enterprise", "一般"),
        (True, None, "一般"),  # verified as no one knows what
        (False, "media", "一般"),
    ],
)
def test_one_report_of_deaths_is_enough_only_from_a_government_or_media_account(
    verified: bool | None, kind: str | None, grade: str
) -> None:
    rows = [
        {
            "id": "o",
            "text": DEATH,
            "published_at": DAY + "12:10:00+08:00",
            "verified": verified,
            "author_kind": kind,
        }
    ]
    [event] = analyse(rows, topics=TOPICS, groups=GROUPS).events.values()
    assert event.grade == grade
    flagged = [r["text"] for r in event.reasons if r["key"] == "flag:casualties"]
    assert flagged == (
        ["涉及人员伤亡：1 条信息报道（占报道事件信息的 100%），其中主流媒体或政务、媒体账号 1 条"]
        if grade == "特别重大"
        else []
    )
