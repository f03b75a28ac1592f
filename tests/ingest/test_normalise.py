import datetime as dt

import pytest

from yuqing.ingest.normalise import (
    canonical_url,
    content_key,
    html_to_text,
    parse_timestamp,
    to_display_time,
    to_simplified,
)
from yuqing.ingest.prepare import author_kind


def test_traditional_becomes_simplified() -> None:
    assert to_simplified("臺灣醫院發生醫療事故，網友質疑處置過程") == "台湾医院发生医疗事故，网友质疑处置过程"
    assert to_simplified("已经是简体") == "已经是简体"


def test_html_to_text_drops_scripts_and_keeps_paragraphs() -> None:
    text = html_to_text("<div><p>第一段&amp;说明</p><script>alert('x')</script><p>第二段</p></div>")
    assert text == "第一段&说明\n第二段"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://News.Example.CN:80/a/1.html?utm_source=wx&id=3#top", "http://news.example.cn/a/1.html?id=3"),
        (
            "https://mp.weixin.qq.com/s?__biz=MzA&mid=22&idx=1&sn=ab&chksm=zz&scene=21#wechat_redirect",
            "https://mp.weixin.qq.com/s?__biz=MzA&idx=1&mid=22&sn=ab",
        ),
        (
            "https://forum.example.cn/viewtopic.php?t=123&spm=a.b",
            "https://forum.example.cn/viewtopic.php?t=123",
        ),
        ("https://example.cn", "https://example.cn/"),
        ("ftp://example.cn/x", None),
        ("不是网址", None),
    ],
)
def test_canonical_url(url: str, expected: str | None) -> None:
    assert canonical_url(url) == expected


def test_same_article_through_different_share_links_has_one_canonical_url() -> None:
    a = canonical_url("https://news.example.cn/2026/1121/a.html?from=timeline&isappinstalled=0")
    b = canonical_url("https://news.example.cn/2026/1121/a.html?share_token=xyz")
    assert a == b


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2012-04-10T23:49:11+08:00", dt.datetime(2012, 4, 10, 15, 49, 11, tzinfo=dt.UTC)),
        ("2026-11-21 09:30", dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC)),  # no zone: Shanghai
        ("2026年11月21日 09:30", dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC)),
        ("Sat, 21 Nov 2026 01:30:00 GMT", dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC)),
        (1795224600, dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC)),
        (1795224600000, dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC)),
        ("", None),
    ],
)
def test_timestamps_are_stored_in_utc(value: object, expected: dt.datetime | None) -> None:
    assert parse_timestamp(value) == expected


def test_unreadable_timestamp_is_an_error() -> None:
    with pytest.raises(ValueError, match="时间"):
        parse_timestamp("去年夏天")


def test_display_time_is_shanghai() -> None:
    assert to_display_time(dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC)) == "2026-11-21 09:30:00"


def test_content_key_ignores_width_case_and_spaces() -> None:
    assert content_key("ＡＢＣ 医院\n事故") == content_key("abc医院事故")


# 10:00 in Shanghai on Saturday 5 December 2026, when the page was read
FETCHED = dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("shown", "expected_shanghai"),
    [
        ("刚刚", "2026-12-05 10:00"),
        ("3分钟前", "2026-12-05 09:57"),
        ("半小时前", "2026-12-05 09:30"),
        ("2小时前", "2026-12-05 08:00"),
        ("两天前", "2026-12-03 10:00"),
        ("今天 08:15", "2026-12-05 08:15"),
        ("今天08:15", "2026-12-05 08:15"),
        ("昨天 23:40", "2026-12-04 23:40"),
        ("前天", "2026-12-03 00:00"),
        ("09:30", "2026-12-05 09:30"),
        ("11:30", "2026-12-04 11:30"),  # a clock time still ahead of the fetch is yesterday's
        ("11-30 08:15", "2026-11-30 08:15"),
        ("12月1日", "2026-12-01 00:00"),
        ("12月31日 20:00", "2025-12-31 20:00"),  # a date without a year still ahead: last year's
        ("5 minutes ago", "2026-12-05 09:55"),
        ("an hour ago", "2026-12-05 09:00"),
    ],
)
def test_times_shown_relative_to_the_fetch_are_read_against_it(shown: str, expected_shanghai: str) -> None:
    parsed = parse_timestamp(shown, now=FETCHED)
    assert parsed is not None and parsed.tzinfo == dt.UTC
    assert to_display_time(parsed)[:16] == expected_shanghai


