"""`yuqing demo`: a database filled from the CED Weibo cascades, ready to explore.

The CED posts are from 2010-2015 and the file lists them cascade by cascade, not in time order.
An office's console looks at the last hours and days, and the analysis reads posts in the order
they are stored, so the history is loaded the way a monitoring system would have collected it:
in publishing order, with every time shifted by one amount so that the newest post was published
just before the demo starts (`HISTORY_GAP`). Intervals between posts are kept; each shifted row
keeps its real time in `original_published_at` (stored with the post's other fields, as
evidence). The live replay (`yuqing.replay`) then continues from there.

The CED originals carry their repost, comment and like counts as read when the data set was
crawled, months or years after the posts: a live monitor reading a post when it is published
does not know them. Fed as the post's own counts, a cascade's lifetime reposts counted as reposts
of its first day (「单日转发量 813」 where the collected reposts of the busiest day were 58) and
made events 特别重大 on spread they never had that day. The demo keeps those figures as
evidence (`crawled_reposts`, `crawled_comments`, `crawled_likes`) and gives the posts no counts
of their own (`as_collected`): spread is measured by the reposts collected, each on its own day.

The newest tenth of a percent of the rows is left out (`HISTORY_TAIL`): in the CED file they are
stray reposts of old cascades, up to 20 months after the rest (which ends in April 2014). Put at
the demo's start, they pushed the whole history back by those months, so nothing of it fell in
the console's last days and no story replayed live could flare up again in its old event (a
closed event is kept 400 days).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import select

from yuqing.analysis.matcher import TopicMatcher
from yuqing.ingest import service
from yuqing.ingest.errors import IngestError
from yuqing.ingest.models import FetchRun, Source
from yuqing.ingest.normalise import to_simplified
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

DEMO_SOURCE = "演示:微博谣言与非谣言传播数据(CED)"
CED_RELATIVE = Path("shared/data/events/ced_dev.jsonl.gz")
# With the replay (`yuqing demo --replay`, the default) only these first rows are loaded as
# history; the replay (`yuqing.replay`) feeds cascades from later rows while the server runs.
DEMO_HISTORY_ROWS = 300_000
# How long before the demo starts the newest history post is published.
HISTORY_GAP = dt.timedelta(minutes=5)
# Share of the newest history rows left out (stray late reposts; see the module docstring).
HISTORY_TAIL = 0.001


def find_ced_file() -> Path | None:
    """The CED file: YUQING_DEMO_DATA, else ../shared/data beside the working directory or the repo."""
    env = os.environ.get("YUQING_DEMO_DATA")
    if env:
        return Path(env)
    candidates = [Path.cwd().parent / CED_RELATIVE, Path.cwd() / CED_RELATIVE]
    candidates += [parent / CED_RELATIVE for parent in Path(__file__).resolve().parents]
    return next((c for c in candidates if c.is_file()), None)


def load_demo(
    rt: Runtime, data: Path | None, *, rows: int | None = None, echo: Callable[[str], None] = print
) -> None:
    path = data or find_ced_file()
    if path is None or not path.is_file():
        raise IngestError("找不到演示数据 ced_dev.jsonl.gz：请用 --data 指定，或设置 YUQING_DEMO_DATA")
    with rt.sessions() as session:
        done = session.scalar(
            select(FetchRun.id)
            .join(Source, FetchRun.source_id == Source.id)
            .where(Source.name == DEMO_SOURCE, FetchRun.outcome.in_(["success", "partial"]))
        )
        has_webhook = session.scalar(select(Source.id).where(Source.name == "演示:推送接口")) is not None
    if done is None:
        raw, left_out = history_rows(path.read_bytes(), rows, rt.clock() - HISTORY_GAP)
        size = "约 64 万行" if rows is None else f"前 {rows} 行"
        echo(f"正在导入演示数据 {path}（{size}，需要一两分钟）……")
        if left_out:
            echo(f"最晚的 {left_out} 条（远晚于其余数据的零星转发）不导入，以免整段历史被推到很久以前")
        writer = PostWriter(rt.sessions, rt.settings, rt.clock)
        counts = service.import_data(
            rt, writer, raw, origin=str(path), file_format="jsonl", source_name=DEMO_SOURCE, platform="weibo"
        )
        echo(
            f"导入完成：新增 {counts.new}，重复 {counts.duplicate}，近似重复 {counts.near_duplicate}，"
            f"拒收 {counts.rejected}"
        )
    else:
        echo("演示数据已导入，跳过。")
    _demo_topics(rt, echo)
    _demo_org(rt, echo)
    _demo_accounts(rt, echo)
    if not has_webhook:
        source, token = service.add_source(rt, "webhook", None, name="演示:推送接口", platform="weibo")
        echo(f"演示推送接口：POST /api/v1/webhooks/{source.id}，Authorization: Bearer {token}")


def _lines(raw: bytes, rows: int | None) -> Iterator[bytes]:
    stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if raw[:2] == b"\x1f\x8b" else io.BytesIO(raw)
    for number, line in enumerate(stream):
        if rows is not None and number >= rows:
            break
        if line.strip():
            yield line


def published_at(value: object) -> dt.datetime | None:
    """A row's `published_at` as an aware time (naive ones are UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        found = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return found.replace(tzinfo=dt.UTC) if found.tzinfo is None else found


