"""Per-post incident recognition: does a post report a real occurrence, with casualties, threatening
the public, and in which domain.

The sensitivity lexicon (:mod:`yuqing.analysis.sensitivity`) raises ``casualties`` for one word
such as 死亡, so horoscopes (「易伤人…死倔」), book promotions (「爱与死亡的故事」), jokes
(「没被饿死…」) and commentary look like deadly incidents. This model decides per post:

* ``incident`` — the post reports a specific real occurrence (not opinion, jokes, horoscopes, ads,
  generic warnings, history), with ``score`` its probability;
* ``casualties`` — people died or were physically injured in that occurrence;
* ``public_safety`` — the occurrence threatens the public at large;
* ``domain`` — one of :data:`DOMAINS`.

``casualties`` and ``public_safety`` imply ``incident``: a post whose incident probability stays
below the incident threshold never gets either (see :meth:`IncidentModel.predict`).

How a batch is scored (numpy only; the model is trained by ``scripts/train_incidents.py`` from
``../shared/data/incidents/ced_incidents_dev.jsonl`` plus 637 extra labelled CED originals,
``scripts/data/ced_incidents_extra.jsonl``, and shipped as ``models/incidents.npz``):

1. **Character n-grams**: :func:`yuqing.analysis.features.featurise` hashes character 1–3-grams;
   eleven linear heads (incident, casualties, public_safety and one per domain) score them in one
   gather (int8 weights, one scale per head).
2. **Cues** (:func:`cue_features`): one Aho-Corasick pass over the sensitivity lexicon plus cue
   groups of this module (time words, news wording, victims, slang such as 笑死/累死/死倔,
   horoscopes, ads, advice, history, domain words), with the lexicon's negation guard, and a few
   regular expressions for counted or caused harm (「3人死亡」, 「致2死3伤」, 「造成…死亡」,
   「被…打死」; the first four pass the same negation guard, so 「未造成人员伤亡」 states no harm)
   and dates (「5月3日」, 「14时许」).
3. **Public kinds** (:func:`public_kind_features`): one more automaton pass counts the words of
   each of the nine kinds of public threat of :data:`PUBLIC_KINDS` (disaster, fire or explosion,
   transport, epidemic, toxic leak or pollution, food and drug safety, violence in public places,
   mass incident, the public addressed or counted).
4. **Stacked heads**, small logistic regressions: incident over its n-gram logit and the cues;
   casualties over its own n-gram logit, the incident logit and the cues; public_safety over its
   own n-gram logit, the incident logit, the cues and the public kinds, fitted on incident posts
   only (it says which occurrences threaten the public; whether a post reports one at all is the
   incident head's call); domain (softmax) over the eight domain n-gram
   logits (less their row mean), the incident logit and the cues except the harm cues (deaths say
   nothing about the domain: without this, the crime reports rich in counted deaths pulled deadly
   crashes into crime_security).
5. **Gates**: casualties needs a stated harm (:data:`HARM_EVIDENCE`; a stay in hospital is none),
   public_safety a word of a threat to the public (any kind of :data:`PUBLIC_KINDS`), so one
   patient's death after an infusion or a hospital queue is no public threat. The public_safety
   cut is chosen with a lower incident cut (``public_safety_incident``): a confident
   public_safety score raises a post whose incident probability reaches that cut, and makes it an
   incident (a public threat told in few words, 「震中情况」, scores low as an incident).

Cross-validated dev figures (5 folds by the MD5 of the id; each fold's model, thresholds
included, is fitted on the other four folds plus all extra labels; see
:mod:`yuqing.analysis.incidents_eval`), scored on the 1,056 official labelled posts only, beside
the model before the extra labels and gates and the sensitivity lexicon (any flag counted as an
incident):

==================  ==================  ==================  ======================
flag                P / R / F1          before (P / R / F1) lexicon P / R / F1
==================  ==================  ==================  ======================
incident            0.83 / 0.87 / 0.85  0.76 / 0.84 / 0.80  0.78 / 0.57 / 0.66
casualties          0.86 / 0.86 / 0.86  0.83 / 0.73 / 0.78  0.55 / 0.45 / 0.50
public_safety       0.77 / 0.67 / 0.71  0.55 / 0.55 / 0.55  0.40 / 0.33 / 0.36
==================  ==================  ==================  ======================

Domain accuracy 0.87 (before 0.85, lexicon 0.75). Without the public kinds (and with the
public_safety head fitted on every post and its cut chosen on every post) public_safety was
0.66 / 0.63 / 0.64. The extra labels were read by one labeller against the same guide and not
double-checked. Some extra posts nearly copy an official one (the same rumour from several
accounts); dropping, per fold, those that nearly copy a held-out post (character 4-gram Jaccard
>= 0.5) gives 0.81 / 0.84 / 0.82 (incident), 0.86 / 0.83 / 0.84 (casualties), 0.73 / 0.55 / 0.63
(public_safety; 0.63 / 0.60 / 0.62 without the public kinds) and domain accuracy 0.87: the honest
gain. About 16,000-18,000 ~100-character posts/s in batches on one shared core (the n-gram gather and
the cue scan cost about the same; the public-kind scan, one more automaton pass, little).

Texts are raw post texts: :meth:`IncidentModel.predict` normalises them itself (traditional →
simplified, URL and mention folding, emoticons split off). The model is immutable after
:meth:`IncidentModel.load` and safe to share between threads.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick_rs
import numpy as np
import numpy.typing as npt

from yuqing.analysis.features import FeatureSpec, featurise, normalise
from yuqing.analysis.sensitivity import LEXICON, SHADOWS

# The lexicon's own negation guard (未造成人员伤亡, 无人受伤), applied to lexicon hits only.
from yuqing.analysis.sensitivity import _negated as _negated

__all__ = ["CUE_NAMES", "DOMAINS", "Incident", "IncidentModel", "cue_features"]

DOMAINS: tuple[str, ...] = (
    "medical",
    "education",
    "food_drug",
    "accident_disaster",
    "crime_security",
    "environment",
    "official_conduct",
    "other",
)
FLAG_HEADS: tuple[str, ...] = ("incident", "casualties", "public_safety")
# Linear n-gram heads of the model file, in column order.
NGRAM_HEADS: tuple[str, ...] = (*FLAG_HEADS, *(f"domain:{d}" for d in DOMAINS))

# Cue groups beside the lexicon. Each raises a count feature; longest match wins, so a slang
# phrase such as 易伤人 or 笑死 hides the lexicon term inside it.
# fmt: off
CUES: dict[str, tuple[str, ...]] = {
    "time": (
        "今天", "今日", "昨天", "昨日", "昨晚", "昨夜", "今晨", "今早", "今晚", "前天", "前日", "日前",
        "近日", "刚刚", "刚才", "凌晨", "当天", "当晚", "当日", "上午", "下午", "傍晚", "中午", "晚上",
        "早上", "深夜", "事发", "目前", "正在", "已经",
    ),
    "news": (
        "记者", "据悉", "据了解", "据报道", "据称", "据介绍", "消息称", "警方", "公安", "派出所", "民警",
        "消防", "救援", "急救", "送医", "送往医院", "送往", "抢救", "现场", "目击", "爆料", "通报", "回应",
        "调查", "涉事", "当事人", "家属", "获悉", "证实", "核实", "120", "110", "报警", "赶到", "官方",
    ),
    "rumour": (
        "网传", "传言", "据传", "求证", "求扩散", "求转发", "扩散", "紧急", "速转", "转起来", "帮忙转发",
        "辟谣", "真相",
    ),
    "victims": (
        "学生", "孩子", "儿童", "小孩", "村民", "市民", "乘客", "工人", "老人", "女子", "男子", "妇女",
        "一家", "民工", "女孩", "男孩", "婴儿", "产妇", "患者", "病人", "游客", "司机", "行人", "幼儿",
        "少年", "少女", "女童", "男童", "老汉", "大爷", "大妈", "小伙", "女生", "男生", "师生", "群众",
    ),
    "harm": (
        "死", "伤", "血", "亡", "尸", "命", "杀", "撞", "砍", "捅", "殴", "打伤", "打死", "重伤", "身亡",
        "中毒", "送医", "被打", "昏迷", "骨折", "流血", "鲜血", "头部", "抢救", "耳光", "推倒", "打骂",
        "扇", "踢", "打他", "打她", "阉割", "掉进", "被害", "晕倒", "逼供", "去世", "吞",
    ),
    "slang": (
        "笑死", "累死", "死倔", "气死", "吓死", "热死", "冷死", "困死", "烦死", "忙死", "痛死", "疼死",
        "萌死", "帅死", "美死", "想死", "死了都要", "要死", "找死", "该死", "死党", "死机", "死心", "死忠",
        "死磕", "死宅", "死活", "伤心", "伤感", "心碎", "受伤的心", "易伤人", "爱死", "恨死", "作死",
        "拼死", "至死", "生死", "半死", "死去活来", "饿死了", "冻成狗", "中枪", "受伤害", "伤不起",
        "致命伤", "致命的", "死穴", "不死", "死都", "去死", "死也", "死性",
        # idioms that hold 死 or 伤 and tell of no harm (「医生的天职是救死扶伤，这家医院却见死不救」
        # was read as a report of deaths)
        "救死扶伤", "见死不救", "出生入死", "贪生怕死", "视死如归", "死而后已", "起死回生", "伤天害理",
        "两败俱伤", "伤脑筋", "伤和气", "伤自尊", "伤感情", "中伤", "死记硬背", "死胡同", "死板",
    ),
    "horoscope": (
        "星座", "白羊", "金牛座", "双子座", "巨蟹", "狮子座", "处女座", "天秤", "天蝎", "射手座", "摩羯",
        "水瓶", "双鱼", "运势", "性格", "血型", "属相", "生肖",
    ),
    "promo": (
        "新书", "出版", "上市", "热卖", "包邮", "淘宝", "微店", "代购", "预订", "报名", "招聘", "抽奖",
        "关注", "优惠", "折扣", "广告", "小说", "电影", "剧", "故事", "演唱会", "节目", "首映", "签售",
        "读者", "作者", "粉丝", "专辑", "主演", "导演",
    ),
    "advice": (
        "提醒", "注意", "千万", "一定要", "不要", "知道吗", "原来", "你知道", "常识", "方法", "技巧", "秘诀",
        "小贴士", "建议", "养生", "健康", "如何", "怎样", "应该", "学会", "预防", "误区", "危害", "食物",
        "如果", "假如", "人生", "幸福", "爱情", "朋友", "生活", "心情", "其实", "我们", "你们", "每个人",
        "自己", "总是",
    ),
    "joke": ("哈哈", "呵呵", "笑话", "段子", "搞笑", "神回复", "逗", "萌", "囧", "吐槽", "无语"),
    "history": (
        "历史", "当年", "回顾", "周年", "纪念", "抗战", "文革", "民国", "清朝", "古代", "二战", "年前",
        "那年", "曾经", "去世", "逝世", "病逝", "癌", "心脏病", "享年", "终年",
    ),
    "opinion": (
        "我认为", "我觉得", "评论", "观点", "为什么", "难道", "凭什么", "呼吁", "社会", "中国人", "国人",
        "制度", "体制", "政府应", "应当", "值得", "可悲", "悲哀", "讽刺", "反思",
    ),
    "medical": (
        "医院", "医生", "护士", "医护", "患者", "病人", "手术", "诊所", "卫生", "医疗", "住院", "病房",
        "产妇", "新生儿", "卫生局", "卫计委", "急诊", "院方", "主任医师", "治疗",
    ),
    "education": (
        "学校", "老师", "教师", "学生", "幼儿园", "小学", "中学", "大学", "高校", "校长", "班主任", "校园",
        "教育局", "高考", "考试", "同学", "幼师", "学院", "师生", "校方",
    ),
    "food_drug": (
        "食品", "奶粉", "牛奶", "食物", "疫苗", "药品", "药", "饮料", "餐馆", "饭店", "食堂", "肉", "油",
        "米", "蔬菜", "添加剂", "食用", "吃了", "喝了", "中毒", "超市", "零食", "方便面", "酒",
    ),
    "accident_disaster": (
        "事故", "车祸", "火灾", "爆炸", "地震", "洪水", "台风", "坍塌", "塌方", "失火", "起火", "大巴",
        "客车", "货车", "列车", "航班", "飞机", "高铁", "动车", "船", "矿", "遇难", "救援", "暴雨", "泥石流",
    ),
    "crime_security": (
        "警方", "警察", "公安", "派出所", "民警", "嫌疑人", "歹徒", "凶手", "杀人", "抢劫", "拐卖", "绑架",
        "被抓", "刑拘", "逮捕", "报警", "失踪", "寻人", "走失", "诈骗", "强奸", "砍人", "持刀",
    ),
    "environment": (
        "污染", "排污", "化工", "PX", "px", "雾霾", "环保", "环境", "废水", "废气", "垃圾", "河流",
        "水源", "死鱼", "重金属", "镉", "排放",
    ),
    "official_conduct": (
        "官员", "书记", "局长", "县长", "市长", "镇长", "乡长", "区长", "省长", "干部", "城管", "政府",
        "纪委", "领导", "公务员", "官方", "拆迁", "强拆", "信访", "上访", "维稳", "执法",
        "副局长", "副市长", "处长", "厅长", "主任", "腐败", "贪官",
    ),
}
# fmt: on

# Counted or caused harm, and the dates and clock times that pin a report to one occurrence.
_NUM = r"[\d一二两三四五六七八九十百千几数多余]"
_CUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "re:counted_harm": re.compile(
        _NUM + r"+(?:名|个|位|人|具|户|口)[^，。！？；\s\x00]{0,6}?"
        r"(?:死亡|遇难|身亡|丧生|罹难|受伤|伤亡|重伤|轻伤|遇害|死|伤|中毒|送医|被困|失踪|失联|溺亡)"
    ),
    "re:n_dead_n_hurt": re.compile(
        r"(?:致|造成|导致|酿|已)" + _NUM + r"+人?(?:死|伤|亡)|" + _NUM + r"+死" + _NUM + r"+伤"
    ),
    "re:caused_harm": re.compile(
        r"(?:造成|导致|致使|致|酿成|引发)[^，。！？；\x00]{0,10}?"
        r"(?:死亡|身亡|受伤|伤亡|遇难|丧生|重伤|轻伤|伤残|殒命|中毒|昏迷|骨折)"
    ),
    "re:done_harm": re.compile(
        r"被[^，。！？；\s\x00]{0,6}?(?:打死|砍死|撞死|杀害|捅死|砸死|烧死|杀死|刺死|压死|勒死|毒死|炸死|"
        r"打伤|砍伤|撞伤|刺伤|烧伤|捅伤|砸伤|打成|殴打|毒打|撞飞|撞倒)"
    ),
    "re:died_after": re.compile(
        r"(?:抢救无效|不治|当场|最终|经抢救)[^，。！？；\x00]{0,4}?"
        r"(?:死亡|身亡|离世|去世)"
    ),
    "re:date": re.compile(
        r"\d{1,2}月\d{1,2}[日号]|"
        r"[\d一二三四五六七八九十]{1,3}[日号](?:上午|下午|晚|凌晨|早|中午|傍晚|夜)"
    ),
    "re:clock": re.compile(r"\d{1,2}(?:时|点)(?:许|左右|\d{1,2}分)|\d{1,2}[:：]\d{2}"),
    "re:place": re.compile(r"[\u4e00-\u9fff]{2,5}(?:省|市|县|区|镇|乡|村|路|街)"),
    "re:old_year": re.compile(r"(?:1[0-9]|200)\d年"),
}
_MISC = ("question", "exclaim", "emoticons", "length")
# Harm patterns that pass the lexicon's negation guard.
_GUARDED_PATTERNS = frozenset({"re:counted_harm", "re:n_dead_n_hurt", "re:caused_harm", "re:died_after"})

CUE_NAMES: tuple[str, ...] = (
    *(f"flag:{f}" for f in LEXICON),
    *(f"cue:{c}" for c in CUES),
    *_CUE_PATTERNS,
    "re:headline",
    *_MISC,
)

# Cues that state harm; a post with none of them never gets ``casualties``.
HARM_EVIDENCE: tuple[str, ...] = (
    "flag:casualties",
    "cue:harm",
    "re:counted_harm",
    "re:n_dead_n_hurt",
    "re:caused_harm",
    "re:done_harm",
    "re:died_after",
)

# Words that put the public at large at risk, by kind (the guide's public-safety kinds: disasters,
# fires, explosions, collapses, transport accidents, epidemics, toxic leaks and pollution, food and
# drug safety, violence in public places and its rumoured warnings, mass incidents, and the public
# addressed or counted). A post with none of them never gets ``public_safety``: one patient's death
# after an infusion, a hospital queue or a family quarrel concerns only the people involved, however
# alarming the wording. Each kind is also a feature of the public_safety head
# (:func:`public_kind_features`).
# fmt: off
PUBLIC_KINDS: dict[str, tuple[str, ...]] = {
    "disaster": (
        "地震", "余震", "震中", "震级", "强震", "洪水", "洪灾", "洪涝", "发大水", "水灾", "内涝", "山洪",
        "决堤", "溃坝", "泥石流", "滑坡", "塌方", "台风", "暴雨", "暴雪", "雪灾", "冰雹", "海啸", "龙卷风",
        "旱灾", "灾区", "灾民", "受灾", "救灾", "灾情", "赈灾", "抗洪", "抢险", "险情", "伤员", "疏散",
        "遇难", "被困", "被埋", "雅安", "芦山", "玉树", "汶川", "舟曲",
    ),
    # fires, explosions, collapses
    "fire_explosion": (
        "火灾", "大火", "起火", "失火", "着火", "火情", "火警", "浓烟", "纵火", "爆炸", "爆燃", "闪爆",
        "炸药", "炸毁", "坍塌", "垮塌", "倒塌", "塌陷", "断裂",
    ),
    # transport and workplace accidents
    "transport": (
        "坠毁", "坠机", "失联", "迫降", "航班", "客机", "飞机", "列车", "火车", "动车", "高铁", "脱轨",
        "相撞", "追尾", "侧翻", "翻车", "坠河", "坠崖", "坠江", "大巴", "客车", "校车", "公交", "地铁",
        "轻轨", "沉船", "翻沉", "沉没", "客轮", "渡轮", "矿难", "透水", "瓦斯", "车祸", "交通事故",
        "安全事故", "生产事故", "踩踏",
    ),
    "epidemic": (
        "疫情", "禽流感", "H7N9", "H1N1", "非典", "SARS", "传染", "感染", "病毒", "确诊", "病例", "疑似",
        "隔离", "疫苗", "狂犬", "霍乱", "鼠疫", "流感", "手足口", "瘟疫", "炭疽",
    ),
    # toxic leaks and pollution
    "toxic": (
        "泄漏", "泄露", "毒气", "有毒", "剧毒", "有害", "污染", "排污", "偷排", "水源", "自来水", "饮用水",
        "雾霾", "化工", "PX", "核电", "核泄漏", "辐射", "死鱼", "死猪", "重金属", "镉", "砷", "恶臭", "蓝藻",
        "毒地", "癌症村", "危化品",
    ),
    # food and drug safety
    "food_safety": (
        "食物中毒", "集体中毒", "煤气中毒", "一氧化碳", "食品安全", "食安", "致癌", "致病", "添加", "地沟油",
        "瘦肉精", "三聚氰胺", "苏丹红", "毒奶", "奶粉", "假药", "劣药", "农药", "违禁", "激素", "流入市场",
        "超标", "不合格", "问题食品", "黑心", "奸商", "消费者", "吃出", "异物", "变质", "过期", "发霉",
        "霉变", "蛆", "细菌", "寄生虫", "病死猪", "注水肉", "僵尸肉", "三无", "假冒伪劣", "呕吐", "腹泻",
        "上吐下泻", "召回", "不良反应", "催肥", "饲料",
    ),
    # violence in public places, and the warnings that rumour it
    "public_violence": (
        "恐怖", "袭击", "枪击", "枪战", "砍人", "持刀", "行凶", "歹徒", "劫持", "投毒", "人贩", "拐卖",
        "拐骗", "拐走", "被拐", "抱走", "团伙", "割肾", "肾", "迷药", "迷晕", "晕倒", "眩晕", "晕过去",
        "人口贩子", "口鼻", "隐翅虫", "马拉松", "超市", "商场", "家乐福", "大润发", "沃尔玛", "救援",
    ),
    "mass_incident": (
        "群体性", "群体事件", "骚乱", "暴乱", "打砸", "罢工", "游行", "示威", "冲突", "聚集", "围堵", "封锁",
        "封路", "被封", "戒严",
    ),
    # the public addressed or counted
    "public_addressed": (
        "大家小心", "务必小心", "注意安全", "提醒大家", "谨防", "小心", "警惕", "千万不要", "不要吃",
        "不要喝", "多名", "数十", "上百", "数百", "几十", "多人", "上千", "数千", "公共场所",
    ),
}
# fmt: on
PUBLIC_EVIDENCE: tuple[str, ...] = tuple(w for words in PUBLIC_KINDS.values() for w in words)
# One feature per kind of public threat (:func:`public_kind_features`).
PUBLIC_KIND_NAMES: tuple[str, ...] = tuple(f"public:{k}" for k in PUBLIC_KINDS)
# fmt: off
# Longer words around an evidence word that name no public threat (with the lexicon's shadows).
_PUBLIC_SHADOWS: tuple[str, ...] = (
    "医疗事故", "医疗纠纷", "感染科", "病毒性", "小心翼翼", "不小心", "冲突解决", "添加好友", "添加微信",
)
# fmt: on

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
# Texts scored per numpy batch (see sentiment.py): amortises numpy calls, bounds memory.
_CHUNK = 2048


class _CueAutomaton:
    """The lexicon, its shadows and the cue groups in one Aho-Corasick automaton.

    A lexicon term keeps its own flag (the first category listed wins, as in the sensitivity
    matcher) and passes the sensitivity negation guard; cue words are counted as they stand.
    """

    def __init__(self) -> None:
        group_of: dict[str, int] = {}
        groups = [*(f"flag:{f}" for f in LEXICON), *(f"cue:{c}" for c in CUES)]
        for g, group_terms in enumerate([*LEXICON.values(), *CUES.values()]):
            for term in group_terms:
                group_of.setdefault(term, g)
        for term in SHADOWS:
            group_of.setdefault(term, -1)
        terms = list(group_of)
        column = {name: i for i, name in enumerate(CUE_NAMES)}
        # Column of each term's group, -1 for shadows; whether the negation guard applies.
        self.columns = np.array(
            [column[groups[group_of[t]]] if group_of[t] >= 0 else -1 for t in terms], dtype=np.int64
        )
        self.guarded = np.array([0 <= group_of[t] < len(LEXICON) for t in terms], dtype=np.bool_)
        self.automaton = ahocorasick_rs.AhoCorasick(terms, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)


@lru_cache(maxsize=1)
def _cue_automaton() -> _CueAutomaton:
    return _CueAutomaton()


@lru_cache(maxsize=1)
def _public_automaton() -> tuple[Any, npt.NDArray[np.int64]]:
    """The public-evidence words, their shadows and the lexicon's; the kind of each term (its
    index in :data:`PUBLIC_KINDS`), -1 for a shadow."""
    kind_of: dict[str, int] = {}
    for k, words in enumerate(PUBLIC_KINDS.values()):
        for w in words:
            kind_of.setdefault(w, k)
    terms = list(dict.fromkeys([*PUBLIC_EVIDENCE, *_PUBLIC_SHADOWS, *SHADOWS]))
    kinds = np.array([kind_of.get(t, -1) for t in terms], dtype=np.int64)
    automaton = ahocorasick_rs.AhoCorasick(terms, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
    return automaton, kinds


# Words of a rebuttal (辟谣): the post says the claimed occurrence did not happen. Not after
# 「不是」「并非」…: 「这不是谣言」 insists it did; and not a wish for one (「假的希望辟谣」).
_DENIAL = re.compile(
    r"(?<!不是)(?<!并非)(?<!绝非)(?<!不属)(?<!不)"
    r"(?:【辟谣】|(?<!求)辟谣[：:]|特此辟谣|官方辟谣|警方辟谣|予以辟谣|未发生此事|并未发生|没有发生此事|不存在此事|纯属谣言|纯属捏造|纯属虚构|系谣言|属谣言|是谣言|"
    r"假消息|虚假消息|虚假信息|系不实消息|系不实信息|[为是属]不实(?:信息|消息|传言)|均为不实|消息不实|信息不实|传言不实|"
    r"与事实不符|子虚乌有|毫无关系|此事不实|未(?:收到|接到)[^，。；！？]{0,20}病例的?报告)"
)


def denies(text: str) -> bool:
    """Whether a (normalised) post rebuts the occurrence it names (:data:`_DENIAL`)."""
    return _DENIAL.search(text) is not None


# A rebuttal an event can be judged by: only the words an official rebuttal uses of the claim
# itself. Not the warnings an official report of real deaths ends with (「请勿传播虚假信息」,
# 「对散布虚假消息者依法追究」), nor 「假消息」「是谣言」 which a question or a retort uses too.
_REBUTTAL = re.compile(
    r"(?<!不是)(?<!并非)(?<!绝非)(?<!不属)(?<!不)"
    r"(?:【辟谣】|(?<!求)辟谣[：:]|特此辟谣|予以辟谣|未发生此事|并未发生|没有发生此事|不存在此事|纯属谣言|"
    r"纯属捏造|纯属虚构|系谣言|系不实消息|系不实信息|[为属]不实(?:信息|消息|传言)|均为不实|传言不实|此事不实|"
    r"与事实不符|子虚乌有)"
)


def rebuts(text: str) -> bool:
    """Whether a post rebuts the occurrence it names in the words of a rebuttal (:data:`_REBUTTAL`):
    what takes an event's claimed deaths off when an official account says it."""
    return _REBUTTAL.search(text) is not None


