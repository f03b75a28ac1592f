"""What netizens say about an event, as a 舆情专报's 「网民观点」 puts it: the reposts' and comments'
own words sorted into the stances offices report, each with its share and a representative remark.

The stances are read from cue words of real Weibo comments (the CED file) and tuned on an office
reader's reading of the demo's 专报 (helper review, 2026-12-07): 「真的假的？」, 「严惩凶手」,
「[怒]牲口」, 「[蜡烛]一路走好」, 「太可怕了」, 「还能吃什么」, 「系剪贴旧闻」, 「帮扩散」, 「不用恐慌」.
Emoticons that mean little on their own (「[泪]」 on a biscuit, 「[抓狂]」, 「[围观]」) are no cue.
A comment may take several stances; one that takes none (「转发微博」, a mention) is not a view.
A remark is quoted only when its words, not an emoticon, show the stance, and never when it is
vulgar or political (such a remark is no "typical view" to send to a leader) or an official
statement reposted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yuqing.analysis.incidents import own_part

# (label, cues). Emoticon tags are Weibo's own: 「[蜡烛]」 is mourning, 「[怒]」 anger.
_STANCES: tuple[tuple[str, str], ...] = (
    (
        "质疑信息真实性，要求公开真相",
        r"真的假的|真的吗|是真的吗|真假|假的吧|谣言吗|靠谱吗|求证|求真相|真相是|真相到底|到底怎么回事|"
        r"怎么回事|有没有人知道|为什么不公开|谣言呢|求辟谣|还是真的|煽动|别有用心",
    ),
    (
        "指出系谣言或旧闻",
        r"(?<!但愿)(?<!渴盼这是)谣言(?![吗呢])|(?<![求快出])(?<!来)辟谣(?!啊|吧)|造谣|不实(?![?？])|旧闻|老新闻|假新闻|被证实|伪科学|别信|别再转|别转了|扯淡",
    ),
    (
        "要求追责、严惩",
        r"严惩|追责|问责|彻查|严查|查处|法办|绳之以法|枪毙|偿命|判死刑|死刑|严肃处理|依法处理|"
        r"给个说法|给.{0,4}交代|给.{0,4}说法|负责到底|必须负责|谁来负责|处分|撤职|下台",
    ),
    (
        "愤怒谴责",
        r"畜生|牲口|禽兽|人渣|败类|杂种|无耻|卑鄙|可恶|丧尽天良|天理难容|没有人性|灭绝人性|该死|"
        r"混蛋|王八蛋|太过分|气死|愤怒|愤慨|令人发指|\[怒\]|\[怒骂\]",
    ),
    (
        "同情、哀悼",
        r"心疼|(?<!\[)可怜|难过|心酸|一路走好|节哀|安息|默哀|祈祷|保佑|愿.{0,6}平安|早日康复|"
        r"早日回家|(?<![A-Za-z])R\.?I\.?P(?![A-Za-z])|\[蜡烛\]|\[伤心\]",
    ),
    ("呼吁扩散、帮助寻找", r"扩散|帮转|求转|转起来|帮帮忙|帮忙找|寻人|一起找|求助"),
    (
        "担忧、恐慌",
        r"可怕|恐怖|(?<!不用)(?<!不必)(?<!不要)害怕|好怕|吓人|吓死|(?<!不用)(?<!不必)(?<!不要)(?<!什么好)担心|"
        r"担忧|(?<!敢怒)(?<!敢)不敢(?!看|相信|想象)|不安全|注意安全|提醒大家|以后还敢|人人自危|(?<![勿别用必要])恐慌",
    ),
    (
        "失望、无奈",
        r"还能吃什么|还能吃啥|什么都不能吃|啥都不能吃|还有什么能吃|靠不住|伤不起|中枪|无奈|心寒|寒心|失望",
    ),
    (
        "批评监管部门和体制",
        r"不作为|乱作为|腐败|官官相护|一手遮天|干什么吃的|干啥吃的|监管缺失|监管不力|失职|渎职|形同虚设|"
        r"(?:部门|政府|警察|领导|官员).{0,6}(?:呢[?？]|在哪|干嘛|干什么|不管|哪去了)|"
        r"掩盖|隐瞒|瞒报|医疗体制|体制问题|制度问题|看病贵|看不起病|医保",
    ),
    ("支持、赞同", r"(?<!并)支持(?!造谣)|点赞|好样的|说得好|说的好|\[赞\]|\[good\]"),
    (
        "呼吁理性，等待调查结果",
        r"理性(?!主义)|不信谣|不传谣|别乱传|不要乱传|不要传|等待.{0,6}(?:结果|调查|通报)|等.{0,4}(?:官方|通报)|静待|"
        r"真相大白|(?<!怎么)相信.{0,4}(?:调查|官方)|以官方为准|(?:勿|别|不用|不必|不要)(?:恐慌|担心|害怕)",
    ),
    ("调侃、戏谑", r"哈哈|笑死|2333|段子|\[哈哈\]|\[偷笑\]|吃瓜"),
)
STANCES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(cues, re.IGNORECASE)) for label, cues in _STANCES
)
# Words that take the edge off a cue: 「不管真假，大家都小心」 questions nothing; 「求砖家辟谣」 asks for a
# denial rather than says it is a rumour; 「涉嫌构成不作为的故意杀人」 is a charge, not a criticism;
# 「可怜之人必有可恨之处」 blames the victim; 「谣言止于智者。智者快上，群众需要真相」 asks for the truth.
_DEFUSED = re.compile(
    r"求.{0,4}辟谣|请.{0,16}辟谣|不管真假|无论真假|不论真假|(?:构成|涉嫌).{0,4}不作为|可怜之人必有可恨之处|谣言止于智者"
)
# A remark that is vulgar, political or an official statement is counted but never quoted.
_UNQUOTABLE = re.compile(
    r"改朝|统治者|切格瓦拉|政改|革命|共产党|独裁|专制|暴政|推翻|某国|王八蛋|屁眼|他妈|妈的|操你|艹|贱人|"
    r"狗日|傻逼|傻B|SB|尼玛|杂种|混蛋|麻类个|妈了个|麻痹|侧那|我操|卧槽|[\uac00-\ud7af]|经查证|经核实|特此|通报如下|官方回应"
)
_QUOTABLE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_MENTIONS_AND_TAGS = re.compile(r"@[^\s:：,，。!！?？@/\[]+|\[[^\[\]\s]{1,10}\]")
_REPLY_PREFIX = re.compile(r"^\s*回复\s*(?:@[^\s:：]+)?\s*[:：]\s*")
QUOTE_MIN_LETTERS = 6


def _own(text: str) -> str:
    """The remark's own words: before the quoted chain, also one quoted with a single slash."""
    return own_part(text).split("/@", 1)[0]


