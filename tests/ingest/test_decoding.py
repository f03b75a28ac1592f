"""Decoding of Chinese pages and feeds whose declared charset may be missing or wrong."""

from __future__ import annotations

import codecs

import feedparser
import pytest
from lxml import etree

from yuqing.ingest.decoding import (
    DecodedText,
    decode_document,
    rewrite_xml_declaration,
    xml_bytes_for_parser,
)

SIMPLIFIED = (
    "新华社北京电 国务院新闻办公室今天举行新闻发布会，介绍今年上半年国民经济运行情况。"
    "发言人表示，各地区各部门坚持稳中求进工作总基调，经济运行总体平稳，就业形势保持稳定，"
    "居民消费价格温和上涨，社会大局和谐稳定。记者注意到，多个城市的市民对近期公共服务改革"
    "给予积极评价，网上相关话题的讨论量在一周内明显上升。"
)
TRADITIONAL = (
    "中央社臺北電 行政院今天召開記者會，說明上半年國內經濟發展情況。發言人表示，各部會持續"
    "推動產業轉型與數位建設，整體經濟表現穩定，就業市場維持良好，物價漲幅溫和，社會秩序平穩。"
    "記者觀察到，許多縣市的民眾對近期公共服務改革給予正面評價，網路上相關話題的討論明顯增加。"
)


def html_page(body: str, meta: str | None = None, *, http_equiv: bool = False) -> str:
    if meta is None:
        head = ""
    elif http_equiv:
        head = f'<meta http-equiv="Content-Type" content="text/html; charset={meta}">'
    else:
        head = f'<meta charset="{meta}">'
    return (
        f"<!DOCTYPE html><html><head>{head}<title>{body[:8]}</title>"
        f"<script>var x = 1;</script></head><body><p>{body}</p></body></html>"
    )


def test_sample_texts_are_long_enough() -> None:
    assert len(SIMPLIFIED) >= 100
    assert len(TRADITIONAL) >= 100


# (text, codec used to encode it, acceptable decoder names)
ENCODINGS = [
    pytest.param(SIMPLIFIED, "utf-8", id="simplified-utf8"),
    pytest.param(SIMPLIFIED, "gbk", id="simplified-gbk"),
    pytest.param(SIMPLIFIED, "gb18030", id="simplified-gb18030"),
    pytest.param(TRADITIONAL, "utf-8", id="traditional-utf8"),
    pytest.param(TRADITIONAL, "gbk", id="traditional-gbk"),
    pytest.param(TRADITIONAL, "big5", id="traditional-big5"),
]


def wrong_label(codec: str) -> str:
    """A plausible but wrong charset label for bytes in ``codec``."""
    return {"utf-8": "gbk", "gbk": "big5", "gb18030": "big5", "big5": "gb2312"}[codec]


@pytest.mark.parametrize(("text", "codec"), ENCODINGS)
@pytest.mark.parametrize(
    "situation",
    [
        "header-correct",
        "meta-correct",
        "http-equiv-correct",
        "undeclared",
        "header-wrong",
        "meta-wrong",
        "header-utf8",
        "header-latin1",
        "header-latin1-meta-correct",
        "header-wrong-meta-correct",
    ],
)
def test_decodes_chinese_page_whatever_the_declaration(text: str, codec: str, situation: str) -> None:
    header: str | None = None
    meta: str | None = None
    http_equiv = False
    if situation == "header-correct":
        header = codec
    elif situation == "meta-correct":
        meta = codec
    elif situation == "http-equiv-correct":
        meta, http_equiv = codec, True
    elif situation == "header-wrong":
        header = wrong_label(codec)
    elif situation == "meta-wrong":
        meta = wrong_label(codec)
    elif situation == "header-utf8":
        header = "utf-8"
    elif situation == "header-latin1":
        header = "ISO-8859-1"
    elif situation == "header-latin1-meta-correct":
        header, meta = "iso-8859-1", codec
    elif situation == "header-wrong-meta-correct":
        header, meta = wrong_label(codec), codec
    page = html_page(text, meta, http_equiv=http_equiv)

    decoded = decode_document(page.encode(codec), header)

    assert decoded.text == page, decoded.confidence_note
    assert decoded.declared == (header.lower() if header else meta)


@pytest.mark.parametrize("codec", ["utf-8", "gbk", "big5"])
def test_plain_text_without_any_declaration(codec: str) -> None:
    decoded = decode_document(TRADITIONAL.encode(codec), kind="text")
    assert decoded.text == TRADITIONAL
    assert decoded.declared is None


