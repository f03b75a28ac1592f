"""Build the shipped drill scenarios from real CED cascades (``../shared/data/events/``).

Run from the repository root::

    .venv/bin/python scripts/build_drill_scenarios.py [--data ../shared/data/events/ced_dev.jsonl.gz]

For each scenario below it takes one cascade of the CED dev file (Song et al. 2018), keeps the
original and the reposts and comments with text published within the first 24 hours (at most
300 posts, the earliest), and writes them to ``src/yuqing/drills/scenarios/<key>.toml`` with
their times relative to the original, the platform's engagement figures of the original, and
the reply links that stay inside the kept posts. What is not from the data is written here and
marked as such: the injects (a journalist calls, a superior asks for a report, a large account
reposts — its post quotes the original and a real comment of the cascade), the subjects to score
(seed 001's four, plus reporting after the superior's request) and the topic rule suggested for
catching the incident. The expected category follows the cascade's label (rumour →
捏造/歪曲/谣言/诽谤); the expected grade is what the default plan profile gives the posts that
the suggested rule catches, computed with yuqing's own sentiment model, metrics and grading.

The CED dev file has no cascade about food safety in a school canteen or about a chemical plant
as such; the closest real ones are used and the scenario's description says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from yuqing.analysis import grading  # noqa: E402
from yuqing.analysis.incidents import IncidentModel  # noqa: E402
from yuqing.analysis.matcher import TopicMatcher  # noqa: E402
from yuqing.analysis.metrics import PostFacts, compute  # noqa: E402
from yuqing.analysis.sentiment import SentimentModel  # noqa: E402
from yuqing.analysis.steps import trusted_flags  # noqa: E402
from yuqing.drills.scenario import SCENARIOS_DIR, parse_scenario  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "events" / "ced_dev.jsonl.gz"
HORIZON_SECONDS = 24 * 3600
MAX_POSTS = 300
CATEGORY = {"rumor": "捏造/歪曲/谣言/诽谤", "non-rumor": "属实批评"}
SUBJECTS = [
    ("现场信息发布", "responded", 120, "detection"),
    ("重大事件信息发布", "released", 120, "detection"),
    ("突发事件现场协调", "task_done", 120, "detection"),
    ("社会稳定评估", "assessed", 120, "detection"),
    ("信息报送", "reported", 60, "superior"),
]


@dataclass(frozen=True)
class Spec:
    key: str
    cascade: str
    name: str
    description: str
    topic_hint: str
    journalist: str
    superior: str
    big_account: str
    big_account_followers: int
    big_account_reposts: int
    big_account_comment: str  # the id of the real repost whose words the large account adds


SPECS = [
    Spec(
        key="hospital_rumour",
        cascade="22_zqN8ejall_1913366090",
        name="医院H7N9死亡病例谣言（永康中医院）",
        description=(
            "2013 年 4 月，微博流传“永康中医院今天死亡一例外地归来患者……注意预防H7N9”。"
            "按真实传播链（CED 数据集，标注为谣言）回放原帖及其后 24 小时内的转发和评论，"
            "其中有网友求证、当地官方微博辟谣。考察卫生健康部门发现、报告、研判、辟谣和协调的速度。"
        ),
        topic_hint="(医院 | 卫生院) + (死亡 | H7N9 | 禽流感)",
        journalist="本地报社记者来电，询问永康市中医院是否出现H7N9死亡病例，希望一小时内得到答复。",
        superior="上级网信部门来电：网传永康中医院出现H7N9死亡病例，请立即核实，一小时内报送核查情况和处置措施。",
        big_account="本地生活资讯大V（演练设定）",
        big_account_followers=1_200_000,
        big_account_reposts=380,
        big_account_comment="22_zqN8ejall_1913366090/zqNwFzWZw",
    ),
    Spec(
        key="school_food_rumour",
        cascade="327_zdfsjjCVP_2161472783",
        name="儿童饮品食品安全传言（果粒橙“多菌灵”）",
        description=(
            "2013 年 1 月，家长中流传“可口可乐承认果粒橙含美国禁用农药多菌灵……不要给孩子们喝这种饮料”。"
            "这是一条面向家长、涉及儿童饮品的食品安全传言（按真实传播链回放，CED 数据集标注为谣言）。"
            "适合教育部门、学校和市场监管部门演练家长关切的回应。"
        ),
        topic_hint="(果粒橙 | 饮料 | 饮品) + (农药 | 多菌灵 | 致癌 | 癌症 | 不要喝 | 不能喝 | 别喝)",
        journalist="本地电视台民生栏目记者来电，询问辖区学校、幼儿园是否供应涉事饮品，要求当天答复。",
        superior="上级主管部门要求一小时内报送辖区学校饮品供应情况、家长关切和处置措施。",
        big_account="育儿资讯大V（演练设定）",
        big_account_followers=800_000,
        big_account_reposts=260,
        big_account_comment="327_zdfsjjCVP_2161472783/zdkyMitBo",
    ),
    Spec(
        key="chemical_plant_rumour",
        cascade="2361_z2A0jbYF1_1179393941",
        name="化工项目泄漏致死谣言（宁波 PX）",
        description=(
            "2012 年 10 月宁波镇海 PX 项目事件期间，微博把印度博帕尔农药厂毒气泄漏说成"
            "“P~X项目发生氰化物泄漏……2.5万人直接致死”，并@宁波发布。"
            "按真实传播链（CED，标注为谣言）回放，其中有网友指出泄漏物是异氰酸甲酯而非 PX。"
            "考察发现、报告、研判和辟谣化工项目安全谣言的速度。"
        ),
        topic_hint="(PX | 化工 | 项目) + (泄漏 | 泄露 | 致死 | 毒气 | 氰化物)",
        journalist="财经媒体记者来电，询问本地化工项目是否存在氰化物泄漏风险，要求提供安全监管情况。",
        superior="市政府办公室要求一小时内报送化工项目安全情况、谣言传播情况和应对措施。",
        big_account="城市热点大V（演练设定）",
        big_account_followers=2_000_000,
        big_account_reposts=520,
        big_account_comment="2361_z2A0jbYF1_1179393941/z2A1vn69A",
    ),
]


def read_cascades(path: Path, wanted: set[str]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {key: [] for key in wanted}
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        for line in stream:
            row = json.loads(line)
            if row.get("cascade") in wanted:
                rows[row["cascade"]].append(row)
    return rows


def _time(row: dict[str, Any]) -> dt.datetime | None:
    value = row.get("published_at")
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def scenario_posts(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The original, and the TOML tables of the kept posts (original first, then by time)."""
    original = next(r for r in rows if r["kind"] == "original")
    start = _time(original)
    assert start is not None
    kept = []
    for row in rows:
        at = _time(row)
        if row is original or at is None or not (row.get("text") or "").strip():
            continue
        offset = (at - start).total_seconds()
        if 0 <= offset <= HORIZON_SECONDS:
            kept.append((offset, row))
    kept.sort(key=lambda item: (item[0], item[1]["id"]))
    kept = kept[: MAX_POSTS - 1]
    keys = {row["id"]: "r-" + row["id"].split("/", 1)[1] for _, row in kept}
    author = original.get("author") or {}
    posts: list[dict[str, Any]] = [
        {
            "id": "o",
            "at": 0,
            "kind": "original",
            "author": "原帖作者",
            "followers": int(author.get("followers") or 0),
            "verified": bool(author.get("verified")),
            "location": author.get("location") or None,
            "reposts": int(original.get("reposts") or 0),
            "comments": int(original.get("comments") or 0),
            "likes": int(original.get("likes") or 0),
            "text": original["text"].strip(),
        }
    ]
    for offset, row in kept:
        post: dict[str, Any] = {"id": keys[row["id"]], "at": int(offset), "kind": "repost"}
        parent = f"{original['cascade']}/{row['parent']}" if row.get("parent") else None
        if parent in keys:
            post["parent"] = keys[parent]
        post["text"] = row["text"].strip()
        posts.append(post)
    return original, posts


