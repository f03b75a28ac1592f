"""Topic rule language and matcher: parsing, error positions, matching real sentences."""

from __future__ import annotations

import random

import pytest

from yuqing.analysis.matcher import Segmenter, TopicMatch, TopicMatcher
from yuqing.analysis.rules import (
    MAX_NESTING,
    AllOf,
    AnyOf,
    Group,
    RuleSyntaxError,
    Term,
    parse_rule,
)

GROUPS = {"地域": ["南京", "江苏"], "主体": ["医院", "学校"]}
CLASSIC = "@地域 + @主体 + (投诉|事故|死亡) - 招聘"


# ---------------------------------------------------------------- parsing


def test_classic_rule_tree() -> None:
    rule = parse_rule(CLASSIC, GROUPS)
    assert isinstance(rule.root, AllOf)
    region, subject, events = rule.root.include
    assert isinstance(region, Group)
    assert region.name == "地域"
    assert [t.text for t in region.words] == ["南京", "江苏"]
    assert isinstance(subject, Group)
    assert events == AnyOf((Term("投诉"), Term("事故"), Term("死亡")))
    assert rule.root.exclude == (Term("招聘"),)
    assert str(rule) == "@地域 + @主体 + (投诉 | 事故 | 死亡) - 招聘"
    assert [t.text for t in rule.terms()] == ["南京", "江苏", "医院", "学校", "投诉", "事故", "死亡", "招聘"]
    assert "招聘" not in [t.text for t in rule.positive_terms()]
    tree = rule.tree()
    assert "词组 @地域: 南京 | 江苏" in tree
    assert "不含 (-)" in tree


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("A+B|C", "A + (B | C)"),  # | binds tighter than +
        ("A|B+C", "(A | B) + C"),
        ("A + B | C - D", "A + (B | C) - D"),
        ("A - B + C", "A + C - B"),  # + and - are one level: A and C, not B
        ("A - B - C", "A - B - C"),
        ("(A + B) | C", "(A + B) | C"),
        ("A - (B - C)", "A - (B - C)"),
        ("((A))", "A"),
    ],
)
def test_precedence_and_parentheses(text: str, shown: str) -> None:
    assert str(parse_rule(text)) == shown


def test_precedence_semantics() -> None:
    def holds(text: str, present: set[str]) -> bool:
        return parse_rule(text).evaluate(lambda t: t.text in present)

    assert holds("A + B | C", {"A", "C"})
    assert not holds("A + B | C", {"C"})
    assert holds("A - B + C", {"A", "C"})
    assert not holds("A - B + C", {"A", "B", "C"})
    assert holds("A - (B - C)", {"A", "B", "C"})
    assert not holds("A - (B - C)", {"A", "B"})


def test_quotes_keep_operators_and_spaces() -> None:
    rule = parse_rule('"new york" + "A+B(1)" | “中 国”')
    assert [t.text for t in rule.terms()] == ["new york", "A+B(1)", "中 国"]
    assert str(rule) == '"new york" + ("A+B(1)" | "中 国")'


def test_full_width_operators() -> None:
    full = parse_rule("（南京｜江苏）＋医院－招聘")
    half = parse_rule("(南京|江苏)+医院-招聘")
    assert full.root == half.root


def test_hyphen_inside_ascii_word() -> None:
    assert [t.text for t in parse_rule("COVID-19 + 疫苗").terms()] == ["COVID-19", "疫苗"]
    assert str(parse_rule("疫情-谣言")) == "疫情 - 谣言"
    assert str(parse_rule("abc - def")) == "abc - def"


def test_whole_word_syntax() -> None:
    rule = parse_rule('[市长] + 【局长】 + ["new york"] + [@主体] + 长江', GROUPS)
    terms = rule.terms()
    assert Term("市长", whole_word=True) in terms
    assert Term("局长", whole_word=True) in terms
    assert Term("new york", whole_word=True) in terms
    assert Term("医院", whole_word=True) in terms
    assert Term("长江") in terms
    assert "[市长]" in str(rule)
    assert "[@主体]" in str(rule)


def test_group_words_can_be_whole_word() -> None:
    rule = parse_rule("@官员 + 讲话", {"官员": ["[市长]", "书记", " ", '"局长"']})
    assert [(t.text, t.whole_word) for t in rule.terms()] == [
        ("市长", True),
        ("书记", False),
        ("局长", False),
        ("讲话", False),
    ]


def test_group_name_with_at_sign_in_mapping() -> None:
    assert parse_rule("@地域", {"@地域": ["南京"]}).terms() == (Term("南京"),)


