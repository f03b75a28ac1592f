"""What netizens say about an event, as a 舆情专报's 「网民观点」 puts it: the reposts' and comments'
own words sorted into the stances offices report (质疑、追责、谴责、同情、担忧、批评部门、呼吁理性、调侃),
each with its share and a representative remark.

The stances are read from cue words of real Weibo comments (the CED file): 「真的假的？」, 「严惩凶手」,
「[怒]牲口」, 「[蜡烛]」, 「太可怕了」, 「有关部门干什么吃的」, 「等官方调查结果」, 「哈哈」. A comment may
take several stances; one that takes none (「转发微博」, a mention) is not counted as a view.
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
        r"怎么回事|有没有人知道|为什么不公开|隐瞒|掩盖|瞒报|内幕|[?？]{2,}",
    ),
    (
        "要求追责、严惩",
        r"严惩|追责|问责|彻查|严查|查处|法办|绳之以法|枪毙|偿命|判死刑|死刑|严肃处理|依法处理|"
        r"给个说法|给.{0,4}交代|给.{0,4}说法|负责到底|必须负责|谁来负责|处分|撤职|下台",
    ),
    (
        "愤怒谴责",
        r"畜生|牲口|禽兽|人渣|败类|杂种|无耻|卑鄙|可恶|丧尽天良|天理难容|没有人性|灭绝人性|该死|"
        r"去死|混蛋|王八蛋|太过分|气死|愤怒|愤慨|令人发指|\[怒\]|\[怒骂\]|\[抓狂\]",
    ),
    (
        "同情、哀悼",
        r"心疼|(?<!\[)可怜|难过|悲剧|悲哀|心酸|一路走好|节哀|安息|默哀|祈祷|保佑|愿.{0,6}平安|早日康复|"
        r"早日回家|(?<![A-Za-z])R\.?I\.?P(?![A-Za-z])|\[蜡烛\]|\[泪\]|\[伤心\]|\[悲伤\]",
    ),
    (
        "担忧、恐慌",
        r"可怕|恐怖|害怕|好怕|吓人|吓死|担心|担忧|不敢|不安全|小心|注意安全|提醒大家|以后还敢|人人自危|恐慌",
    ),
    (
        "批评监管部门和政府",
        r"不作为|乱作为|腐败|官官相护|一手遮天|干什么吃的|干啥吃的|监管缺失|监管不力|失职|渎职|形同虚设|"
        r"(?:有关部门|相关部门|政府|监管部门|警察|领导).{0,6}(?:呢[?？]|在哪|干嘛|干什么|不管|哪去了)|"
        r"体制问题|这就是中国|天朝|中国特色",
    ),
    (
        "呼吁理性，等待调查结果",
        r"理性|冷静|不信谣|不传谣|别乱传|不要乱传|等待.{0,6}(?:结果|调查|通报)|等.{0,4}官方|静待|真相大白|"
        r"(?<!怎么)相信.{0,4}(?:调查|官方)|以官方为准",
    ),
    ("调侃、戏谑", r"哈哈|呵呵|笑死|2333|段子|\[哈哈\]|\[偷笑\]|\[嘻嘻\]|\[挖鼻屎\]|吃瓜|围观"),
)
STANCES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(cues, re.IGNORECASE)) for label, cues in _STANCES
)
# Letters a remark needs to be quoted as representative (「[蜡烛]」 alone counts, but is not quoted).
_QUOTABLE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
QUOTE_MIN_LETTERS = 6


def stances(text: str) -> list[str]:
    """The stances a repost's or comment's own words take (its quoted chain is not its view)."""
    own = own_part(text)
    return [label for label, cues in STANCES if cues.search(own)]


_MENTIONS_AND_TAGS = re.compile(r"@[^\s:：,，。!！?？@/\[]+|\[[^\[\]\s]{1,10}\]")


def remark(text: str) -> str:
    """A repost's or comment's own words as a report quotes them: without the quoted chain, the
    friends it mentions (「@甲 @乙 …」) and its emoticon tags."""
    return re.sub(r"\s{2,}", " ", _MENTIONS_AND_TAGS.sub(" ", own_part(text))).strip()


def quotable(text: str) -> bool:
    return len(_QUOTABLE.findall(remark(text))) >= QUOTE_MIN_LETTERS


def representative_key(text: str, engagement: int, label: str) -> tuple[int, bool, int]:
    """How well a remark stands for its stance: the most engaged, then one that takes this stance
    alone (a rant taking four stands for none), then one of up to 60 letters over a shorter one."""
    return engagement, stances(text) == [label], min(len(_QUOTABLE.findall(remark(text))), 60)


@dataclass(frozen=True)
class Stance:
    label: str
    posts: tuple[int, ...]  # indexes into the reactions given


def sort_stances(
    texts: list[str], *, min_posts: int = 2, min_share: float = 0.05
) -> tuple[list[Stance], int]:
    """The stances taken by at least `min_posts` and `min_share` of the remarks that take any,
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
