"""The shipped incident model on posts an analyst would judge at a glance, and its CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_cli import yuqing
from yuqing.analysis import incidents
from yuqing.analysis.incidents import DOMAINS, Incident, IncidentModel


@pytest.fixture(scope="module")
def model() -> IncidentModel:
    return IncidentModel.load()


def one(model: IncidentModel, text: str) -> Incident:
    return model.predict([text])[0]


def test_public_api() -> None:
    assert incidents.__all__ == ["CUE_NAMES", "DOMAINS", "Incident", "IncidentModel", "cue_features"]
    assert DOMAINS == (
        "medical",
        "education",
        "food_drug",
        "accident_disaster",
        "crime_security",
        "environment",
        "official_conduct",
        "other",
    )


def test_a_deadly_crash_has_casualties(model: IncidentModel) -> None:
    result = one(model, "今天上午，某市某路口发生车祸，一辆大货车与公交车相撞，造成3人死亡5人受伤。")
    assert result.incident and result.casualties
    assert result.domain == "accident_disaster"
    assert result.score > 0.5


@pytest.mark.parametrize(
    "text",
    [
        # horoscope: 伤人 and 死 as traits
        "天蝎座的性格：爱恨分明，说话直接易伤人，认定的事情死倔到底，九头牛都拉不回来。",
        # slang
        "加班到凌晨三点，累死了，明天还要早起，笑死，老板居然说我们效率太低。",
        # a joke
        "小时候家里穷，我妈说能活到现在没被饿死已经是奇迹了哈哈哈[哈哈]",
        # book promotion
        "新书上市！一部关于爱与死亡的故事，感动千万读者，转发本条微博抽三位送签名版。",
        # negated harm
        "昨晚小区一辆电动车起火，消防及时赶到扑灭，所幸未造成人员伤亡。",
        # sadness, not injury
        "看完这部电影好伤心，哭了一晚上，再也不相信爱情了。",
        # idioms holding 死 and 伤
        "医生的天职是救死扶伤，这家医院却见死不救，太让人寒心了，必须严查",
    ],
)
def test_no_casualties_in_slang_jokes_ads_or_negations(model: IncidentModel, text: str) -> None:
    assert not one(model, text).casualties


@pytest.mark.parametrize(
    "text",
    [
        # real rebuttals from the demo's cascades, once counted as evidence of the deaths they deny
        "@永康发布：经查证，永康市中医院未发生此事；目前，正对全市医疗单位进行查证，有消息将及时发布。",
        "@江南都市报:近两天一则“新余市长儿子打死人”的假消息在网络疯传，对我市声誉造成较大不良影响，"
        "在此我们郑重声明，此事与新余市毫无关系",
        "【辟谣】网传某化工厂爆炸致3人死亡，经核实纯属谣言，请勿转发。",
    ],
)
def test_a_rebuttal_states_no_casualties_and_no_threat(model: IncidentModel, text: str) -> None:
    result = one(model, text)
    assert not result.casualties and not result.public_safety


def test_insisting_it_is_no_rumour_is_no_rebuttal(model: IncidentModel) -> None:
    result = one(model, "这不是谣言！今天下午南京一化工厂爆炸，已造成3人死亡，多人受伤")
    assert result.casualties and result.public_safety


@pytest.mark.parametrize(
    "text",
    [
        "十二星座谁最容易受伤？双鱼座排第一，天蝎座死倔不认输。",
        "新书上市！一部关于爱与死亡的故事，感动千万读者，转发本条微博抽三位送签名版。",
        "人生就像一场旅行，不必在乎目的地，在乎的是沿途的风景以及看风景的心情。",
    ],
)
def test_opinion_horoscope_and_ads_are_no_incidents(model: IncidentModel, text: str) -> None:
    result = one(model, text)
    assert not result.incident
    assert not result.public_safety
    assert result.score < 0.5


POISONING = (
    "【突发】今天中午，某县第一中学食堂发生食物中毒，200多名学生出现呕吐、腹泻症状，已送医院救治，"
    "食药监部门已封存食堂留样。"
)


def test_mass_food_poisoning_of_students_threatens_public_safety(model: IncidentModel) -> None:
    result = one(model, POISONING)
    assert result.incident and result.public_safety


def test_mass_food_poisoning_is_food_drug(model: IncidentModel) -> None:
    # was a known error (read as medical for 送医院救治) before the extra labels
    assert one(model, POISONING).domain == "food_drug"


@pytest.mark.parametrize(
    "text",
    [
        # one patient's death: casualties, but nobody else is at risk
        "某市儿童医院一名5岁患儿输液后死亡，家属质疑护士用错药。患儿在该院输液约二十分钟后出现抽搐，"
        "经抢救无效死亡，院方称已封存药品，等待尸检结果。",
        # a family tragedy
        "昨晚某小区一男子与妻子争吵后将其打伤，妻子送医后抢救无效死亡，男子已被警方控制。",
    ],
)
def test_a_single_victim_is_no_public_threat(model: IncidentModel, text: str) -> None:
    result = one(model, text)
    assert result.incident and result.casualties
    assert not result.public_safety


@pytest.mark.parametrize(
    "text",
    [
        "某市人民医院被指乱收费：一名市民住院五天被收取检查费两万元，其中多项检查并未做过，"
        "家属投诉后要求退费，医院表示已介入调查。",
        "某医院门诊排队三小时，患者家属投诉挂号难、医生态度冷漠，院方回应称将增加窗口。",
    ],
)
def test_hospital_complaints_hurt_nobody_and_threaten_nobody(model: IncidentModel, text: str) -> None:
    result = one(model, text)
    assert result.incident
    assert not result.casualties and not result.public_safety
    assert result.domain == "medical"


@pytest.mark.parametrize(
    "text",
    [
        "最近出现骗子让单独带孩子的家长帮忙照相，家长拍照时就会出现眩晕，然后孩子就被抱走了。"
        "沈阳已出现两起，请告诉周围的妈妈们注意！",
        "【突发】今天下午某市化工厂发生爆炸，浓烟笼罩周边小区，消防正在扑救，附近居民已紧急疏散。",
    ],
)
def test_warnings_and_disasters_threaten_the_public(model: IncidentModel, text: str) -> None:
    result = one(model, text)
    assert result.incident and result.public_safety


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("某医院产妇在手术台上死亡，家属质疑医生操作失误，院方拒绝公开病历。", "medical"),
        ("某幼儿园老师用针扎学生，家长报警，教育局已介入调查。", "education"),
        ("昨晚一男子持刀抢劫路人后逃跑，警方已将犯罪嫌疑人抓获。", "crime_security"),
        ("某镇城管暴力执法，将摆摊老人推倒在地，镇政府回应称正在调查。", "official_conduct"),
    ],
)
def test_domains(model: IncidentModel, text: str, domain: str) -> None:
    result = one(model, text)
    assert result.incident
    assert result.domain == domain


def test_flags_imply_an_incident_and_scores_are_probabilities(model: IncidentModel) -> None:
    texts = [
        "某市发生车祸，造成3人死亡5人受伤",
        "今天天气不错",
        # traditional characters
        "【旅遊大巴墜崖】據報道，昨日下午3時許，一輛載有38名遊客的旅遊大巴在某縣山區公路墜入山谷，"
        "造成12人遇難、20人受傷。",
        "",
        "【 #尼古拉斯•凯奇因滑雪意外事故死亡#】[蜡烛]   http://t.cn/zjDEOJA  @新浪娱乐",
    ]
    results = model.predict(texts)
    assert len(results) == len(texts)
    for r in results:
        assert 0.0 <= r.score <= 1.0
        assert r.domain in DOMAINS
        if r.casualties or r.public_safety:
            assert r.incident
        assert set(r.as_dict()) == {"incident", "casualties", "public_safety", "domain", "score"}
    assert results[2].casualties
    assert not results[1].incident
    assert model.predict([]) == []


def test_bad_model_file_is_a_clear_error(tmp_path: pytest.TempPathFactory) -> None:
    bad = tmp_path / "x.npz"  # type: ignore[operator]
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an incident model file"):
        IncidentModel.load(bad)


def test_cli_adds_incident_to_each_line_and_reports_bad_lines() -> None:
    lines = [
        json.dumps({"id": 1, "text": "某市发生车祸，造成3人死亡5人受伤"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": 3, "text": "累死了，笑死，今天又加班"}, ensure_ascii=False),
        json.dumps({"id": 4}),
    ]
    result = yuqing("analyze", "incidents", "-", stdin="\n".join(lines).encode())
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [o["id"] for o in out] == [1, 3]
    assert out[0]["incident"]["casualties"] is True
    assert out[1]["incident"]["casualties"] is False
    assert set(out[0]["incident"]) == {"incident", "casualties", "public_safety", "domain", "score"}
    err = result.stderr.decode()
    assert "第 2 行" in err and "第 4 行" in err
    assert result.returncode != 0


def test_cli_reads_a_file(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "posts.jsonl"  # type: ignore[operator]
    path.write_text(
        json.dumps({"text": "今天中午某小学食堂发生食物中毒，30多名学生送医"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    result = yuqing("analyze", "incidents", str(path))
    assert result.returncode == 0, result.stderr.decode()
    (record,) = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert record["incident"]["incident"] is True
    assert record["incident"]["public_safety"] is True


def test_a_reply_is_read_as_a_report_only_with_more_certainty() -> None:
    """A repost or comment with words of its own reports the occurrence when it states casualties
    or scores at least REPLY_INCIDENT_MIN, and never carries public safety (the labelled reposts of
    scripts/data/ced_reply_incidents.jsonl: bench analysis prints the figures)."""
    from yuqing.analysis.incidents import REPLY_INCIDENT_MIN, Incident

    doubtful = Incident(True, False, True, "food_drug", REPLY_INCIDENT_MIN - 0.1)
    assert doubtful.as_reply() == Incident(False, False, False, "food_drug", 0.0)
    sure = Incident(True, False, True, "food_drug", REPLY_INCIDENT_MIN)
    assert sure.as_reply() == Incident(True, False, False, "food_drug", REPLY_INCIDENT_MIN)
    hurt = Incident(True, True, True, "education", 0.6)
    assert hurt.as_reply() == Incident(True, True, False, "education", 0.6)
    assert Incident(False, False, False, "other", 0.3).as_reply().incident is False


def test_public_kinds_are_counted_per_kind_and_shadows_hide_them() -> None:
    texts = [
        "化工厂爆炸起火，附近自来水被污染，大家小心",
        "我不小心摔了一跤",  # 不小心 shadows 小心
        "今天天气不错",
    ]
    kinds = incidents.public_kind_features(texts)
    assert kinds.shape == (3, len(incidents.PUBLIC_KINDS))
    names = list(incidents.PUBLIC_KINDS)
    row = dict(zip(names, kinds[0].tolist(), strict=True))
    # 化工 and 污染 are toxic, 爆炸 and 起火 fire_explosion, 自来水 toxic, 大家小心 the public addressed
    assert row["fire_explosion"] == pytest.approx(np.log1p(2))
    assert row["toxic"] == pytest.approx(np.log1p(3))
    assert row["public_addressed"] == pytest.approx(np.log1p(1))
    assert not kinds[1:].any()
    assert incidents.public_evidence(texts).tolist() == [True, False, False]