def test_utf8_bom_wins_over_a_wrong_header() -> None:
    page = html_page(SIMPLIFIED, "gbk")
    decoded = decode_document(codecs.BOM_UTF8 + page.encode("utf-8"), "gb2312")
    assert decoded.text == page
    assert decoded.encoding == "utf-8"
    assert "byte-order mark" in decoded.confidence_note


def test_utf16_with_bom() -> None:
    decoded = decode_document(SIMPLIFIED.encode("utf-16"), None, kind="text")
    assert decoded.text == SIMPLIFIED


def test_gb18030_only_characters_in_page_declared_gb2312() -> None:
    # '㐀' (CJK extension A) and '€' are outside GB2312; '镕' is GBK but not GB2312.
    body = SIMPLIFIED + "罕见字㐀与欧元符号€，以及朱镕基。"
    page = html_page(body, "gb2312")
    data = page.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gb2312")  # the declared label alone would fail

    for header in (None, "gb2312", "GB2312"):
        decoded = decode_document(data, header)
        assert decoded.text == page
        assert decoded.encoding == "gb18030"


def test_gbk_page_behind_a_utf8_header() -> None:
    page = html_page(SIMPLIFIED, None)
    decoded = decode_document(page.encode("gbk"), "utf-8")
    assert decoded.text == page
    assert decoded.encoding == "gb18030"
    assert "does not decode" in decoded.confidence_note


@pytest.mark.parametrize("codec", ["gbk", "big5"])
def test_page_with_meta_utf8_but_legacy_bytes(codec: str) -> None:
    page = html_page(TRADITIONAL, "utf-8", http_equiv=True)
    decoded = decode_document(page.encode(codec), None)
    assert decoded.text == page
    assert decoded.declared == "utf-8"
    assert "document charset utf-8 does not decode" in decoded.confidence_note


def test_big5_page_declared_utf8_by_header_and_meta() -> None:
    page = html_page(TRADITIONAL, "utf-8")
    decoded = decode_document(page.encode("big5"), "utf-8")
    assert decoded.text == page
    assert decoded.encoding in {"big5hkscs", "cp950"}


def test_big5_page_declared_gb2312_which_decodes_into_garbage() -> None:
    # Big5 bytes are nearly always valid GB18030; only plausibility can tell them apart.
    page = html_page(TRADITIONAL, "gb2312")
    data = page.encode("big5")
    garbage = data.decode("gb18030")
    assert garbage != page

    decoded = decode_document(data, None)
    assert decoded.text == page
    assert "mojibake" in decoded.confidence_note


def test_big5_euro_sign_via_cp950() -> None:
    text = TRADITIONAL + "票價為二十€。"
    decoded = decode_document(text.encode("cp950"), "big5", kind="text")
    assert decoded.text == text


def test_utf8_page_behind_a_gbk_header() -> None:
    page = html_page(SIMPLIFIED, None)
    decoded = decode_document(page.encode("utf-8"), "gbk")
    assert decoded.text == page
    assert decoded.encoding == "utf-8"


def test_genuine_latin1_page_is_left_alone() -> None:
    page = "<html><head><title>Café</title></head><body>À la carte: crème brûlée, 5 €</body></html>"
    decoded = decode_document(page.encode("cp1252"), "iso-8859-1")
    assert decoded.text == page
    assert decoded.encoding == "cp1252"


def test_ascii_only_page() -> None:
    decoded = decode_document(b"<html><body>hello</body></html>", "gbk")
    assert decoded.text == "<html><body>hello</body></html>"
    assert decoded.declared == "gbk"


def test_unknown_declared_charset_is_ignored() -> None:
    page = html_page(SIMPLIFIED, "x-no-such-charset")
    decoded = decode_document(page.encode("gbk"), "klingon")
    assert decoded.text == page
    assert "unknown header charset" in decoded.confidence_note


def test_page_cut_in_the_middle_of_a_character() -> None:
    data = html_page(SIMPLIFIED, None).encode("gbk")
    cut = data[: data.index("记者".encode("gbk")) + 1]  # half of '记'
    decoded = decode_document(cut, None)
    assert decoded.encoding == "gb18030"
    assert decoded.text.startswith("<!DOCTYPE html>")
    assert "发言人表示" in decoded.text
    assert decoded.text.endswith("\ufffd")


def test_binary_garbage_does_not_raise() -> None:
    data = bytes(range(256)) * 8
    decoded = decode_document(data, "utf-8")
    assert isinstance(decoded, DecodedText)
    assert decoded.text
    assert decoded.confidence_note