# An official account quoted in a repost chain: 「@永康发布：经查证，永康市中医院未发生此事」 relays
# the city's own rebuttal, whoever reposts it. Government and media accounts are named so: a
# city's 发布, its police (公安, 警方, 网警), its offices and its papers and stations.
_OFFICIAL_QUOTE = re.compile(
    r"@([\u4e00-\u9fff]{2,12}?(?:发布|公安|警方|网警|公安局|分局|派出所|政府|政务|卫生局|卫生厅|卫计委|卫健委|"
    r"教育局|教育厅|食药监|市场监管|日报|晚报|早报|新闻|电视台|广播电台))\s*[:：]([^@]*?)(?://@|$)"
)


def relays_official_rebuttal(text: str) -> bool:
    """Whether the post quotes an official account's rebuttal (:data:`_OFFICIAL_QUOTE`): the
    account's own words, after its name in the chain, are a rebuttal."""
    return any(_REBUTTAL.search(m.group(2)) for m in _OFFICIAL_QUOTE.finditer(text))


def public_evidence(texts: Sequence[str]) -> BoolArray:
    """Whether each normalised text names a threat to the public (:data:`PUBLIC_EVIDENCE`)."""
    out: BoolArray = np.asarray((public_kind_features(texts) > 0).any(axis=1))
    return out


