"""`yuqing demo`: a database filled from the CED Weibo cascades, ready to explore."""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from yuqing.ingest import service
from yuqing.ingest.errors import IngestError
from yuqing.ingest.models import FetchRun, Source
from yuqing.ingest.store import PostWriter
from yuqing.runtime import Runtime

DEMO_SOURCE = "演示:微博谣言与非谣言传播数据(CED)"
CED_RELATIVE = Path("shared/data/events/ced_dev.jsonl.gz")
# With the replay (`yuqing demo --replay`, the default) only these first rows are loaded as
# history; the replay (`yuqing.replay`) feeds cascades from later rows while the server runs.
DEMO_HISTORY_ROWS = 300_000


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
        raw = path.read_bytes()
        if rows is not None:
            raw = _first_rows(raw, rows)
        size = "约 64 万行" if rows is None else f"前 {rows} 行"
        echo(f"正在导入演示数据 {path}（{size}，需要一两分钟）……")
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


def _first_rows(raw: bytes, rows: int) -> bytes:
    stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if raw[:2] == b"\x1f\x8b" else io.BytesIO(raw)
    out = io.BytesIO()
    for number, line in enumerate(stream):
        if number >= rows:
            break
        out.write(line)
    return out.getvalue()


# Word groups and topics that fit the CED incidents: a city government whose health commission
# watches hospitals, education bureau watches schools, market regulator watches food safety.
DEMO_GROUPS: dict[str, tuple[str, list[str]]] = {
    "医疗主体": ("主体", ["医院", "医生", "护士", "卫生院", "诊所", "急诊", "产妇", "患者", "病人"]),
    "学校主体": ("主体", ["学校", "小学", "中学", "幼儿园", "老师", "教师", "学生", "校长", "校园"]),
    "食品词": (
        "主体",
        ["食品", "食物", "奶粉", "地沟油", "添加剂", "猪肉", "蔬菜", "饮料", "大米", "食用油"],
    ),
    "排除词": ("排除", ["招聘", "广告", "优惠"]),
}
DEMO_TOPICS: list[tuple[str, str, str]] = [
    (
        "医疗卫生舆情",
        "@医疗主体 + (死亡|身亡|事故|纠纷|打人|红包|误诊|投诉|医闹|手术) - @排除词",
        "市卫生健康委员会",
    ),
    ("校园安全舆情", "@学校主体 + (死亡|受伤|中毒|打人|猥亵|体罚|事故|坠楼|失踪|欺凌) - @排除词", "市教育局"),
    ("食品安全舆情", "@食品词 + (中毒|有毒|致癌|过期|假冒|黑心|变质|超标|毒) - @排除词", "市市场监督管理局"),
]


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
    ("吴秘书长", "演示市人民政府", ["leading_group", "office"]),
    ("郑主任", "市卫生健康委员会", ["deputy_leader"]),
    ("王宁", "市卫生健康委员会", ["office", "duty_officer"]),
    ("李静", "市卫生健康委员会", ["monitor", "duty_officer"]),
    ("冯局长", "市教育局", ["deputy_leader"]),
    ("陈晨", "市教育局", ["office", "duty_officer"]),
    ("褚局长", "市市场监督管理局", ["deputy_leader"]),
    ("卫敏", "市市场监督管理局", ["office", "duty_officer"]),
    ("管理员", "演示市人民政府", ["admin"]),
]


def _demo_org(rt: Runtime, echo: Callable[[str], None]) -> None:
    """Units, people with roles and a duty rotation per bureau, unless already there."""
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
            duty.set_rotation(session, ids[unit_name], people, today - dt.timedelta(days=today.weekday()))
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
