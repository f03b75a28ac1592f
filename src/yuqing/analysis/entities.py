"""Named entities of a post: places, hospitals, schools, companies, offices and people, by rule.

Why rules: event clustering needs them for every post (tens of thousands a second) as strong
evidence that two texts tell different stories (「患者家属投诉南京鼓楼医院误诊」 vs the same
template about 杭州市第一医院), and a Chinese NER model is both slow and a download.  What a rule
can find reliably is a name anchored on its kind's suffix (…医院, …小学, …公司, …局) or on the
province and city lexicon of ``regions``:

- ``place``: provinces and cities from the ``regions`` lexicon (levels ``province``, ``city``),
  and units named by their suffix: …县/…区/…旗 and county-level …市 (``county``), …镇/…乡/…街道
  (``town``), …村 (``village``);
- ``hospital``, ``school``, ``company``, ``office``: the run of name characters before the suffix,
  cut at the first function word or time word to its left (「在」「送往」「昨日」…), with generic
  openers stripped (「某」「一家」「当地」「这所」…); what is left must say which one (「医院」
  「某医院」「一所小学」「县医院」「上大学」 are not entities, nor are 「美国公司」
  「软件公司」: a country or a descriptor), and the suffix must not open a longer word (「法学校长」
  「女大学生」).  An office must also open with a place (「民政局」 is any city's, 「兰州市民政局」 one);
- ``person``: anonymised names as news write them, 「张某」「王某某」 (surname + 某), and names
  marked 「（化名）」.  Titled names (「李医生」) are left out: a title names a role, not a person.

Names are normalised so that the same entity compares equal however it is written: 「市」「省」
after a place name dropped (「南京市第一医院」 = 「南京第一医院」), 「某某」 as 「某」.  Two names
of a kind are *compatible* when one ends with the other (「鼓楼医院」 and 「南京鼓楼医院」: a
shorter mention of the same unit), and ``conflicts(a, b)`` says whether two sets of entities name
different specific entities of some kind (for places: at the same level, with a city standing
for its province too, so 「南京」 and 「杭州」 conflict, 「南京」 and 「南京市鼓楼区」 do not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick_rs

from yuqing.analysis.regions import place_of, province_names, shadows

__all__ = ["KINDS", "PLACE_LEVELS", "Entity", "compatible", "conflicts", "extract", "without_mentions"]

KINDS = ("place", "hospital", "school", "company", "office", "person")
PLACE_LEVELS = ("province", "city", "county", "town", "village")


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity: its kind, normalised name, and for places the administrative level."""

    kind: str
    name: str
    level: str = ""


# -- suffixes of the organisation kinds (longest first where one contains another) -------------

_SUFFIXES: dict[str, tuple[str, ...]] = {
    "hospital": ("妇幼保健院", "保健院", "卫生院", "医院", "诊所"),
    "school": (
        "幼儿园",
        "小学",
        "中学",
        "大学",
        "学院",
        "学校",
        "职校",
        "技校",
        "高中",
        "初中",
        "中专",
        "附中",
    ),
    "company": (
        "股份有限公司",
        "有限责任公司",
        "有限公司",
        "公司",
        "集团",
        "超市",
        "餐厅",
        "酒店",
        "饭店",
        "酒楼",
        "餐馆",
        "商场",
        "厂",
    ),
    "office": (
        "委员会",
        "人民政府",
        "政府",
        "派出所",
        "人民法院",
        "法院",
        "人民检察院",
        "检察院",
        "城管",
        "纪委",
        "卫计委",
        "局",
    ),
}
# Suffixes that name a level of schooling: a name that ends in one before another suffix lists
# levels (「从小学初中到高中」), while 「清华大学附中」 and 「…学院附属小学」 are names.
_STUDENT_LEVELS = ("大学", "中学", "小学", "初中", "高中", "中专")
_SCHOOL_LEVELS = ("幼儿园", "小学", "中学", "初中", "高中", "中专", "职校", "技校")
_KIND_OF = {s: kind for kind, suffixes in _SUFFIXES.items() for s in suffixes}
_SUFFIX_RE = re.compile("|".join(sorted(_KIND_OF, key=len, reverse=True)))