def public_kind_features(texts: Sequence[str]) -> FloatArray:
    """How often each normalised text names each kind of public threat (:data:`PUBLIC_KINDS`),
    ``log1p`` of the count, shape ``(len(texts), len(PUBLIC_KINDS))``: inputs of the stacked
    heads named in ``StackedHeads.public_inputs``. One automaton pass over the batch joined with
    NUL separators; longest match wins, so a shadow (不小心, 医疗事故) hides the evidence word
    inside it."""
    n = len(texts)
    out = np.zeros((n, len(PUBLIC_KINDS)), dtype=np.float32)
    if n == 0:
        return out
    automaton, kinds = _public_automaton()
    joined = "\x00".join(texts) + "\x00"
    found = automaton.find_matches_as_indexes(joined)
    if found:
        hits = np.array(found, dtype=np.int64)
        k = kinds[hits[:, 0]]
        keep = k >= 0
        lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=n)
        offsets = np.zeros(n, dtype=np.int64)
        offsets[1:] = np.cumsum(lengths[:-1])
        docs = np.searchsorted(offsets, hits[keep, 1], side="right") - 1
        np.add.at(out, (docs, k[keep]), 1.0)
        np.log1p(out, out=out)
    return out


def harm_evidence(cues: FloatArray) -> BoolArray:
    """Whether each row of :func:`cue_features` states harm at all (:data:`HARM_EVIDENCE`)."""
    out: BoolArray = np.asarray((cues[:, [CUE_NAMES.index(c) for c in HARM_EVIDENCE]] > 0).any(axis=1))
    return out