# A post's engagement counts, as its platform reports them.
ENGAGEMENT = ("reposts", "comments", "likes", "views")


def as_collected(row: dict[str, object]) -> dict[str, object]:
    """The row as a monitor reading it when published would have it: the counts the data set read
    at its crawl, long after, kept as `crawled_<name>` (evidence) rather than as its own counts."""
    for name in ENGAGEMENT:
        if name in row:
            row[f"crawled_{name}"] = row.pop(name)
    return row


def history_rows(raw: bytes, rows: int | None, newest: dt.datetime) -> tuple[bytes, int]:
    """The first `rows` JSON lines of `raw` (gzip or not; all when None) in publishing order, every
    time moved by the one amount that puts the newest kept at `newest`, each shifted row keeping
    its real time as `original_published_at`, and how many of the newest were left out
    (`HISTORY_TAIL`). Rows without a time come last, unchanged."""
    timed: list[tuple[dt.datetime, int, bytes]] = []
    untimed: list[bytes] = []
    for number, line in enumerate(_lines(raw, rows)):
        at = published_at(json.loads(line).get("published_at"))
        if at is None:
            untimed.append(line)
        else:
            timed.append((at, number, line))
    timed.sort(key=lambda item: (item[0], item[1]))
    left_out = int(len(timed) * HISTORY_TAIL)
    timed = timed[: len(timed) - left_out]
    shift = newest - timed[-1][0] if timed else dt.timedelta(0)
    out = io.BytesIO()
    for at, _number, line in timed:
        row = as_collected(json.loads(line))
        row["original_published_at"] = row["published_at"]
        row["published_at"] = (at + shift).isoformat()
        out.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
    for line in untimed:
        out.write(json.dumps(as_collected(json.loads(line)), ensure_ascii=False).encode("utf-8") + b"\n")
    return out.getvalue(), left_out


# Word groups and topics of a city government whose health commission watches hospitals and
# outbreaks, education bureau watches schools and exams, market regulator watches food safety.
# Written the way a monitoring office writes them: a subject (who or what the unit answers for)
# AND an incident word (what went wrong), minus what only looks like one — ads, recruiting,
# horoscopes, fiction and TV, recipes, give-aways. A short word that hides inside longer ones is
# whole-word ([鱼] is not 鱼浮灵's 鱼; [肉] is not 肉身); a word that is a subject in other senses
# (毒 in 病毒, 吸毒, 毒打; 老师 as an honorific; 同学 as a nickname) is left out or spelt in full.
# Checked on the 1,693 CED originals (tests/test_demo.py keeps the cases that decided a word).
def _words(text: str) -> list[str]:
    return text.split()


