"""Sensitivity lexicon: incident terms that make a post "negative for the unit" whatever its tone.

A polarity model reads 某医院发生医疗事故 or 某地发生塌方 as neutral — the sentences are flat. In
舆情 work they are exactly what must be caught, so a curated lexicon raises flags beside polarity:

============================  ===========================================================
flag                          covers
============================  ===========================================================
``casualties``                deaths, injuries, missing people (死亡, 遇难, 受伤, 伤亡, 失联)
``public_safety``             fires, explosions, collapses, leaks, stampedes, traffic and
                              mine accidents, floods and quakes, violent attacks
``food_drug_safety``          food poisoning, spoiled or adulterated food, fake drugs,
                              problem vaccines, failed inspections
``corruption``                bribery, embezzlement, abuse of office, disciplinary probes
``mass_incident``             gatherings, blockades, petitions, strikes, banners, protests
``medical_dispute``           malpractice, misdiagnosis, violence against medical staff
``education``                 bullying, abuse of pupils, exam fraud, illegal school fees
``official_misconduct``       inaction, rough law enforcement, forced demolition, privilege
``public_health``             epidemics and outbreaks (疫情暴发, 聚集性疫情, 传染病)
``environment``               pollution, illegal discharge, dead fish, toxic smells
``crime``                     murder, robbery, sexual assault, fraud, trafficking, gangs
============================  ===========================================================

Terms name events, not topics: 食品安全事故 and 抽检不合格 are flags, 食品安全 alone is not (a
notice that every sample passed is not an incident); 问题疫苗 is, 疫苗 is not.

All terms are matched in one pass with Aho-Corasick (leftmost-longest, so 人员伤亡 wins over 伤亡
and 聚集性疫情 over 聚集). A match is dropped when the clause before it ends in a negation after
stripping filler words: 未造成人员伤亡, 无人员伤亡, 暂无人受伤, 没有发现食物中毒 raise nothing,
nor do 没被饿死 and 没有被撞伤 (被 is a filler), while 无辜群众受伤 still does (无辜 is not a
negation followed only by fillers).

Texts are expected in simplified characters (callers pass text through
:func:`yuqing.analysis.features.normalise` or OpenCC t2s first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import ahocorasick_rs

__all__ = ["FLAGS", "LEXICON", "SHADOWS", "SensitivityMatcher", "flags_for", "matcher"]

# fmt: off
LEXICON: dict[str, tuple[str, ...]] = {
    "casualties": (
        "死亡", "死者", "遇难", "遇难者", "罹难", "身亡", "丧生", "殒命", "丧命", "致死", "死伤", "伤亡",
        "人员伤亡", "受伤", "伤者", "重伤", "轻伤", "致残", "伤残", "失踪", "失联", "遇害", "被害人",
        "命案", "尸体", "遗体", "抢救无效", "不治身亡", "医治无效", "殉职", "猝死", "溺亡", "溺水身亡",
        "坠亡", "坠楼身亡", "烧死", "砸死", "撞死", "压死", "打死", "捅死", "砍死", "闷死", "炸死", "冻死",
        "饿死", "被困", "被埋", "伤人", "砍伤", "刺伤", "烧伤", "烫伤", "炸伤", "撞伤", "摔伤", "咬伤",
        "跳楼", "轻生", "自杀", "自尽", "割腕", "服毒", "喝农药", "不幸离世", "不幸去世", "死亡人数",
        "受伤人数",
    ),
    "public_safety": (
        "爆炸", "爆燃", "闪爆", "起火", "着火", "失火", "火灾", "大火", "火情", "火警", "浓烟", "塌方",
        "坍塌", "倒塌", "垮塌", "塌陷", "地面塌陷", "房屋倒塌", "桥梁垮塌", "断裂", "泄漏", "毒气泄漏",
        "燃气泄漏", "危化品", "化学品泄漏", "有毒气体", "煤气中毒", "一氧化碳中毒", "踩踏", "踩踏事件",
        "车祸", "交通事故", "连环相撞", "相撞", "追尾", "侧翻", "翻车", "坠河", "坠崖", "坠江", "坠落",
        "坠楼", "高空坠物", "沉船", "翻沉", "溺水", "矿难", "透水", "瓦斯", "冒顶", "安全事故",
        "安全生产事故", "生产事故", "事故", "险情", "紧急疏散", "滑坡", "山体滑坡", "泥石流", "洪水",
        "洪涝", "内涝", "决堤", "溃坝", "溃堤", "山洪", "地震", "台风", "冰雹", "暴雪", "雪灾", "灾情",
        "受灾", "枪击", "持刀", "砍人", "行凶", "袭击", "恐怖袭击", "劫持", "纵火", "投毒", "电梯故障",
        "电梯事故", "困在电梯", "触电", "漏电", "脱轨", "停电", "大面积停电", "断水", "停水", "隐患",
        "安全隐患", "重大隐患",
    ),
    "food_drug_safety": (
        "食物中毒", "集体中毒", "食源性疾病", "食品安全事故", "食品安全问题", "食安问题", "过期食品",
        "过期食材", "过期变质", "变质", "发霉", "霉变", "腐烂变质", "异物", "吃出头发", "吃出虫子",
        "吃出异物", "吃出苍蝇", "吃出蟑螂", "吃出钢丝", "有苍蝇", "有蟑螂", "地沟油", "瘦肉精", "三聚氰胺",
        "苏丹红", "非法添加", "违规添加", "添加剂超标", "农药残留", "农残超标", "重金属超标",
        "菌落总数超标", "大肠杆菌", "抽检不合格", "检测不合格", "不合格产品", "假药", "劣药", "假疫苗",
        "问题疫苗", "过期疫苗", "疫苗造假", "疫苗事件", "毒奶粉", "问题奶粉", "毒胶囊", "病死猪", "注水肉",
        "僵尸肉", "走私冻品", "三无产品", "假冒伪劣", "山寨食品", "上吐下泻", "腹泻", "呕吐", "拉肚子",
        "食品召回", "药品召回", "不良反应",
    ),
    "corruption": (
        "贪污", "受贿", "行贿", "索贿", "腐败", "贪腐", "贪官", "挪用公款", "侵吞", "侵占公款", "权钱交易",
        "权色交易", "利益输送", "以权谋私", "滥用职权", "玩忽职守", "渎职", "徇私舞弊", "徇私枉法", "违纪",
        "违法违纪", "严重违纪", "严重违法", "双规", "留置", "落马", "接受审查", "纪律审查", "监察调查",
        "开除党籍", "党内严重警告", "公款吃喝", "公款旅游", "公车私用", "吃拿卡要", "买官卖官", "跑官要官",
        "回扣", "小金库", "骗取补贴", "套取资金", "虚报冒领", "黑幕", "暗箱操作", "官商勾结", "保护伞",
        "巨额财产来源不明", "收受红包", "收受贿赂", "收受礼金", "裸官", "违规经商", "违反中央八项规定",
    ),
    "mass_incident": (
        "聚集", "聚众", "围堵", "堵路", "堵门", "拦路", "上访", "集体上访", "越级上访", "进京上访", "罢工",
        "罢课", "罢市", "拉横幅", "打横幅", "拉条幅", "举牌", "静坐", "示威", "游行", "抗议", "维权",
        "集体维权", "业主维权", "讨薪", "欠薪", "拖欠工资", "讨说法", "群体性事件", "群体事件", "骚乱",
        "暴乱", "打砸", "打砸抢", "围攻", "肢体冲突", "发生冲突", "爆发冲突", "警民冲突", "闹事",
        "堵塞交通", "对峙",
    ),
    "medical_dispute": (
        "医疗事故", "医疗纠纷", "医闹", "误诊", "漏诊", "医疗过失", "手术失败", "伤医", "杀医", "暴力伤医",
        "辱医", "产妇死亡", "新生儿死亡", "婴儿死亡", "死在手术台", "过度医疗", "天价医药费", "天价药",
        "拒收病人", "推诿病人", "见死不救", "医院拒诊", "无证行医", "非法行医", "黑诊所", "医托", "骗保",
    ),
    "education": (
        "校园欺凌", "校园霸凌", "霸凌", "欺凌", "体罚", "虐童", "猥亵学生", "性侵学生", "师德失范",
        "学术不端", "论文造假", "学历造假", "招生舞弊", "高考舞弊", "考试作弊", "冒名顶替", "顶替上学",
        "乱收费", "违规补课", "有偿补课", "校园安全事故", "学生跳楼", "学生坠楼", "学生死亡", "学生中毒",
        "问题校服", "毒跑道",
    ),
    "official_misconduct": (
        "不作为", "乱作为", "慢作为", "懒政", "庸政", "推诿扯皮", "暴力执法", "粗暴执法", "野蛮执法",
        "钓鱼执法", "选择性执法", "强拆", "强制拆迁", "暴力拆迁", "耍官威", "特权", "吃空饷", "形式主义",
        "官僚主义", "打压", "打击报复", "删帖", "辱骂群众", "门难进", "脸难看", "事难办", "拖延办理",
        "违规收费", "乱罚款",
    ),
    "public_health": (
        "疫情暴发", "疫情爆发", "聚集性疫情", "聚集性感染", "传染病", "暴发疫情", "院内感染", "交叉感染",
        "集体感染", "病毒扩散", "疑似病例", "死亡病例", "不明原因肺炎", "禽流感", "手足口病", "霍乱",
        "鼠疫", "狂犬病", "结核病聚集",
    ),
    "environment": (
        "污染", "环境污染", "水污染", "大气污染", "土壤污染", "排污", "偷排", "直排", "超标排放",
        "非法排放", "死鱼", "恶臭", "异味扰民", "刺鼻气味", "黑臭水体", "垃圾围城", "非法倾倒", "倾倒垃圾",
        "噪音扰民", "噪声扰民", "雾霾", "重污染", "毒地", "癌症村", "赤潮",
    ),
    "crime": (
        "杀人", "凶杀", "凶手", "嫌犯", "犯罪嫌疑人", "抢劫", "抢夺", "强奸", "性侵", "猥亵", "诈骗",
        "电信诈骗", "传销", "非法集资", "跑路", "暴雷", "爆雷", "拐卖", "拐骗", "绑架", "贩毒", "吸毒",
        "涉毒", "赌博", "涉黑", "黑恶势力", "黑社会", "恶势力", "敲诈勒索", "非法拘禁", "故意伤害", "打人",
        "殴打", "群殴", "家暴", "家庭暴力", "虐待", "偷拍", "盗窃", "入室", "失窃",
    ),
}
# fmt: on

FLAGS: tuple[str, ...] = tuple(LEXICON)

# Longer phrases that contain a term but are no incident. Matched like terms (leftmost-longest
# lets them win over the term inside them) and then ignored: 跳楼价 is a price, not a fall.
SHADOWS: tuple[str, ...] = (
    "跳楼价", "跳楼甩卖", "跳楼大甩卖", "爆炸性", "信息爆炸", "知识爆炸", "人口爆炸", "爆炸头", "死亡笔记",
    "死亡金属", "留置针", "留置权", "事故险", "意外事故险", "火灾险", "地震局", "台风眼", "冲突解决",
    "特权卡", "维权热线", "维权电话", "消费维权", "依法维权", "维权意识", "死亡率下降", "零死亡", "零伤亡",
    "零事故", "无事故", "安全无事故",
    # Slang and traits, not harm (a horoscope's 易伤人, a complaint's 饿死了).
    "易伤人", "伤人心", "最伤人", "伤人的话", "伤人自尊", "饿死了", "冻死了", "饿死我", "冻死我",
)  # fmt: skip

# Negation cues and the filler words allowed between a cue and the term it denies. The guard
# strips fillers from the end of the clause before a match and asks whether a cue remains.
_NEGATIONS = ("没有", "没", "无", "未", "并无", "并未", "暂无", "暂未", "均无", "均未", "尚无",
              "尚未", "不存在", "排除", "否认", "不是", "并非", "无一", "杜绝", "防止", "避免",
              "预防", "严防", "谨防", "防范")  # fmt: skip
_FILLERS = ("人员", "人", "造成", "导致", "引发", "发生", "出现", "发现", "任何", "重大", "明显",
            "一起", "一人", "一例", "有", "其他", "其它", "群众", "学生", "旅客", "乘客", "游客",
            "员工", "工人", "居民", "师生", "人身", "的", "了", "过", "等", "被")  # fmt: skip
# A negation only reaches back within its clause.
_CLAUSE_BREAKS = frozenset("，。！？；：,.!?;:、\n （）()【】[]「」“”\"'\x00")  # NUL separates batched texts
_LOOKBACK = 12


class SensitivityMatcher:
    """One Aho-Corasick automaton over every term of a lexicon, with the negation guard."""

    def __init__(self, lexicon: dict[str, tuple[str, ...]]) -> None:
        flag_of: dict[str, str] = {}
        for flag, terms in lexicon.items():
            for term in terms:
                # First category wins for a term listed twice; the order of LEXICON decides.
                flag_of.setdefault(term, flag)
        for term in SHADOWS:
            flag_of.setdefault(term, "")
        self._terms = list(flag_of)
        self._flags = [flag_of[t] for t in self._terms]
        self._order = {flag: i for i, flag in enumerate(lexicon)}
        self._automaton = ahocorasick_rs.AhoCorasick(
            self._terms, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        )

    def matches(self, text: str) -> list[tuple[str, str, int]]:
        """Every non-negated match as ``(flag, term, start)``."""
        found: list[tuple[str, str, int]] = []
        for index, start, _end in self._automaton.find_matches_as_indexes(text):
            if self._flags[index] and not _negated(text, start):
                found.append((self._flags[index], self._terms[index], start))
        return found

    def flags(self, text: str) -> tuple[str, ...]:
        """Flags raised by ``text``, each once, in the order of the lexicon's categories."""
        hits = {flag for flag, _term, _start in self.matches(text)}
        return tuple(sorted(hits, key=self._order.__getitem__))

    def flags_many(self, texts: Iterable[str]) -> list[tuple[str, ...]]:
        """:meth:`flags` for many texts."""
        return [self.flags(t) for t in texts]


def _negated(text: str, start: int) -> bool:
    """Whether the clause just before ``start`` ends in a negation cue (fillers skipped)."""
    lo = max(0, start - _LOOKBACK)
    prefix = text[lo:start]
    for i in range(len(prefix) - 1, -1, -1):
        if prefix[i] in _CLAUSE_BREAKS:
            prefix = prefix[i + 1 :]
            break
    prefix = prefix.rstrip()
    stripped = True
    while prefix and stripped:
        if prefix.endswith(_NEGATIONS):
            return True
        stripped = False
        for filler in _FILLERS:
            if prefix.endswith(filler):
                prefix = prefix[: -len(filler)].rstrip()
                stripped = True
                break
    return bool(prefix) and prefix.endswith(_NEGATIONS)


@lru_cache(maxsize=1)
def matcher() -> SensitivityMatcher:
    """The matcher over :data:`LEXICON`, built once per process."""
    return SensitivityMatcher(LEXICON)


def flags_for(texts: Sequence[str]) -> list[tuple[str, ...]]:
    """Flags for each text, with the shared matcher."""
    return matcher().flags_many(texts)