def cue_features(normalised: Sequence[tuple[str, list[str]]]) -> FloatArray:
    """Dense cue features, shape ``(len(normalised), len(CUE_NAMES))``, from :func:`normalise` output.

    The batch is joined with NUL separators and scanned once by the automaton and once by each
    pattern (none of them crosses a NUL); matches are binned to their text with ``searchsorted``.
    Counts are squashed with ``log1p`` so that a long post full of one word does not dominate.
    """
    n = len(normalised)
    out = np.zeros((n, len(CUE_NAMES)), dtype=np.float32)
    if n == 0:
        return out
    texts = [t for t, _ in normalised]
    joined = "\x00".join(texts) + "\x00"
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=n)
    offsets = np.zeros(n, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths[:-1])
    column = {name: i for i, name in enumerate(CUE_NAMES)}
    cues = _cue_automaton()
    found = cues.automaton.find_matches_as_indexes(joined)
    if found:
        hits = np.array(found, dtype=np.int64)
        cols = cues.columns[hits[:, 0]]
        keep = cols >= 0
        guarded = np.flatnonzero(keep & cues.guarded[hits[:, 0]])
        # Only lexicon terms need the clause-level negation test (a Python call per hit).
        for i in guarded.tolist():
            if _negated(joined, int(hits[i, 1])):
                keep[i] = False
        docs = np.searchsorted(offsets, hits[keep, 1], side="right") - 1
        np.add.at(out, (docs, cols[keep]), 1.0)
    for name, pattern in _CUE_PATTERNS.items():
        starts = [m.start() for m in pattern.finditer(joined)]
        if name in _GUARDED_PATTERNS:
            # 「未造成人员伤亡」 states no harm, as the lexicon's guard says for 人员伤亡.
            starts = [i for i in starts if not _negated(joined, i)]
        if starts:
            docs = np.searchsorted(offsets, np.asarray(starts, dtype=np.int64), side="right") - 1
            np.add.at(out[:, column[name]], docs, 1.0)
    out[:, column["re:headline"]] = [t.lstrip()[:1] in ("【", "#") for t in texts]
    out[:, column["question"]] = [t.count("?") + t.count("？") for t in texts]
    out[:, column["exclaim"]] = [t.count("!") + t.count("！") for t in texts]
    out[:, column["emoticons"]] = [len(e) for _, e in normalised]
    out[:, column["length"]] = (lengths - 1) / 100.0
    np.log1p(out, out=out)
    return out