DEMO_GROUPS: dict[str, tuple[str, list[str]]] = {
    "医疗主体": (
        "主体",
        _words("""
            医院 卫生院 诊所 卫生室 医务室 急救中心 疾控 妇幼保健 医生 医师 护士 医护 医务人员 [大夫]
            村医 卫生局 卫生厅 卫计委 卫健委 产科 急诊 手术台 救护车 急救车
        """),
    ),
    "医疗事件": (
        "事件",
        _words("""
            医疗事故 医疗纠纷 医患纠纷 医患冲突 医闹 误诊 漏诊 伤医 杀医 袭医 打医生 殴打医生 砍伤医生
            红包 回扣 拒收 拒诊 拒绝接收 拒绝救治 见死不救 延误治疗 过度医疗 天价 乱收费 医药费 医疗费
            非法行医 无证行医 黑诊所 假药 医德 态度恶劣 抢救无效 死在医院 手术中死亡 术中死亡 产妇死亡
            婴儿死亡 新生儿死亡 患者死亡 病人死亡 猝死 跳楼 坠楼 停尸 拉横幅 讨说法 无德 违规 院内感染
            交叉感染
        """),
    ),
    "疫病词": ("主体", _words("H7N9 禽流感 非典 SARS 疫情 传染病 霍乱 鼠疫 手足口 狂犬病")),
    "疫情事件": ("事件", _words("确诊 病例 死亡 感染 隔离 暴发 爆发 扩散 传播")),
    "学校主体": (
        "主体",
        _words("""
            [学校] 小学 中学 初中 高中 幼儿园 托儿所 [学生] 小学生 中学生 初中生 高中生 [老师] 教师
            班主任 [校长] 校方 校园 校车 师生 学童 幼师 教室 寝室 宿舍 室友 高校 考生 高考 中考 招办
            教育局
        """),
    ),
    "校园事件": (
        "事件",
        _words("""
            死亡 身亡 打死 殴打 毒打 被打 打伤 体罚 猥亵 性侵 强奸 欺凌 霸凌 坠楼 跳楼 自杀 失踪 走失
            拐卖 被拐 抢走 绑架 捅死 捅伤 刺死 刺伤 刺杀 砍伤 砍死 杀害 凶杀 血案 投毒 中毒 踩踏 火灾
            爆炸 炸毁 坍塌 溺水 翻车 调包 顶替 舞弊 泄题 失职 乱收费 拒收 撤并
        """),
    ),
    "食品主体": (
        "主体",
        _words("""
            食物 食用油 花生油 散装油 奶粉 牛奶 酸奶 饮料 果汁 可乐 果粒橙 瓶装水 易拉罐 猪肉 牛肉 羊肉
            鸡肉 [鸡] 速生鸡 [肉] [鱼] [虾] [油] 大闸蟹 海鲜 蔬菜 水果 樱桃 大米 面粉 拉面 馒头 月饼 饺子
            砂锅粥 笋干 紫薯
            外卖 餐馆 饭店 餐厅 小吃 食堂 零食 白酒 假酒 罐头 酱油 鲑鱼 巧克力 饼干 问题食品 过期食品
            不合格食品 食品厂 食品公司 食品企业 食品检验 危害食品安全
        """),
    ),
    "食品事件": (
        "事件",
        _words("""
            中毒 有毒 剧毒 毒奶 毒大米 毒豆芽 毒生姜 毒胶囊 毒食品 致癌 过期 变质 发霉 霉变 超标 不合格
            违禁 禁用 非法添加 农药 抗生素 土霉素 氯霉素 瘦肉精 三聚氰胺 苏丹红 孔雀石绿 塑化剂 黄曲霉
            甲醛 漂白 染色 墨水 假冒 造假 掺假 伪劣 地沟油 病死猪 死猪 注水肉 老鼠肉 蛆 活蛀虫 异物
            细菌 感染 大肠杆菌 弧菌 黑作坊 黑心 催肥 问题食品 食品安全事故 鱼浮灵 红虾粉 含氯 召回
            流入市场
        """),
    ),
    "排除词": (
        "排除",
        _words("""
            招聘 诚聘 招生简章 广告 优惠 折扣 团购 代购 包邮 促销 抽奖 转发抽奖 星座 运势 小说 电视剧
            剧情 剧组 综艺 电影 预告片 做法 食谱 菜谱
        """),
    ),
}
DEMO_TOPICS: list[tuple[str, str, str]] = [
    (
        "医疗卫生舆情",
        "((@医疗主体 + @医疗事件) | (@疫病词 + @疫情事件)) - 城管 - 享年 - 病逝 - 逝世 - 讣告 - @排除词",
        "市卫生健康委员会",
    ),
    ("校园安全舆情", "@学校主体 + @校园事件 - 城管 - 打死也 - 打死都 - @排除词", "市教育局"),
    ("食品安全舆情", "@食品主体 + @食品事件 - @排除词", "市市场监督管理局"),
]