# Characters that never stand inside a name here: a name runs left from its suffix until one.
# Function words, pronouns, verbs of motion and time words (「昨日」「下午」); not 和 (「协和」「人和」).
_STOP_CHARS = frozenset(
    "在于到的是了与从向往对把被将给让叫由等及或就也都还又这那该其此我你他她它们个名位所家"
    "去来送进入住回离为称说据曝道年月时分午晚早昨今前后天均全每各有看找诉报告问"
    # verbs and particles around a name in reports: 「家属要求医院…」「投诉该院」「因医院…」
    "要求属请帮查因而但却并已曾正刚才再没让使令"
    # what a commenter does to a place or unit: 「能当市长」「亲眼见过医院」「被赶出医院」
    "能想过出"
    # 「那些专业性公司」「一图看懂万达集团」「无法吃百盛公司食品」「继南汇区并入」「行至台基厂」「炸县政府」
    "些懂吃继至炸"
)
_MAX_NAME = 12  # characters looked at to the left of a suffix
# Words of a commenter's sentence that end a name run like a stop character: what follows them is
# the rest of the sentence (「感觉保护伞公司」「犹记得小学」「甚至连幼儿园」「不信超市」「抹黑医院」).
# Not 希望 (「希望小学」).
_CUT_WORDS_RE = re.compile(
    "感觉|记得|居然|竟然|甚至|恨不得|怪不得|不信|抹黑|小心|导致|组织|拐走|无法|觉得|认为|知道|听说|"
    "据说|果然|简直|难怪|估计|可能|应该|一定|肯定|哪怕|不如|比如|咔嚓|真心|确实|其实|原来|以为|支持|反对|"
    # what a post says happened to a school (「同学不满学校」「炸药炸毁学校」「一声学校炸得粉碎」)
    "不满|炸毁|炸掉|炸了|炸得|一声|听见|看见|"
    # what people do to a unit they name (「家长质疑学校管理」「网友质疑学校隐瞒」「患者起诉医院」)
    "质疑|怀疑|指责|批评|控诉|状告|起诉|声讨|追问|质问|围堵|炮轰|痛批|讨说法|索赔|"
    # verbs and adverbs before a name (「再加上加多宝集团」「专门设立学校」「惊现帝王局长」「欺压村民」
    # 「农贸市场发生一起城管执法」「了解漳浦县看守所」「真怀念乡野」)
    "加上|庆祝|惊现|出现|发生|一起|专门|设立|成立|了解|理解|打死|殴打|欺压|怀念|"
    # a date (「5日中医院死亡病例」) or a police unit (「海淀交通支队中关村交通大队」) before a name
    "[0-9０-９]+[日号]|支队|大队|中队|总队"
)
# 「孩子上小学」「读中学」: going to a school of that level, no school named
_ATTENDING = ("上", "读", "念", "考", "进")
# 「第一次带孩子上医院」「送医院」: going to a hospital, none named (unless the name opens with a place)
_GOING_TO_HOSPITAL = ("上", "去", "到", "进", "送", "住")
# 学校 is the everyday word: a name on it opens with a place (「南京市第一实验学校」) or is short
# (「育才学校」); a longer run before it is the sentence (「自购炸药炸毁学校」)
_GENERIC_SCHOOL_CORE = 4


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# Generic openers stripped from the left of a name (longest first), and cores that still say
# nothing about which one (「食品厂」「物业公司」「大医院」).
_GENERIC_OPENERS = (
    "当地",
    "本地",
    "附近",
    "外地",
    "全国",
    "国内",
    "国外",
    "各大",
    "各地",
    "多家",
    "多所",
    "一下",  # 「轰的一下学校炸飞了」
    "一家",
    "一所",
    "一间",
    "一个",
    "某某",
    "某",
    "同一",
    "其他",
    "别的",
    "公立",
    "私立",
    "民营",
    "正规",
    "三甲",
    "大型",
    "小型",
    "涉事",
    "上述",
    "这些",
    "那些",
    "这",
    "那",
    "该",
    "本",
    "原",
)
# What a unit does or is like, naming none (also after a country: 「美国公司」「美国顶级大学」).
_DESCRIPTORS = (
    "商业 软件 诈骗 专业 专业性 法律 顶级 一流 著名 知名 国际 外国 权贵 贵族 两大 三大 四大 五大 六大 七大 "
    "八大 九大 十大 几大 百强 世界 全球 利益 地方"
)
_DESCRIPTOR_WORDS = _words(_DESCRIPTORS)
# Countries: 「中国超市」「美国公司」 are a kind of unit, 「美国苹果公司」 one.
_COUNTRIES = ("中国", "美国", "日本", "韩国", "英国", "法国", "德国", "俄罗斯", "印度", "加拿大", "澳大利亚")
_GENERIC_CORES = _words(
    "大 小 好 黑 省 市 县 区 镇 乡 村 城 上 下 中 男 女 子 重点 名牌 普通 贵族 民办 公办 职业 技术 师范 "
    "医科 医学 农业 工业 理工 科技 综合 专科 中医 西医 兽医 牙科 口腔 眼科 整形 美容 儿童 妇产 精神 "
    "附属 人民 第一 第二 第三 部队 军队 武警 社区 乡镇 食品 加工 化工 制药 药 服装 电子 钢 钢铁 水泥 造纸 "
    "屠宰 自来水 发电 垃圾 工 物业 保险 快递 网络 上市 外资 国有 国企 私企 航空 电力 房地产 开发 投资 "
    "贸易 物流 科技 文化 传媒 广告 咨询 管理 建筑 工程 装修 家政 中介 旅游 餐饮 连锁 跨国 皮包 "
    "公安 民政 卫生 教育 工商 质监 食药监 环保 交通 交警 税务 财政 城管 司法 统计 气象 地震 "
    "宾馆 星级 五星级 快捷 大酒店 小饭店 "
    # what commenters call a hospital or a school, not its name (「黑心医院」「严惩医院」)
    "黑心 无良 垃圾 破 烂 坑人 害人 严惩 整顿 查处 关闭 取缔 封杀 抵制 举报 投诉 谴责 这种 那种 什么 哪个 "
    "哪家 所有 任何 每个 全部 这些 那些 各种 好多 很多 许多 一些 " + _DESCRIPTORS
    # descriptors of a kind of unit (「商业公司」「软件公司」「诈骗公司」「权贵学校」「三大公司」)
)
# A name never ends in what a commenter says about the place (「最不喜欢医院」「好像高中」
# 「黑心厂家」): what is left before such a word is the sentence, not the name.
_COMMENT_ENDINGS = tuple(
    _words(
        "喜欢 讨厌 好像 黑心 无良 坑人 害人 严惩 这种 那种 什么 哪个 哪家 这些 那些 各种 好多 很多 "
        "许多 一些 所有 任何 每个 狗屁 破"
    )
)
# A place's function suffix that has nothing left before it is no place (「城市」「小区」).
_PLACE_UNITS = {"县": "county", "区": "county", "市": "county", "镇": "town", "乡": "town"}
_PLACE_UNITS.update({"街道": "town", "村": "village"})
_GENERIC_PLACE_CORES = _words(
    "城 超 城乡 地 小 社 校 景 山 灾 郊 市 老 新 开发 保护 园 工业 住宅 商业 学 病 禁 战 军 湾 特 片 辖 "
    "城中 农 乡 山区 门 股 夜 黑 早 菜 都 闹 城区 街 本 该 各 全 我 他 你 这 那 某 一 二 三 同 邻 外 "
    "县 省 港 澳 台 牧 林 矿 库 营 渔 灾 疫 核心 中心 商 花 西 东 南 北 上 下 前 后 内 大 郊 乡下 "
    "风景 旅游 试验 示范 经济 高新 自治 行政 贫困 小山"
)
# Such words right after a place: the place's town or countryside, not a unit of it.
_WORDS_AFTER_PLACE = _words("城市 郊区 市区 地区 乡村 农村 小镇 古镇 城镇 乡镇 小区 城乡")
# A unit character that opens a longer word is no unit: 「欺压村民」「真怀念乡野」「农贸市场」「镇压」
# (「临武县长」 stays 临武县).  村民委员会 is the village's committee.
_UNIT_WORD_RE = re.compile("村民(?!委)|乡[野亲愁音情土]|市[场民值面容]|镇[压定静守]|区[别分]")
# After a place, 「一」 and an opener is 「a」: 「陕西山阳县一公立幼儿园」 names no kindergarten.
_A_UNIT_RE = re.compile("一(?:公立|私立|民办|公办|民营|所|家|间|个|座)")
_MENTION_RE = re.compile(r"[@＠][^\s:：,，。;；!！?？@＠/)）\]]{1,20}")
_UNIT_RE = re.compile(r"街道|[县区市镇乡村]")
# two-character words ending in a unit character that name no place
_UNIT_WORDS = _words(
    "超市 城市 门市 股市 夜市 黑市 菜市 都市 闹市 上市 开市 集市 楼市 车市 花市 鱼市 早市 市市 "
    "地区 小区 社区 城区 市区 郊区 山区 景区 灾区 校区 园区 病区 禁区 战区 军区 湾区 特区 片区 辖区 专区 "
    "展区 分区 误区 盲区 雷区 老区 牧区 林区 矿区 库区 街区 厂区 营区 矿区 "
    "城镇 乡镇 重镇 古镇 小镇 集镇 城乡 家乡 老乡 故乡 下乡 回乡 异乡 他乡 同乡 思乡 水乡 梦乡 "
    "农村 乡村 山村 渔村 村村 全村 本村 该村 同村 进村 小村 老村 郡县 州县"
)
_PERSON_RE = re.compile(r"([\u4e00-\u9fff])某某?")
_ALIAS_RE = re.compile(r"([\u4e00-\u9fff]{2,3})[（(]化名[)）]")
# Common surnames: 「某」 after any other character is no person (「某某」「一某」).
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
    "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮"
    "柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古"
    "吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫"
    "寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_NAME_CHAR_RE = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]")