@dataclass(frozen=True)
class Incident:
    """What the model says about one post. ``score`` is the probability that it is an incident."""

    incident: bool
    casualties: bool
    public_safety: bool
    domain: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        """``{"incident", "casualties", "public_safety", "domain", "score"}`` for JSON."""
        return {
            "incident": self.incident,
            "casualties": self.casualties,
            "public_safety": self.public_safety,
            "domain": self.domain,
            "score": round(self.score, 4),
        }

    def as_reaction(self) -> Incident:
        """The same post read as a reaction (:func:`is_reaction`): no incident, no flag, score 0;
        the domain stays (it still says what the post is about)."""
        return Incident(False, False, False, self.domain, 0.0)

    def as_reply(self) -> Incident:
        """The same post read as a repost, comment or reply with words of its own: it reports the
        occurrence when it states casualties or its incident score reaches
        :data:`REPLY_INCIDENT_MIN`, and never carries public safety (:data:`REPLY_INCIDENT_MIN`
        says why)."""
        if not self.incident or (self.score < REPLY_INCIDENT_MIN and not self.casualties):
            return self.as_reaction()
        return Incident(True, self.casualties, False, self.domain, self.score)


# A repost's, comment's or reply's own words (before the quoted chain 「//@」, without mentions,
# emoticons and links) shorter than this are a reaction — 「转一发！」, 「祈祷」, 「死城管」,
# 「不会为了所谓WTO精神而让人民中毒」 — not a report of an occurrence: the model was trained on
# original posts, and read alone such reactions look like incidents to it (in the 300,000-row demo
# 2,463 reposts against 191 originals were called incidents, among them 「警察，警察」). The report
# they react to counts through its own post. Longer own words are read as a post of their own.
REACTION_MAX_CHARS = 30
# A longer repost, comment or reply is read as a report only with more certainty than an original:
# on 240 such posts of the CED dev file that the model called incidents (drawn evenly by score from
# 0.4 to 1.0, labelled here against GUIDE.md, weighted back to the score distribution of 1,532), half
# reported no occurrence (opinions, rhetorical questions, 「不吃就早点死…吃了就慢慢死」). Reading one
# as a report when it states casualties or scores at least 0.8 took incident precision from 0.49 to
# 0.75 at recall 0.86 (F1 0.66 → 0.80); casualties stay as the model says (P 0.81, R 0.89).
# Public safety read on them was wrong three times in four (P 0.27): a reply never carries it, the
# reports it reacts to do.
REPLY_INCIDENT_MIN = 0.8
REPLY_KINDS = frozenset({"repost", "comment", "reply"})
_OWN_NOISE = re.compile(r"@[^\s:：,，。!！?？@/]+|\[[^\[\]\s]{1,10}\]|https?://\S+|www\.\S+")
_QUOTED = re.compile(r"//@|(?:^|\n)[ \t]*-[ \t]*转发[ \t]*@")
# Weibo's share button: 「推荐@想房事儿 的帖子《高校又出凶杀案…》，大家也来看看吧～」 quotes the title of
# another's post in words nobody typed (557 reposts of the CED dev file). The title is the quoted
# report, not the sharer's: six such shares counted as six reports of deaths for the demo's 浙工大.
_SHARED = re.compile(
    r"(?:推荐\s*)?(?:@[^\s《]{1,30}\s*的(?:帖子|微博))?\s*《[^《》]*》\s*[，,]?\s*大家也来看看吧\s*[～~]?"
    r"|(?:推荐\s*)?@[^\s《]{1,30}\s*的帖子\s*《[^《》]*》"
)
_WORD_CHAR = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")