def expected_grade(spec: Spec, posts: list[dict[str, Any]], start: dt.datetime) -> str | None:
    """The default profile's grade for the posts the suggested rule catches, as the pipeline
    would measure them."""
    matcher = TopicMatcher({1: spec.topic_hint})
    texts = [p["text"] for p in posts]
    caught = [p for p, hits in zip(posts, matcher.match_batch(texts), strict=True) if hits]
    texts = [p["text"] for p in caught]
    moods = SentimentModel.load().predict(texts, apply_flags=False)
    incidents = IncidentModel.load().predict(texts)
    facts = []
    for index, (p, mood, incident) in enumerate(zip(caught, moods, incidents, strict=True)):
        # the pipeline's rule: the flags a post's text supports, and a flagged post is negative
        flags = trusted_flags(incident.incident, incident.casualties, incident.public_safety, mood.flags)
        negative = bool(flags) or mood.label == "negative"
        at = start + dt.timedelta(seconds=float(p["at"]))
        facts.append(
            PostFacts(
                post_id=index,
                published_at=at,
                fetched_at=at,
                platform="weibo",
                kind=p.get("kind", "original"),
                media_tier="other",
                url=None,
                source_id=1,
                text=p["text"],
                negative=negative,
                flags=flags,
                topics=(1,),
                reposts=p.get("reposts"),
                comments=p.get("comments"),
                likes=p.get("likes"),
                incident=incident.incident,
                casualties=incident.casualties,
                public_safety=incident.public_safety,
                author_verified=p.get("verified"),
            )
        )
    end = start + dt.timedelta(seconds=float(max(p["at"] for p in posts)))
    metrics = compute(facts, end)
    result = grading.grade(grading.load_profile(None), metrics.values, metrics.flags, metrics.evidence)
    return result.code if result else None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # A JSON string is a TOML basic string, once DEL (allowed raw in JSON) is escaped too.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007F")