@pytest.mark.parametrize("shown", ["25:00", "2月30日", "13-01 08:00", "很久以前", "3个世纪前"])
def test_what_only_looks_relative_is_still_an_error(shown: str) -> None:
    with pytest.raises(ValueError, match="无法识别"):
        parse_timestamp(shown, now=FETCHED)


def test_a_relative_time_without_the_time_it_was_read_says_so() -> None:
    with pytest.raises(ValueError, match="相对时间 '3分钟前' 无法换算"):
        parse_timestamp("3分钟前")
    assert parse_timestamp("2026-11-21 09:30", now=FETCHED) == dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "expected_shanghai"),
    [
        ("Sat Dec 05 10:00:00 CST 2026", "2026-12-05 10:00:00"),  # Java's Date.toString in China
        ("Sat, 05 Dec 2026 10:00:00 CST", "2026-12-05 10:00:00"),  # an RSS pubDate from China
        ("Sat Dec 05 10:00:00 +0800 2026", "2026-12-05 10:00:00"),  # Weibo's created_at
        ("2026-12-05T10:00+08:00[Asia/Shanghai]", "2026-12-05 10:00:00"),  # Java's ZonedDateTime
        ("2026-12-05T02:00[UTC]", "2026-12-05 10:00:00"),
        ("2026-12-05 10:00:00 UTC", "2026-12-05 18:00:00"),
        ("2026-12-05 10:00 GMT+8", "2026-12-05 10:00:00"),
        ("2026-12-05 10:00:00 +0000", "2026-12-05 18:00:00"),
        ("2026年12月5日 下午3:30", "2026-12-05 15:30:00"),
        ("2026年12月5日 中午12:10", "2026-12-05 12:10:00"),
        ("2026年12月5日 凌晨12:10", "2026-12-05 00:10:00"),
        ("2026-12-05 10:00:00 PM", "2026-12-05 22:00:00"),
        ("2026年12月5日 星期六 10:20", "2026-12-05 10:20:00"),
        ("2026年12月5日10时30分", "2026-12-05 10:30:00"),
        ("发布时间：2026-11-20 09:00", "2026-11-20 09:00:00"),
        ("2026-11-20 09:00 来源：人民网", "2026-11-20 09:00:00"),
    ],
)
def test_zones_and_clock_words_around_a_time_are_read_not_dropped(value: str, expected_shanghai: str) -> None:
    """The Chinese-date reader used to take the first date-like part of the text and drop the rest:
    「CST」 was read as US Central (a 10:00 post from Beijing landed at midnight), 「UTC」 and
    「下午」/「PM」 were ignored, and a zone such as PST was dropped silently."""
    parsed = parse_timestamp(value)
    assert parsed is not None and to_display_time(parsed) == expected_shanghai


@pytest.mark.parametrize(
    "value", ["2026-12-05T22:00:00 PST", "2026-11-20 09:00 EST", "2026-12-05[Mars/Base]"]
)
def test_a_word_that_could_change_the_time_makes_it_unreadable_not_a_guess(value: str) -> None:
    with pytest.raises(ValueError, match="无法识别"):
        parse_timestamp(value)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (0, "individual"),
        (220, "individual"),
        (1, "government"),
        ("3", "media"),
        (3.0, "media"),
        (4, "campus"),
        (-1, None),
        (None, None),
        (True, None),
        ("", None),
        ("媒体", "media"),
        ("政务认证", "government"),
        ("个人认证", "individual"),
        ("Media", "media"),
        ("organisation", "organisation"),
        (99, "other"),
        ("蓝V", "other"),
    ],
)
def test_a_verification_type_names_the_kind_of_account(value: object, kind: str | None) -> None:
    assert author_kind(value) == kind