def demo_topic_matcher() -> Callable[[str], bool]:
    """Whether a text matches one of the demo topics (as the pipeline would, after simplifying)."""
    groups = {name: words for name, (_kind, words) in DEMO_GROUPS.items()}
    matcher = TopicMatcher({name: (rule, groups) for name, rule, _unit in DEMO_TOPICS})
    return lambda text: bool(matcher.match(to_simplified(text)))


def _demo_topics(rt: Runtime, echo: Callable[[str], None]) -> None:
    from yuqing.analysis import topics

    existing = {t["name"] for t in topics.list_topics(rt)}
    for name, (kind, words) in DEMO_GROUPS.items():
        topics.set_word_group(rt, name, words, kind)
    for name, rule, unit in DEMO_TOPICS:
        if name not in existing:
            topics.add_topic(rt, name, rule, unit)
            echo(f"演示专题：{name}（{unit}）：{rule}")


# A city government with the bureaus that own the demo topics, and the people of the plan.
DEMO_UNITS: list[tuple[str, str | None, str, list[str]]] = [
    ("演示市人民政府", None, "government", ["南京", "江苏"]),
    ("市卫生健康委员会", "演示市人民政府", "bureau", []),
    ("市教育局", "演示市人民政府", "bureau", []),
    ("市市场监督管理局", "演示市人民政府", "bureau", []),
]
DEMO_PEOPLE: list[tuple[str, str, list[str]]] = [
    ("周市长", "演示市人民政府", ["chief", "leading_group"]),
    ("吴秘书长", "演示市人民政府", ["leading_group", "office", "duty_officer"]),
    ("郑主任", "市卫生健康委员会", ["deputy_leader"]),
    ("王宁", "市卫生健康委员会", ["office", "duty_officer"]),
    ("李静", "市卫生健康委员会", ["monitor", "duty_officer"]),
    ("冯副局长", "市教育局", ["deputy_leader"]),
    ("陈晨", "市教育局", ["office", "duty_officer"]),
    ("褚副局长", "市市场监督管理局", ["deputy_leader"]),
    ("卫敏", "市市场监督管理局", ["office", "duty_officer"]),
    ("管理员", "演示市人民政府", ["admin"]),
]


def _demo_org(rt: Runtime, echo: Callable[[str], None]) -> None:
    """Units, people with roles and a duty rotation per unit, unless already there."""
    import datetime as dt

    from yuqing.db import transaction
    from yuqing.org import duty
    from yuqing.org import service as org
    from yuqing.org.models import Unit

    with transaction(rt.sessions) as session:
        if session.scalar(select(Unit.id).where(Unit.name == DEMO_UNITS[0][0])) is not None:
            return
        ids: dict[str, int] = {}
        for name, parent, kind, regions in DEMO_UNITS:
            unit = org.create_unit(
                session, name, parent_id=ids[parent] if parent else None, kind=kind, regions=regions
            )
            ids[name] = unit.id
        on_duty: dict[str, list[int]] = {}
        for name, unit_name, roles in DEMO_PEOPLE:
            person = org.add_person(session, name, ids[unit_name])
            for role in roles:
                org.grant_role(session, person.id, role, ids[unit_name])
            if "duty_officer" in roles:
                on_duty.setdefault(unit_name, []).append(person.id)
        today = rt.clock().date()
        for unit_name, people in on_duty.items():
            # the bureaus watch round the clock (节假日值班 included); the city in working hours,
            # behind them
            hours = "working" if unit_name == DEMO_UNITS[0][0] else "all_day"
            duty.set_rotation(
                session, ids[unit_name], people, today - dt.timedelta(days=today.weekday()), hours=hours
            )
    echo("演示组织：演示市人民政府及市卫健委、市教育局、市市场监管局，人员与值班表已建立")


def _demo_accounts(rt: Runtime, echo: Callable[[str], None]) -> None:
    """A login for each demo person, with the demo password (listed on the demo's login page)."""
    from yuqing.accounts import service as accounts
    from yuqing.db import transaction

    with transaction(rt.sessions) as session:
        accounts.create_demo_accounts(session, now=rt.clock())
        logins = [account.login for account, _person in accounts.demo_accounts(session)]
    if logins:
        echo(f"演示账号（密码均为 {accounts.DEMO_PASSWORD}）：{'、'.join(logins)}")