def _table(header: str, items: dict[str, Any]) -> Iterable[str]:
    yield header
    for key, value in items.items():
        if value is not None:
            yield f"{key} = {_toml_value(value)}"
    yield ""


def build(spec: Spec, rows: list[dict[str, Any]], data_path: Path) -> str:
    original, posts = scenario_posts(rows)
    start = _time(original)
    assert start is not None
    by_id = {r["id"]: r for r in rows}
    comment = (by_id[spec.big_account_comment].get("text") or "").strip()
    big_post = {
        "id": "bigv",
        "kind": "repost",
        "author": spec.big_account,
        "followers": spec.big_account_followers,
        "verified": True,
        "reposts": spec.big_account_reposts,
        "comments": spec.big_account_reposts // 4,
        "text": f"{comment}//@原帖作者:{original['text'].strip()}",
    }
    big_at = 90 * 60
    grade = expected_grade(spec, [*posts, {**big_post, "at": big_at}], start)
    lines = [
        f"# Built by scripts/build_drill_scenarios.py from CED cascade {spec.cascade}: do not edit by hand.",
        "# Posts, their times and engagement are the cascade's; injects, subjects and expectations are",
        "# the drill's design (see the script).",
        f"name = {_toml_value(spec.name)}",
        f"description = {_toml_value(spec.description)}",
        "",
    ]
    lines += _table(
        "[source]",
        {
            "dataset": "CED (Song et al. 2018), ced_dev.jsonl.gz",
            "file": data_path.name,
            "cascade": spec.cascade,
            "label": original.get("rumor"),
            "published_at": original.get("published_at"),
            "posts_kept": f"原帖及其后 24 小时内有文字的转发评论，最多 {MAX_POSTS} 条",
            "built_by": "scripts/build_drill_scenarios.py",
        },
    )
    lines += _table(
        "[expect]",
        {
            "grade": grade,
            "category": CATEGORY.get(str(original.get("rumor"))),
            "released": True,
            "topic_hint": spec.topic_hint,
        },
    )
    for name, action, limit, started in SUBJECTS:
        lines += _table(
            "[[subjects]]", {"name": name, "done_when": action, "limit_minutes": limit, "start": started}
        )
    for key, at, kind, text, to in (
        ("journalist", 30 * 60, "记者来电", spec.journalist, ["办公室"]),
        ("superior", 60 * 60, "上级要求报送", spec.superior, ["办公室", "分管领导"]),
        (
            "big_account",
            big_at,
            "大V转发",
            f"{spec.big_account}转发了原帖，评论：“{comment}”，转发量快速上升。",
            [],
        ),
    ):
        lines += _table("[[injects]]", {"id": key, "at": at, "kind": kind, "text": text, "to": to or None})
        if kind == "大V转发":
            lines += _table("[[injects.posts]]", big_post)
    for post in posts:
        lines += _table("[[posts]]", post)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the CED file (ced_dev.jsonl.gz)")
    parser.add_argument("--out", type=Path, default=SCENARIOS_DIR, help="where to write the scenarios")
    args = parser.parse_args()
    cascades = read_cascades(args.data, {spec.cascade for spec in SPECS})
    args.out.mkdir(parents=True, exist_ok=True)
    import tomllib

    for spec in SPECS:
        text = build(spec, cascades[spec.cascade], args.data)
        scenario = parse_scenario(tomllib.loads(text), spec.key)  # the shipped file must load
        target = args.out / f"{spec.key}.toml"
        target.write_text(text, encoding="utf-8")
        print(
            f"{target}: {len(scenario.posts)} 条信息，{len(scenario.injects)} 个情景注入，"
            f"预期等级 {scenario.expect.grade_name or '无'}，场景时长 {scenario.duration / 3600:.1f} 小时"
        )


if __name__ == "__main__":
    main()