# 「对于某些」「于某年某月」「爱尔兰某航空公司」: a 某 that is 「some」, after a word that ends in a surname
_NOT_SURNAME_WORDS = _words(
    "对于 关于 由于 至于 属于 等于 在于 基于 位于 处于 终于 尔兰 荷兰 米兰 西兰 芬兰 波兰"
)
_AFTER_SOME = frozenset("些年月日天时种类处地")


@lru_cache(maxsize=1)
def _lexicon() -> tuple[ahocorasick_rs.AhoCorasick, list[tuple[str, str]], dict[str, str]]:
    """The province and city automaton: per pattern (name, level), and city -> province.  The
    shadows of ``regions`` (「佛罗里达州」「长治久安」) are patterns of level ``""``: they hide the city
    inside them and are skipped by every reader (:func:`_place_spans`)."""
    names: list[str] = []
    info: list[tuple[str, str]] = []
    province_of: dict[str, str] = {}
    for province, spellings in province_names().items():
        for name in spellings:
            level = "province" if name == province else "city"
            province_of[name] = province
            for form in (name, name + "省", name + "市"):
                names.append(form)
                info.append((name, level))
    for shadow in shadows():
        names.append(shadow)
        info.append((shadow, ""))
    automaton = ahocorasick_rs.AhoCorasick(names, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
    return automaton, info, province_of


def _place_spans(text: str) -> list[tuple[int, int, int]]:
    """(pattern index, start, end) of each lexicon place in ``text``, shadows left out."""
    automaton, info, _prov = _lexicon()
    return [m for m in automaton.find_matches_as_indexes(text) if info[m[0]][1]]


def _strip_places(name: str) -> str:
    """「南京市第一医院」 -> 「南京第一医院」: 省/市 after a lexicon place dropped."""
    out: list[str] = []
    pos = 0
    for _index, start, end in _place_spans(name):
        out.append(name[pos:start])
        matched = name[start:end]
        out.append(matched[:-1] if matched[-1] in "省市" and len(matched) > 2 else matched)
        pos = end
    out.append(name[pos:])
    return "".join(out)


def _left_name(text: str, end: int) -> str:
    """The run of name characters ending at ``end``, cut at a stop character (one inside a
    lexicon place does not cut: the 都 of 「成都」)."""
    start = end
    lower = max(0, end - _MAX_NAME)
    while start > lower and _NAME_CHAR_RE.match(text[start - 1]):
        start -= 1
    run = text[start:end]
    cut = [i for i, ch in enumerate(run) if ch in _STOP_CHARS]
    cut += [m.end() - 1 for m in _CUT_WORDS_RE.finditer(run)]
    if cut:
        inside = {i for _x, s, e in _place_spans(run) for i in range(s, e)}
        cut = [i for i in cut if i not in inside]
    return run[max(cut) + 1 :] if cut else run


def _from_place(run: str) -> str:
    """The run from its first lexicon place on (「家属投诉南京第一」 -> 「南京第一」): what stands
    before a place is the sentence, not the name."""
    for _index, start, _end in _place_spans(run):
        return run[start:]
    return run


def _strip_openers(core: str) -> str:
    changed = True
    while changed and core:
        changed = False
        for opener in _GENERIC_OPENERS:
            if core.startswith(opener):
                core = core[len(opener) :]
                changed = True
                break
    return core


def _starts_with_place(core: str) -> bool:
    for _index, start, _end in _place_spans(core):
        return start == 0
    unit = _UNIT_RE.search(core, 1)
    return unit is not None and unit.start() <= 4


# One hospital, several everyday names: 「宁波市妇女儿童医院」 is 「宁波妇儿医院」 and, to most posters,
# 「宁波妇幼医院」 (one tragedy there became three events under the three spellings).  A
# 「妇幼保健院」 keeps its own suffix and stays apart.
_HOSPITAL_ALIASES = (("妇女儿童", "妇儿"), ("妇幼", "妇儿"))


def _country_kind(core: str) -> bool:
    """「美国公司」「中国超市」「美国顶级大学」: a country and at most a descriptor, no unit named."""
    for country in _COUNTRIES:
        if core.startswith(country):
            rest = core[len(country) :]
            return not rest or rest in _DESCRIPTOR_WORDS  # 「中国人民大学」 is one
    return False


def _inside_word(text: str, suffix: str, end: int) -> bool:
    """Whether the suffix ending at ``end`` is the start of a longer word: 「法学校长」 (a 校长),
    「女大学生」「初中生」 (students; 「大学生命科学院」 is a school)."""
    after = text[end : end + 2]
    if suffix == "学校" and after[:1] == "长":
        return True
    return suffix in _STUDENT_LEVELS and after[:1] == "生" and after[1:2] not in ("命", "物")


def _organisations(text: str, out: list[Entity]) -> None:
    for m in _SUFFIX_RE.finditer(text):
        suffix = m.group()
        kind = _KIND_OF[suffix]
        if _inside_word(text, suffix, m.end()):
            continue
        core = _strip_openers(_from_place(_left_name(text, m.start())))
        if "某" in core or len(core) < 2 or core in _GENERIC_CORES or core.endswith(_COMMENT_ENDINGS):
            continue
        # 「淮南公安局局长」 (the suffix doubled), 「延安女城管」 (a person), 「镇江市区医院」 (a district's)
        if core.endswith((suffix, "女", "男", "市区")) or _country_kind(core) or _A_UNIT_RE.search(core):
            continue
        if kind == "company" and core.endswith("一") and not core.endswith("第一") and suffix != "厂":
            continue  # 「罗湖建设路一饭店」 is a restaurant there; 「成都制药一厂」 a name
        if kind == "office" and not _starts_with_place(core):
            continue
        if kind == "school" and core.endswith(_SCHOOL_LEVELS):
            continue  # 「小学初中」「初中高中」: school levels listed, no school named
        if kind == "school" and core.endswith(_ATTENDING):
            continue
        if suffix == "医院" and core.endswith(_GOING_TO_HOSPITAL) and not _starts_with_place(core):
            continue
        if suffix == "学校" and len(core) > _GENERIC_SCHOOL_CORE and not _starts_with_place(core):
            continue
        stripped = _strip_places(core)
        if stripped in _GENERIC_CORES:
            continue
        if suffix == "医院":
            for long, short in _HOSPITAL_ALIASES:
                if stripped.endswith(long):
                    stripped = stripped[: -len(long)] + short
                    break
        out.append(Entity(kind, stripped + suffix))


def _places(text: str, out: list[Entity]) -> None:
    automaton, info, _prov = _lexicon()
    covered: list[tuple[int, int]] = []
    for index, start, end in automaton.find_matches_as_indexes(text):
        name, level = info[index]
        if level:
            out.append(Entity("place", name, level))
        covered.append((start, end))  # a shadow's 州 is no unit either
    for m in _UNIT_RE.finditer(text):
        left = m.start()
        if any(s <= left < e for s, e in covered):
            continue  # the 市 of 「南京市」
        if _UNIT_WORD_RE.match(text, left):
            continue  # 「欺压村民」「农贸市场」
        word = text[left - 1 : m.end()]
        # the unit's own name: right after the nearest lexicon place or other unit, else the name run
        start, end = max(
            (span for span in covered if span[1] <= left), key=lambda span: span[1], default=(-1, -1)
        )
        # only name characters between: 「上海，浦东新区」 is 浦东新区, 「【上海】本市」 no 「】本」
        if end >= 0 and left - end <= 4 and all(_NAME_CHAR_RE.match(c) for c in text[end:left]):
            if word in _WORDS_AFTER_PLACE:
                continue  # 「宁波市区」「襄阳一景城市」「北京北边郊区」 (but 「北京东城区」)
            # 「通化县二密镇」: the county named after its city is no part of the town's name
            core = text[end:left].lstrip("县区州")
            if not core and m.group() == "县" and text[end - 1] not in "省市县区镇乡村道":
                core = text[start:end]  # 「开封县」「长沙县」: a county named after its city
        else:
            if word in _UNIT_WORDS:
                continue  # 「超市」「小区」
            if m.group() == "市":
                # 「广大市民」「许多市民」「小龙虾下市了」「面霸市哪家」: a 市 after an unknown name is
                # rarely a city. Only a county-level city the gazetteer knows is one (「张家港市」).
                known = _known_city(text[max(0, left - 5) : left])
                if known is not None:
                    out.append(Entity("place", known, "county"))
                    covered.append((left - len(known), m.end()))
                continue
            core = _left_name(text, left)[-4:]
            core = core[core.rfind("州") + 1 :]  # 「果洛州下藏科乡」: a prefecture before the name
        core = _strip_openers(core)
        if len(core) < 2 or core in _GENERIC_PLACE_CORES or "某" in core:
            continue
        if any(c in _STOP_CHARS or not _NAME_CHAR_RE.match(c) for c in core):
            continue
        unit = m.group()
        level = _PLACE_UNITS[unit]
        out.append(Entity("place", core + ("" if unit == "市" else unit), level))
        covered.append((left - len(core), m.end()))


@lru_cache(maxsize=8192)
def _known_city(before: str) -> str | None:
    """The longest end of ``before`` that, with 市, is a county-level city of the gazetteer
    (「在张家港」 → 「张家港」), else None."""
    for size in range(len(before), 1, -1):
        name = before[-size:]
        place = place_of(name + "市")
        if place is not None and (
            place.county == name + "市" or (place.county is None and place.city == name)
        ):
            return name
    return None


def _people(text: str, out: list[Entity]) -> None:
    places: list[tuple[int, int, int]] | None = None
    for m in _PERSON_RE.finditer(text):
        surname = m.group(1)
        start = m.start()
        if (
            surname not in _SURNAMES
            or text[m.end() : m.end() + 1] in _AFTER_SOME
            or text[start - 1 : start + 1] in _NOT_SURNAME_WORDS
        ):
            continue
        if places is None:
            places = _place_spans(text)
        if any(s <= start < e for _i, s, e in places):
            continue  # 「沈阳某旅行团」
        out.append(Entity("person", surname + "某"))
    for m in _ALIAS_RE.finditer(text):
        name = m.group(1)
        out.append(Entity("person", name if name[0] in _SURNAMES else name[-2:]))


def without_mentions(text: str) -> str:
    """The text with its @accounts blanked: an account's name names no place or unit of the story
    (「@宁波日报」, 「@南宁张文东」)."""
    return _MENTION_RE.sub(" ", text)


def extract(text: str) -> tuple[Entity, ...]:
    """The entities a (simplified Chinese) text names, each once, in order of first mention."""
    if not text:
        return ()
    text = without_mentions(text)
    found: list[Entity] = []
    _places(text, found)
    _organisations(text, found)
    if "某" in text or "化名" in text:
        _people(text, found)
    return tuple(dict.fromkeys(found))


def compatible(a: str, b: str) -> bool:
    """Two names of one kind may be the same entity: equal, or one a shorter mention of the other."""
    return a.endswith(b) or b.endswith(a)


def _groups(entities: Iterable[Entity]) -> dict[tuple[str, str], set[str]]:
    _automaton, _info, province_of = _lexicon()
    out: dict[tuple[str, str], set[str]] = {}
    for e in entities:
        out.setdefault((e.kind, e.level), set()).add(e.name)
        if e.kind == "place" and e.level == "city" and e.name in province_of:
            out.setdefault(("place", "province"), set()).add(province_of[e.name])
    return out


def shares(a: Iterable[Entity], b: Iterable[Entity]) -> bool:
    """Whether ``a`` and ``b`` may name one specific entity in common (of one kind, for places one
    level below a province): 「深圳爱绿双语幼儿园」 shares the kindergarten with a story placed in
    潮州 by its comments, though the cities differ. A province is no shared story: 江苏省人民医院
    and 南京鼓楼医院 are two hospitals of 江苏."""
    ga, gb = _groups(a), _groups(b)
    return any(
        compatible(x, y)
        for key, names in ga.items()
        if key != ("place", "province")
        for x in names
        for y in gb.get(key, ())
    )


def conflicts(a: Iterable[Entity], b: Iterable[Entity]) -> bool:
    """Whether ``a`` and ``b`` name different specific entities of some kind: both name one or more
    of that kind (for places: of that level) and none of ``a``'s is compatible with one of ``b``'s."""
    ga, gb = _groups(a), _groups(b)
    for key, names in ga.items():
        other = gb.get(key)
        if other and not any(compatible(x, y) for x in names for y in other):
            return True
    return False