def _matched(text: str) -> str:
    """The words a stance is read on: the remark's own, mentions out (「@姿色份子-哈哈」 is a name)."""
    return _DEFUSED.sub(" ", re.sub(r"@[^\s:：,，。!！?？@/\[]+", " ", _own(text)))


def stances(text: str) -> list[str]:
    """The stances a repost's or comment's own words take (its quoted chain is not its view)."""
    own = _matched(text)
    return [label for label, cues in STANCES if cues.search(own)]


def remark(text: str) -> str:
    """A repost's or comment's own words as a report quotes them: without the quoted chain, a
    「回复@某某:」 prefix, the friends it mentions (「@甲 @乙 …」) and its emoticon tags."""
    words = _MENTIONS_AND_TAGS.sub(" ", _REPLY_PREFIX.sub("", _own(text)))
    return re.sub(r"\s{2,}", " ", words).strip().lstrip("：:，,。.、；;！!？? ")


def quotable(text: str, label: str) -> bool:
    """Whether a remark may stand for `label` in a report: long enough, its words (not only an
    emoticon) showing the stance, and nothing vulgar, political or official in it."""
    words = remark(text)
    if len(_QUOTABLE.findall(words)) < QUOTE_MIN_LETTERS or _UNQUOTABLE.search(words):
        return False
    cues = dict(STANCES)[label]
    return bool(cues.search(_DEFUSED.sub(" ", words)))


def representative_key(text: str, engagement: int, label: str) -> tuple[bool, bool, int]:
    """How well a remark stands for its stance: one that takes this stance alone (a rant taking
    four stands for none), of 15 to 80 letters, then the most engaged."""
    letters = len(_QUOTABLE.findall(remark(text)))
    return stances(text) == [label], 15 <= letters <= 80, engagement


@dataclass(frozen=True)
class Stance:
    label: str
    posts: tuple[int, ...]  # indexes into the remarks given


def sort_stances(
    texts: list[str], *, min_posts: int = 5, min_share: float = 0.05
) -> tuple[list[Stance], int]:
    """The stances taken by at least `min_posts` remarks and `min_share` of those that take any,
    most taken first; and how many remarks take any stance."""
    taken: dict[str, list[int]] = {}
    stated = 0
    for index, text in enumerate(texts):
        found = stances(text)
        if found:
            stated += 1
        for label in found:
            taken.setdefault(label, []).append(index)
    floor = max(min_posts, min_share * stated)
    order = {label: rank for rank, (label, _) in enumerate(STANCES)}
    kept = [Stance(label, tuple(indexes)) for label, indexes in taken.items() if len(indexes) >= floor]
    kept.sort(key=lambda s: (-len(s.posts), order[s.label]))
    return kept, stated


_FUNCTION_WORDS = frozenset(
    [
        "不如",
        "听说",
        "什么",
        "这个",
        "那个",
        "一个",
        "没有",
        "还是",
        "就是",
        "真的",
        "现在",
        "已经",
        "可以",
        "我们",
        "你们",
        "他们",
        "自己",
        "这样",
        "怎么",
        "为什么",
        "知道",
        "觉得",
        "应该",
        "时候",
        "今天",
        "大家",
        "还有",
        "不是",
        "这么",
        "那么",
        "转发",
        "微博",
        "回复",
        "悲哀",
        "悲剧",
        "无语",
        "真的假",
        "求真",
        "真相",
    ]
)


def is_focus_word(word: str, texts: list[str]) -> bool:
    """Whether an event keyword names what is discussed (「医疗」, 「室友」), not an emoticon's name
    (「蜡烛」 from 「[蜡烛]」), a stance word or insult (「畜生」, 「悲剧」) or a function word (「不如」)."""
    if word in _FUNCTION_WORDS or _UNQUOTABLE.search(word):
        return False
    if any(cues.search(word) for _, cues in STANCES):
        return False
    with_word = [t for t in texts if word in t]
    as_tag = sum(1 for t in with_word if f"[{word}]" in t)
    return bool(with_word) and as_tag * 2 < len(with_word)
