"""Grades from the plan profiles, with their reasons; event metrics from posts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from yuqing.analysis.grading import (
    PROFILES_DIR,
    ProfileError,
    grade,
    is_upgrade,
    load_profile,
)
from yuqing.analysis.metrics import PostFacts, compute
from yuqing.analysis.regions import regions_in

NOW = dt.datetime(2026, 11, 21, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


def facts(i: int, **kwargs: object) -> PostFacts:
    base: dict[str, object] = {
        "post_id": i,
        "published_at": NOW - dt.timedelta(minutes=i),
        "fetched_at": NOW,
        "platform": "weibo",
        "kind": "original",
        "media_tier": "other",
        "url": None,
        "source_id": 1,
        "text": "南京某医院发生医疗纠纷",
        "negative": True,
        "topics": (1,),
    }
    base.update(kwargs)
    return PostFacts(**base)  # type: ignore[arg-type]


def test_default_profile_grades_in_order_with_reasons() -> None:
    profile = load_profile()
    assert [g.code for g in profile.grades] == ["I", "II", "III", "IV"]
    values = {"topic_matched": 1, "negative_share": 0.5, "sites": 1, "reposts": 20, "posts": 3}
    result = grade(profile, values, {})
    assert result is not None and result.name == "一般"
    assert [r.text for r in result.reasons] == [
        "命中专题数 1（不低于 1）",
        "负面占比 50%（不低于 30%）",
        "信息量 3（不低于 3）",
    ]
    # one comment that matched a topic (「论文如果这么抄，得被老师打死！」) is no event to report yet,
    # nor one repost whose long comment reads as an incident; one original that reports one is
    assert grade(profile, {**values, "posts": 1}, {}) is None
    assert grade(profile, {**values, "posts": 1, "incident_posts": 1, "incident_reports": 0}, {}) is None
    reported = grade(profile, {**values, "posts": 1, "incident_posts": 1, "incident_reports": 1}, {})
    assert reported is not None and reported.reasons[-1].text == "报道事件的原帖数 1（不低于 1）"

    larger = grade(profile, {"sites": 2, "views": 1500, "reposts": 40, "incident_posts": 1}, {})
    assert larger is not None and (larger.code, larger.name) == ("III", "较大")
    assert "单日阅读量 1,500（超过 1,000）" in [r.text for r in larger.reasons]

    major = grade(profile, {"sites": 1, "media_provincial_or_central": 1, "incident_posts": 1}, {})
    assert major is not None and major.name == "重大"

    gravest = grade(profile, {"sites": 1, "incident_posts": 3}, {"casualties": 3})
    assert gravest is not None and gravest.code == "I"
    assert gravest.reasons[0].text == "涉及人员伤亡：3 条信息报道"

    assert grade(profile, {"topic_matched": 1, "negative_share": 0.1}, {}) is None
    # a viral post that reports no incident (a tip, a joke) is no 特别重大: at most 一般
    viral = grade(
        profile, {"topic_matched": 1, "negative_share": 0.5, "reposts": 900, "sites": 3, "posts": 5}, {}
    )
    assert viral is not None and viral.code == "IV"


def test_a_flag_needs_evidence_and_the_reason_links_the_posts() -> None:
    profile = load_profile()
    values = {"topic_matched": 1, "negative_share": 1.0, "sites": 1}
    values |= {"incident_posts": 5, "incident_reports": 5}
    # one post of ten incident posts states deaths, from an ordinary account: not enough
    one = {"casualties": {"posts": 1, "share": 0.1, "mainstream": 0, "post_ids": [7]}}
    result = grade(profile, values, evidence=one)
    assert result is not None and result.code == "IV"
    # two of five incident posts: enough
    two = {"casualties": {"posts": 2, "share": 0.4, "mainstream": 0, "post_ids": [7, 9]}}
    result = grade(profile, values, evidence=two)
    assert result is not None and result.code == "I"
    assert result.reasons[0].posts == (7, 9)
    assert result.reasons[0].as_dict()["posts"] == [7, 9]
    assert result.reasons[0].text == "涉及人员伤亡：2 条信息报道（占报道事件信息的 40%）"
    # many posts, but a small share of a large event's incident posts: not enough
    thin = {"casualties": {"posts": 3, "share": 0.05, "mainstream": 0, "post_ids": [1, 2, 3]}}
    assert grade(profile, values, evidence=thin).code == "IV"  # type: ignore[union-attr]
    # one mainstream outlet's report of deaths is enough by itself
    outlet = {"casualties": {"posts": 1, "share": 0.1, "mainstream": 1, "post_ids": [4]}}
    result = grade(profile, values, evidence=outlet)
    assert result is not None and result.code == "I"
    assert "主流媒体或政务、媒体账号 1 条" in result.reasons[0].text


def test_a_profile_sets_the_evidence_a_flag_needs(tmp_path: Path) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text(
        "[evidence]\nmin_posts = 5\nmin_share = 0.5\nmin_mainstream = 0\n"
        '[[grades]]\ncode = "I"\nname = "特别重大"\n'
        'when = { any = [{ flag = "casualties" }, { flag = "public_safety", min_posts = 1 }] }\n',
        encoding="utf-8",
    )
    profile = load_profile(strict)
    outlet = {"casualties": {"posts": 4, "share": 0.9, "mainstream": 4, "post_ids": []}}
    assert grade(profile, {}, evidence=outlet) is None  # mainstream route off, 4 < 5 posts
    single = {"public_safety": {"posts": 1, "share": 0.6, "mainstream": 0, "post_ids": [3]}}
    assert grade(profile, {}, evidence=single) is not None  # overridden for this flag
    strict.write_text(
        '[[grades]]\ncode = "I"\nname = "x"\nwhen = { flag = "casualties", min_share = 2 }\n',
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match=r"min_share"):
        load_profile(strict)
    strict.write_text(
        '[[grades]]\ncode = "I"\nname = "x"\nwhen = { flag = "casualties", posts = 2 }\n',
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match=r"when\.posts"):
        load_profile(strict)


def test_two_level_profile() -> None:
    profile = load_profile(PROFILES_DIR / "two_level.toml")
    assert [g.name for g in profile.grades] == ["重大", "一般"]
    result = grade(profile, {"regions": 2, "incident_posts": 1}, {})
    assert result is not None and result.name == "重大"


def test_bad_profile_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[grades]]\ncode = "I"\nname = "x"\nwhen = { metric = "heat", op = ">", value = 1 }\n',
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match=r"grades\[0\]\.when\.metric"):
        load_profile(bad)
    bad.write_text('[[grades]]\ncode = "V"\nname = "x"\nwhen = { flag = "casualties" }\n', encoding="utf-8")
    with pytest.raises(ProfileError, match="code"):
        load_profile(bad)


def test_upgrades_only_go_up() -> None:
    assert is_upgrade(None, "IV")
    assert is_upgrade("IV", "II")
    assert not is_upgrade("II", "III")
    assert not is_upgrade("II", None)


def test_metrics_count_busiest_day_sites_tiers_and_growth() -> None:
    posts = [
        facts(1, reposts=120, views=900, url="https://weibo.com/1/a"),
        facts(2, platform="news", url="https://news.example.cn/a.html", media_tier="provincial", topics=()),
        facts(3, kind="repost", negative=False, flags=("casualties",)),
        facts(4, published_at=NOW - dt.timedelta(days=2), reposts=50),
        facts(90, negative=False),
    ]
    metrics = compute(posts, NOW)
    values = metrics.values
    assert values["posts"] == 5
    assert values["reposts"] == 120  # busiest day, not the sum over days
    assert values["views"] == 900
    assert values["sites"] == 2  # 微博 (with its link or without it is one site) and news.example.cn
    assert values["media_provincial_or_central"] == 1
    assert values["negative_share"] == pytest.approx(3 / 5)
    assert values["sensitive_posts"] == 1 and metrics.flags == {"casualties": 1}
    assert values["growth"] == 3 - 1  # three in the last hour, one in the hour before
    assert values["topic_matched"] == 1
    assert metrics.regions == ["江苏"]
    assert sum(h["posts"] for h in metrics.hourly) == 5


def test_regions_map_cities_to_provinces() -> None:
    assert regions_in("南京市长江大桥上发生车祸，苏州和杭州网友热议") == {"江苏", "浙江"}
    assert regions_in("") == set()