def test_short_whole_word_setting() -> None:
    rule = parse_rule('市长 + "长江" + 南京长江大桥 + @g', {"g": ["局长"]}, short_whole_word=2)
    assert [(t.text, t.whole_word) for t in rule.terms()] == [
        ("市长", True),
        ("长江", False),  # quoted: literal, never made whole-word
        ("南京长江大桥", False),
        ("局长", True),
    ]
    assert not any(t.whole_word for t in parse_rule("市长 + 局长").terms())  # off by default


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("(南京 + 医院", 0, "右括号"),
        ("南京 + (医院 | (学校)", 5, "右括号"),
        ("南京 + 医院)", 7, "右括号没有对应的左括号"),
        ("南京 +", 3, "“+”后缺少词语"),
        ("+ 南京", 0, "“+”前缺少词语"),
        ("南京 + | 医院", 5, "中间缺少词语"),
        ("南京 | ", 3, "“|”后缺少词语"),
        ("- 招聘", 0, "“-”前缺少词语"),
        ('南京 + ""', 5, "引号内没有内容"),
        ('南京 + "医院', 5, "没有结束"),
        ("@地域 + @未知", 6, "“@未知”未定义"),
        ("南京 医院", 3, "缺少运算符"),
        ("南京 + ()", 5, "括号内没有内容"),
        ("[市长 + 医院", 4, "应为“]”"),
        ("[]", 0, "方括号内没有内容"),
        ("@ + 南京", 0, "缺少词组名"),
        ("@空 + 南京", 0, "没有词语"),
    ],
)
def test_error_positions(text: str, position: int, fragment: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(text, {**GROUPS, "空": [" "]})
    assert caught.value.position == position
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(f"第 {position + 1} 个字符处")


def test_brackets_nested_past_the_limit_are_a_syntax_error_not_a_crash() -> None:
    """400 nested brackets exhausted the parser's stack (a 500 in the rule tester)."""
    deep = "(" * 400 + "医院" + ")" * 400
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(deep)
    assert caught.value.position == MAX_NESTING
    assert f"的括号嵌套超过 {MAX_NESTING} 层" in str(caught.value)
    limit = "(" * MAX_NESTING + "医院 | 学校" + ")" * MAX_NESTING
    assert TopicMatcher({"深": limit}).match("学校门口发生事故")


def test_empty_rule() -> None:
    with pytest.raises(RuleSyntaxError, match="规则为空") as caught:
        parse_rule("   ")
    assert caught.value.position == 0


def test_matcher_names_the_topic_of_a_bad_rule() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        TopicMatcher({"ok": "南京", "bad": "南京 + (医院"})
    assert caught.value.topic_id == "bad"
    assert caught.value.position == 5


# ---------------------------------------------------------------- matching


def matcher(**rules: str) -> TopicMatcher[str]:
    return TopicMatcher(rules, groups=GROUPS)


def test_classic_rule_on_real_sentences() -> None:
    m = matcher(t=CLASSIC)
    assert m.match("南京鼓楼医院发生医疗事故，家属投诉无门") == [
        TopicMatch("t", ("南京", "医院", "投诉", "事故")),
    ]
    assert m.match("江苏某学校一名学生死亡，校方回应") == [TopicMatch("t", ("江苏", "学校", "死亡"))]
    # Exclusion: a recruitment ad mentioning the same words does not match.
    assert m.match("南京某医院招聘护士，医疗事故责任险全包") == []
    # Every required part is needed.
    assert m.match("南京医院今天接待了很多病人") == []
    assert m.match("上海医院发生事故") == []


def test_whole_word_does_not_fire_inside_other_words() -> None:
    m = matcher(mayor="[市长]", river="长江", bridge="[长江大桥]")
    topics = [x.topic_id for x in m.match("南京市长江大桥今天封闭施工")]
    assert "mayor" not in topics  # 南京市/长江大桥: 市长 straddles two words
    assert "river" in topics  # substring term: counts anywhere
    assert "bridge" in topics
    assert [x.topic_id for x in m.match("副市长今天视察工作")] == ["mayor"]


def test_whole_word_spanning_several_words_counts() -> None:
    # jieba cuts 鼓楼/医院; the term starts and ends on boundaries, so it is a whole-word hit.
    assert [x.topic_id for x in matcher(t="[鼓楼医院] + 事故").match("鼓楼医院门口发生交通事故")] == ["t"]


def test_whole_word_in_exclusion_and_or() -> None:
    m = matcher(a="事故 - [市长]", b="事故 + ([市长] | 大桥)")
    assert [x.topic_id for x in m.match("南京市长江大桥发生事故")] == ["a", "b"]
    assert [x.topic_id for x in m.match("市长赶到事故现场")] == ["b"]
    assert m.match("市长赶到事故现场")[0].fired_terms == ("事故", "市长")


def test_ascii_case_insensitive() -> None:
    m = matcher(t='iPhone + "New York"')
    assert m.match("IPHONE 发布会在 new york 举行") == [TopicMatch("t", ("iPhone", "New York"))]


def test_fired_terms_only_positive_and_present() -> None:
    m = matcher(t="(南京|江苏) + (事故|死亡|受伤) - 招聘")
    assert m.match("江苏一工地发生事故，两人受伤") == [TopicMatch("t", ("江苏", "事故", "受伤"))]


def test_many_rules_at_once() -> None:
    rules = {
        "nj_hospital": CLASSIC,
        "school_safety": "@主体 + (溺水|踩踏|食物中毒)",
        "fire": "(火灾|起火|爆炸) - 演习",
        "mayor": "[市长] + (回应|讲话)",
        "river": "长江 + (污染|禁渔)",
        "rumour": '"网传" + 辟谣',
    }
    m = TopicMatcher(rules, groups=GROUPS)
    post = "网传南京某学校发生食物中毒，官方辟谣；另有小区起火，市长回应"
    assert [x.topic_id for x in m.match(post)] == ["school_safety", "fire", "mayor", "rumour"]
    assert m.match_batch(["长江沿岸禁渔十年", "消防演习：模拟火灾", ""]) == [
        [TopicMatch("river", ("长江", "禁渔"))],
        [],
        [],
    ]
    assert len(m) == 6
    assert m.stats()["rules"] == 6


def test_unit_words_change_segmentation() -> None:
    post = "家长到市长江路小学门口维权"  # jieba alone: 到市/长江路/小学
    rules = {"school": "[市长江路小学] + 维权", "mayor": "[市长] + 维权"}
    assert TopicMatcher(rules).match(post) == []
    with_word = TopicMatcher(rules, unit_words=["市长江路小学"])
    assert with_word.match(post) == [TopicMatch("school", ("市长江路小学", "维权"))]
    # A unit word also stops a shorter whole-word term firing inside it.
    hospital = {"h": "[医院] + 事故"}
    assert TopicMatcher(hospital).match("鼓楼医院门口发生交通事故") != []
    assert TopicMatcher(hospital, unit_words=["鼓楼医院"]).match("鼓楼医院门口发生交通事故") == []


def test_segmentation_by_runs_equals_full_text() -> None:
    seg = Segmenter()
    text = "南京市长江大桥，今天（周一）封闭！市民@南京发布 称：COVID-19 疫情…"
    full = {start for _, start, _ in seg.jieba.tokenize(text)} | {len(text)}
    assert {p for p in range(len(text) + 1) if seg.is_boundary(text, p)} == full


def test_empty_matcher_and_no_hits() -> None:
    assert TopicMatcher({}).match("南京") == []
    assert matcher(t="南京").match("上海") == []


def test_agrees_with_reference_semantics_on_random_rules() -> None:
    """Compiled matching (trigger index, generated tests, lazy whole-word) equals a tree walk."""
    rng = random.Random(7)
    words = ["南京", "市长", "长江", "大桥", "医院", "事故", "学校", "投诉", "江苏", "死亡", "招聘"]
    posts = [
        "南京市长江大桥发生事故",
        "副市长到医院看望事故伤者",
        "江苏某学校招聘教师",
        "南京医院投诉",
        "长江大桥上有人死亡，市长回应",
        "学校门口事故，家长投诉",
    ]

    def term() -> str:
        word = rng.choice(words)
        return f"[{word}]" if rng.random() < 0.3 else word

    def expr(depth: int) -> str:
        if depth == 0 or rng.random() < 0.3:
            return term()
        op = rng.choice([" + ", " | ", " - "])
        return f"({expr(depth - 1)}{op}{expr(depth - 1)})"

    rules = {k: expr(3) for k in range(300)}
    m = TopicMatcher(rules)
    seg = Segmenter()
    for post in posts:

        def present(t: Term, post: str = post) -> bool:
            start = post.find(t.text)
            while start >= 0:
                end = start + len(t.text)
                if not t.whole_word or (seg.is_boundary(post, start) and seg.is_boundary(post, end)):
                    return True
                start = post.find(t.text, start + 1)
            return False

        expected = [k for k, rule in m.rules.items() if rule.evaluate(present)]
        got = m.match(post)
        assert [x.topic_id for x in got] == expected, post
        for hit in got:
            positive = {t.text for t in m.rules[hit.topic_id].positive_terms() if present(t)}
            assert set(hit.fired_terms) == positive


def test_syntax_error_survives_pickling() -> None:
    import pickle

    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule("南京 +")
    caught.value.topic_id = 7
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.position, copy.topic_id, str(copy)) == (3, 7, str(caught.value))


def test_bench_smoke() -> None:
    from yuqing.analysis import rules_bench
    from yuqing.demo import find_ced_file

    path = find_ced_file()
    if path is None:
        pytest.skip("CED data not available")
    table = rules_bench.bench(n_rules=200, n_posts=400, seed=1, path=path, baseline_posts=100)
    assert "posts/s" in table
    assert "same topics as the naive baseline on 100/100 posts" in table