def own_words(text: str) -> str:
    """The words a repost or comment adds itself: before the first 「//@」 (the quoted chain) or
    RSSHub's 「- 转发 @」 line (the quoted original of a Weibo repost), without the share
    button's 「推荐@… 的帖子《…》，大家也来看看吧～」, mentions, emoticon tags and links."""
    return _OWN_NOISE.sub(" ", own_part(text))


def own_part(text: str) -> str:
    """What a repost or comment says itself, as written (emoticon tags such as 「[蜡烛]」 and
    mentions kept): before the quoted chain, without the share button's template."""
    return without_share_button(_QUOTED.split(text, 1)[0]).strip()


def without_share_button(text: str) -> str:
    """The text without Weibo's share-button template (「推荐@… 的帖子《…》，大家也来看看吧～」): what a
    repost or comment is read on, since the quoted title is the shared post's words, not the
    sharer's (「如果是我，肯定会放手…推荐@想房事儿 的帖子《高校又出凶杀案…》」 read as a report of a
    death)."""
    return _SHARED.sub(" ", text) if "《" in text else text


def is_reaction(kind: str, text: str) -> bool:
    """Whether a post is a reaction, not a report: a repost, comment or reply whose own words are
    fewer than :data:`REACTION_MAX_CHARS` letters (Chinese characters, Latin letters, digits)."""
    if kind not in REPLY_KINDS:
        return False
    return len(_WORD_CHAR.findall(own_words(text))) < REACTION_MAX_CHARS


