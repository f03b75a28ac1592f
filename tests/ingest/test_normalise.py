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