def test_meta_after_long_inline_script_is_found() -> None:
    script = "<script>" + "var a = 1;\n" * 600 + "</script>"
    page = f"<html><head>{script}<meta charset='big5'></head><body>{TRADITIONAL}</body></html>"
    decoded = decode_document(page.encode("big5"), None)
    assert decoded.text == page
    assert decoded.declared == "big5"


FEED = (
    '<?xml version="1.0" encoding="gb2312"?>\n'
    '<rss version="2.0"><channel><title>舆情频道</title>'
    "<item><title>朱镕基旧文重刊引发热议</title>"
    f"<description>{SIMPLIFIED}</description></item></channel></rss>"
)


def test_gbk_feed_declared_gb2312() -> None:
    data = FEED.encode("gbk")  # '镕' is outside GB2312
    decoded = decode_document(data, None, kind="xml")
    assert decoded.text == FEED
    assert decoded.declared == "gb2312"
    assert decoded.encoding == "gb18030"


def test_gbk_feed_parses_with_feedparser_after_rewrite() -> None:
    decoded = decode_document(FEED.encode("gbk"), "gb2312", kind="xml")
    parsed = feedparser.parse(xml_bytes_for_parser(decoded.text))
    assert parsed.feed.title == "舆情频道"
    assert parsed.entries[0].title == "朱镕基旧文重刊引发热议"
    assert parsed.entries[0].description == SIMPLIFIED


def test_feed_rewrite_also_satisfies_lxml() -> None:
    decoded = decode_document(FEED.encode("gbk"), None, kind="xml")
    with pytest.raises(ValueError, match="encoding declaration"):
        etree.fromstring(decoded.text)
    root = etree.fromstring(xml_bytes_for_parser(decoded.text))
    assert root.findtext("channel/item/title") == "朱镕基旧文重刊引发热议"


def test_xml_kind_ignores_meta_inside_content() -> None:
    feed = (
        '<?xml version="1.0"?><rss><channel><item><description><![CDATA[<meta charset="big5">'
        f"{SIMPLIFIED}]]></description></item></channel></rss>"
    )
    decoded = decode_document(feed.encode("utf-8"), None, kind="xml")
    assert decoded.text == feed
    assert decoded.declared is None


@pytest.mark.parametrize(
    ("original", "rewritten"),
    [
        (
            '<?xml version="1.0" encoding="gb2312"?><rss/>',
            '<?xml version="1.0" encoding="utf-8"?><rss/>',
        ),
        (
            "<?xml version='1.0' encoding='GBK' standalone='yes'?>\n<rss/>",
            "<?xml version='1.0' encoding=\"utf-8\" standalone='yes'?>\n<rss/>",
        ),
        ('<?xml version="1.0"?><feed/>', '<?xml version="1.0" encoding="utf-8"?><feed/>'),
        (
            "\ufeff<?xml version=\"1.0\" encoding='big5'?><feed/>",
            '<?xml version="1.0" encoding="utf-8"?><feed/>',
        ),
        ("  <rss/>", '<?xml version="1.0" encoding="utf-8"?>\n<rss/>'),
    ],
)
def test_rewrite_xml_declaration(original: str, rewritten: str) -> None:
    assert rewrite_xml_declaration(original) == rewritten
    etree.fromstring(rewrite_xml_declaration(original).encode("utf-8"))


@pytest.mark.parametrize(
    "text",
    ["哈哈哈哈哈哈", "以后不再寒冷[蜡烛][蜡烛]", "@晏阳智财-IPsolar [哈哈]", "[抓狂][抓狂] 切睾........"],
)
def test_a_short_utf8_post_labelled_gbk_is_read_as_utf8(text: str) -> None:
    """Short posts decode as GBK too (「哈哈哈」 as 「鍝堝搱」) and scored too close to tell apart:
    1.8% of the dense_dev posts came out as mojibake under a gbk label. Valid UTF-8 with CJK wins."""
    decoded = decode_document(text.encode("utf-8"), "gbk", kind="text")
    assert (decoded.text, decoded.encoding) == (text, "utf-8")


@pytest.mark.parametrize(
    "text", ["[怒][怒][怒]", "强.................", "@_笑笑___  @TeddyinCage", "医院门口"]
)
def test_gbk_bytes_that_happen_to_be_valid_utf8_stay_gbk(text: str) -> None:
    """GBK bytes can be valid UTF-8, but only as Latin, Greek or Cyrillic (「[ŭ][ŭ]」), never CJK."""
    decoded = decode_document(text.encode("gbk"), "gbk", kind="text")
    assert decoded.text == text