def _sigmoid(x: npt.NDArray[np.floating[Any]]) -> FloatArray:
    out: FloatArray = (1.0 / (1.0 + np.exp(-np.clip(x, -30.0, 30.0)))).astype(np.float32)
    return out


@dataclass(frozen=True)
class StackedHeads:
    """The second-level heads: coefficients over ``[n-gram logit(s), (incident logit), cues,
    (public kinds)]``.

    ``incident``/``casualties``/``public_safety`` are vectors (last entry the intercept);
    ``domain`` is a matrix with one row per domain (last column the intercept). The heads named
    in ``public_inputs`` also read :func:`public_kind_features` (after the cues).
    """

    incident: FloatArray
    casualties: FloatArray
    public_safety: FloatArray
    domain: FloatArray
    thresholds: dict[str, float]
    public_inputs: tuple[str, ...] = ()


def stacked_logits(
    z: FloatArray, cues: FloatArray, heads: StackedHeads, kinds: FloatArray | None = None
) -> dict[str, FloatArray]:
    """Second-level logits from n-gram logits ``z`` (columns of :data:`NGRAM_HEADS`), cues and,
    for the heads of ``heads.public_inputs``, the public kinds (:func:`public_kind_features`).

    Shared by the runtime and the training code, so both build the same design rows.
    """
    ones = np.ones((z.shape[0], 1), dtype=np.float32)
    if heads.public_inputs and kinds is None:
        raise ValueError("these stacked heads read the public kinds")

    def extra(name: str) -> list[FloatArray]:
        return [kinds] if kinds is not None and name in heads.public_inputs else []

    inc = np.hstack([z[:, :1], cues, *extra("incident"), ones]) @ heads.incident
    inc_col = inc[:, None].astype(np.float32)
    out = {"incident": inc.astype(np.float32)}
    for k, name in ((1, "casualties"), (2, "public_safety")):
        coef = heads.casualties if name == "casualties" else heads.public_safety
        design = np.hstack([z[:, k : k + 1], inc_col, cues, *extra(name), ones])
        out[name] = (design @ coef).astype(np.float32)
    # Domain n-gram logits relative to their row mean: on a text unlike the training posts every
    # head is low, and the level itself says nothing about which domain it is.
    zd = z[:, 3:] - z[:, 3:].mean(axis=1, keepdims=True)
    design = np.hstack([zd, inc_col, cues, ones])
    out["domain"] = (design @ heads.domain.T).astype(np.float32)
    return out


class IncidentModel:
    """The shipped incident model. Build it with :meth:`load`; immutable and thread-safe."""

    def __init__(self, spec: FeatureSpec, weights: FloatArray, bias: FloatArray, heads: StackedHeads) -> None:
        if weights.shape != (spec.n_buckets + 1, len(NGRAM_HEADS)) or bias.shape != (len(NGRAM_HEADS),):
            raise ValueError("incident model: weight shape does not match its metadata")
        n_cues = len(CUE_NAMES)
        n_kinds = len(PUBLIC_KIND_NAMES)
        if any(
            getattr(heads, name).shape
            != (n_cues + (2 if name == "incident" else 3) + n_kinds * (name in heads.public_inputs),)
            for name in FLAG_HEADS
        ) or heads.domain.shape != (
            len(DOMAINS),
            len(DOMAINS) + n_cues + 2,
        ):
            raise ValueError("incident model: stacked heads do not match this version's cue features")
        self.spec = spec
        self.heads = heads
        self._weights = weights
        self._bias = bias

    @classmethod
    def load(cls, path: str | Path | None = None) -> IncidentModel:
        """Load a model file; by default the one shipped in ``yuqing/analysis/models/``."""
        if path is None:
            data = resources.files("yuqing.analysis").joinpath("models/incidents.npz").read_bytes()
            source: Any = io.BytesIO(data)
        else:
            source = Path(path)
        try:
            with np.load(source, allow_pickle=False) as npz:
                meta = json.loads(bytes(npz["meta"]).decode("utf-8"))
                quantised = npz["weights"]
                scale = npz["scale"].astype(np.float32)
                bias = npz["bias"].astype(np.float32)
            spec = FeatureSpec(bits=int(meta["features"]["bits"]), orders=tuple(meta["features"]["orders"]))
            if tuple(meta["cues"]) != CUE_NAMES or tuple(meta["ngram_heads"]) != NGRAM_HEADS:
                raise ValueError("cue features or heads differ from this version of the code")
            public_inputs = tuple(meta.get("public_inputs", ()))
            if public_inputs and tuple(meta["public_kinds"]) != PUBLIC_KIND_NAMES:
                raise ValueError("public kinds differ from this version of the code")
            stacked = meta["stacked"]
            heads = StackedHeads(
                incident=np.asarray(stacked["incident"], dtype=np.float32),
                casualties=np.asarray(stacked["casualties"], dtype=np.float32),
                public_safety=np.asarray(stacked["public_safety"], dtype=np.float32),
                domain=np.asarray(stacked["domain"], dtype=np.float32),
                thresholds={k: float(v) for k, v in meta["thresholds"].items()},
                public_inputs=public_inputs,
            )
        except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not an incident model file: {path or 'shipped model'}: {exc}") from exc
        # int8 weights with one scale per head; the last row (windows across texts) stays zero.
        weights = np.zeros((spec.n_buckets + 1, quantised.shape[1]), dtype=np.float32)
        weights[: quantised.shape[0]] = quantised.astype(np.float32) * scale
        weights[spec.n_buckets] = 0.0
        return cls(spec, weights, bias, heads)

    def ngram_logits(self, normalised: Sequence[tuple[str, list[str]]]) -> FloatArray:
        """First-level logits, shape ``(len(normalised), len(NGRAM_HEADS))``."""
        parts = [
            featurise((), self.spec, normalised=normalised[i : i + _CHUNK]).dot(self._weights)
            for i in range(0, len(normalised), _CHUNK)
        ]
        if not parts:
            return np.zeros((0, self._bias.size), dtype=np.float32)
        out: FloatArray = np.concatenate(parts) + self._bias
        return out

    def probabilities(self, texts: Sequence[str]) -> dict[str, FloatArray]:
        """Probabilities per text: ``incident``, ``casualties``, ``public_safety`` (each ``(n,)``)
        and ``domain`` (``(n, len(DOMAINS))``), before thresholds and the implication rule."""
        return self._scores([normalise(t) for t in texts])[0]

    def _scores(
        self, normalised: Sequence[tuple[str, list[str]]]
    ) -> tuple[dict[str, FloatArray], BoolArray, BoolArray | None]:
        """Probabilities, whether each text states harm at all (see :data:`HARM_EVIDENCE`) and,
        when the heads read the public kinds, whether it names a threat to the public
        (:data:`PUBLIC_EVIDENCE`; else None, and :meth:`predict` scans its candidates)."""
        cues = cue_features(normalised)
        kinds = public_kind_features([t for t, _ in normalised]) if self.heads.public_inputs else None
        logits = stacked_logits(self.ngram_logits(normalised), cues, self.heads, kinds)
        evidence = harm_evidence(cues)
        public = None if kinds is None else np.asarray((kinds > 0).any(axis=1))
        dom = logits["domain"] - logits["domain"].max(axis=1, keepdims=True)
        expd = np.exp(dom)
        probabilities = {
            "incident": _sigmoid(logits["incident"]),
            "casualties": _sigmoid(logits["casualties"]),
            "public_safety": _sigmoid(logits["public_safety"]),
            "domain": (expd / expd.sum(axis=1, keepdims=True)).astype(np.float32),
        }
        return probabilities, evidence, public

    def predict(self, texts: Sequence[str]) -> list[Incident]:
        """One :class:`Incident` per raw post text.

        A flag is raised at its threshold (chosen by cross-validation); casualties and
        public_safety need the incident decision too, so they never stand without it, and
        casualties needs a stated harm (:data:`HARM_EVIDENCE`): a bribe at a hospital reads
        like a medical incident, but nobody was hurt; public_safety needs a word of a threat to
        the public (:data:`PUBLIC_EVIDENCE`): one patient's death is not a public threat.
        """
        normalised = [normalise(t) for t in texts]
        p, evidence, public = self._scores(normalised)
        t = self.heads.thresholds
        incident = p["incident"] >= t["incident"]
        casualties = (p["casualties"] >= t["casualties"]) & incident & evidence
        # A confident public_safety score raises a post whose incident probability reaches only
        # the lower ``public_safety_incident`` cut (a public threat told in few words:
        # 「银川附属医院已经有一例禽流感病例，确诊了。」); such a post becomes an incident too.
        public_safety = (p["public_safety"] >= t["public_safety"]) & (
            p["incident"] >= min(t["incident"], t.get("public_safety_incident", t["incident"]))
        )
        if public is not None:
            public_safety &= public
        else:
            # Only the few candidates are scanned for public evidence.
            candidates = np.flatnonzero(public_safety)
            if candidates.size:
                public_safety[candidates] = public_evidence([normalised[i][0] for i in candidates.tolist()])
        # A denial states that nobody died and nothing threatens anyone: 「经查证，永康市中医院未发生
        # 此事」 (an official rebuttal) and 「…的假消息在网络疯传…此事与新余市毫无关系」 name the
        # claimed deaths only to deny them.
        flagged = np.flatnonzero(casualties | public_safety)
        for i in flagged.tolist():
            if denies(normalised[i][0]):
                casualties[i] = public_safety[i] = False
        incident |= public_safety
        domain = p["domain"].argmax(axis=1)
        return [
            Incident(bool(i), bool(c), bool(s), DOMAINS[int(d)], min(1.0, max(0.0, float(sc))))
            for i, c, s, d, sc in zip(
                incident.tolist(),
                casualties.tolist(),
                public_safety.tolist(),
                domain.tolist(),
                p["incident"].tolist(),
                strict=True,
            )
        ]
