"""Bytes → text for fetched pages and feeds.

This module owns the decision of which character encoding a downloaded document is in.
Chinese sites routinely declare the wrong charset (HTTP's ISO-8859-1 default, ``gb2312`` for
pages that use GBK/GB18030-only characters, ``utf-8`` headers on GBK pages, Big5 pages with
no or wrong declarations), so a declaration is treated as a hint that must be confirmed by
the bytes, never as the truth.

Order of evidence: byte-order mark, then the caller's declaration (HTTP ``Content-Type``),
then the in-document declaration (``<meta charset>``, ``<meta http-equiv>``, XML
``encoding=``), then detection among UTF-8 / GB18030 / Big5 by a plausibility score, then
``charset_normalizer``, then UTF-8 with replacement characters.
"""

from __future__ import annotations

import codecs
import itertools
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DecodedText",
    "decode_document",
    "plausibility",
    "rewrite_xml_declaration",
    "xml_bytes_for_parser",
]

Kind = Literal["html", "xml", "text"]


@dataclass(frozen=True)
class DecodedText:
    """A decoded document.

    ``encoding`` is the Python codec that produced ``text``; ``declared`` is what the HTTP
    header (or, failing that, the document itself) claimed, lower-cased; ``confidence_note``
    explains the decision in one line for logs and the admin UI.
    """

    text: str
    encoding: str
    declared: str | None
    confidence_note: str


# ~600 most frequent simplified characters plus their traditional forms (Taiwan, Hong Kong
# and classic OpenCC variants). Real Chinese prose draws ~70% of its characters from this
# set; mojibake (Big5 read as GBK, UTF-8 read as GBK, ...) lands in it only by accident.
_COMMON_CJK = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里"
    "用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实"
    "日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政"
    "美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提立及比员"
    "解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件"
    "计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象"
    "完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改"
    "收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调"
    "深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企"
    "八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列"
    "武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音跟志底站严巴例防族供"
    "效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友诉止细愿千值"
    "這個們來爲國說時會對於過發後裏種經麼學現當沒動還進樣開從實軍無與長機關點業將兩間問並應戰頭體見產話內"
    "給門兒東聲員論處義幾認條氣題爾別變總電數報結務場計資許統區隊決馬書則聽卻達強難權設記類據邊張該規萬覺"
    "術領確傳師觀讓識帶導爭運飛風乾聯組濟車親極辦議證轉準遠臺單羅愛擊備連調質團價黨華級離況亞請際約覆線斷"
    "滿視須寫稱嗎輕農裝廣顯標談喫圖歷醫專費號盡較語僅隨選紅響雖勢參衆構節維劃敵陳態護興驗責營夠嚴續講終緊"
    "黃絕羣項圍織鬥雙紀採舉殺蘇訴細願為著裡眾説復複幹"
)

# A strictly-decoding declared charset is overridden only when another candidate is clearly
# more plausible; the margin keeps short or mixed-language pages on their declaration.
_OVERRIDE_MARGIN = 0.25
# Non-ASCII characters looked at per candidate decoding; plenty to tell real text from mojibake.
_SCORE_SAMPLE = 50_000
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
_ASCII_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# In-document declarations are looked for in this prefix: Chinese portals often put their
# <meta> after kilobytes of inline script, so the WHATWG 1024-byte prescan is too short.
_SNIFF_BYTES = 16 * 1024
# The multi-byte encodings that actually occur on Chinese-language sites, in tie-break order.
_DETECTION_ORDER = ("utf-8", "gb18030", "big5")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it shares the first two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""")
_META_RE = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.IGNORECASE)
_XML_DECL_TEXT_RE = re.compile(r"""^\ufeff?\s*<\?xml(?P<attrs>[^>]*?)\?>""")
_ENCODING_ATTR_RE = re.compile(r"""\s+encoding\s*=\s*(["'])[^"']*\1""")

# Label → family. GB2312 and GBK are subsets of GB18030, and pages labelled with them
# routinely contain characters only the superset has, so the superset always decodes them.
_FAMILY_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5",
    "cp950": "big5",
    "big5hkscs": "big5",
    "x-x-big5": "big5",
    "ascii": "latin",
    "iso8859-1": "latin",
    "cp1252": "latin",
}


def _family(label: str) -> str | None:
    """Map a declared charset label to a decoding family or Python codec; None if unknown."""
    label = label.strip().strip("\"'").lower()
    if label in _FAMILY_ALIASES:
        return _FAMILY_ALIASES[label]
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _FAMILY_ALIASES.get(name, name)


def _strict(data: bytes, family: str) -> tuple[str, str] | None:
    """Decode without tolerating a single bad byte; returns (text, codec) or None."""
    # Big5-HKSCS covers the ETEN extensions and HK characters; CP950 adds the euro sign.
    # windows-1252 has five undefined bytes; Latin-1 accepts them (as WHATWG does).
    codecs_to_try = {"big5": ("big5hkscs", "cp950"), "latin": ("cp1252", "latin-1")}.get(family, (family,))
    for codec in codecs_to_try:
        try:
            return data.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def plausibility(text: str) -> float:
    """Score in roughly [-2, 1]: how much ``text`` looks like real (Chinese) writing.

    Only non-ASCII characters (and ASCII control characters) are judged, since every
    candidate encoding agrees on ASCII. Common Chinese characters score high; private-use,
    rare-extension, compatibility and control characters (what mis-decoded bytes turn into)
    score strongly negative. A bounded sample keeps multi-megabyte pages cheap.
    """
    total = len(_ASCII_CONTROL_RE.findall(text))
    score = -2.0 * total
    for match in itertools.islice(_NON_ASCII_RE.finditer(text), _SCORE_SAMPLE):
        ch = match.group()
        cp = ord(ch)
        total += 1
        if ch in _COMMON_CJK:
            score += 1.0
        elif 0x4E00 <= cp <= 0x9FFF:
            score += 0.1
        elif 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFFEF or 0x2000 <= cp <= 0x206F:
            score += 0.3  # CJK and general punctuation, full-width forms
        elif 0xC0 <= cp <= 0x17F:
            score += 0.3  # accented Latin letters: only a UTF-8 reading produces these
        elif 0xAC00 <= cp <= 0xD7A3:
            score += 0.5  # Hangul syllables
        elif 0x3040 <= cp <= 0x30FF:
            score += 0.2  # kana: real in Japanese, also what Big5 bytes become as GBK
        elif (
            cp <= 0x9F  # C1 controls
            or cp == 0xFFFD
            or 0xE000 <= cp <= 0xF8FF  # private use
            or 0x3400 <= cp <= 0x4DBF  # CJK extension A
            or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
            or cp >= 0x20000  # CJK extensions B+
        ):
            score -= 2.0
    return score / total if total else 0.0


def _has_three_byte_character(text: str) -> bool:
    return any(ord(ch) >= 0x800 for ch in text if not ch.isascii())


def _looks_like_cjk_mojibake(data: bytes) -> bool:
    """True when a Latin-1-family reading would hide UTF-8 or GB/Big5 text."""
    if data.isascii():
        return False
    if _strict(data, "utf-8") is not None:
        return True
    for family in ("gb18030", "big5"):
        decoded = _strict(data, family)
        if decoded is not None and plausibility(decoded[0]) >= 0.4:
            return True
    return False


def _best_rival(data: bytes, chosen: str, chosen_score: float) -> tuple[str, str, float] | None:
    """A detection candidate clearly more plausible than the chosen decoding, if any."""
    best: tuple[str, str, float] | None = None
    for family in _DETECTION_ORDER:
        if family == chosen:
            continue
        decoded = _strict(data, family)
        if decoded is None:
            continue
        score = plausibility(decoded[0])
        if score > chosen_score + _OVERRIDE_MARGIN and (best is None or score > best[2]):
            best = (decoded[0], decoded[1], score)
    return best


def _sniff_declaration(data: bytes, kind: Kind) -> str | None:
    """The charset the document declares about itself, if any."""
    if kind == "text":
        return None
    head = data[:_SNIFF_BYTES]
    if kind == "html":
        meta = _META_RE.search(head)
        if meta:
            return meta.group(1).decode("ascii").lower()
    xml = _XML_DECL_RE.match(head)
    return xml.group(1).decode("ascii").lower() if xml else None


def decode_document(data: bytes, declared: str | None = None, *, kind: Kind = "html") -> DecodedText:
    """Decode a fetched document, trusting declarations only as far as the bytes confirm them.

    ``declared`` is the charset from the HTTP ``Content-Type`` header, if any. ``kind`` selects
    which in-document declarations are honoured: ``<meta>`` and XML declaration for ``html``,
    the XML declaration for ``xml``, none for ``text``.
    """
    header = declared.strip().strip("\"'").lower() if declared and declared.strip() else None
    in_doc = _sniff_declaration(data, kind)
    reported = header or in_doc

    def result(text: str, codec: str, note: str) -> DecodedText:
        return DecodedText(text=text, encoding=codec, declared=reported, confidence_note=note)

    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return result(data[len(bom) :].decode(codec), codec, f"byte-order mark says {codec}")
            except UnicodeDecodeError:
                break  # a lying BOM: fall through to the ordinary evidence

    if data.isascii() and not data.count(0):
        return result(data.decode("ascii"), "utf-8", "ASCII-only content")

    # Latin-1 family declarations come last: ISO-8859-1 is HTTP's default and what
    # misconfigured servers send for GBK pages, so it is the weakest hint there is.
    strong: list[tuple[str, str]] = []
    weak: list[tuple[str, str]] = []
    rejected: list[str] = []
    for label, source in ((header, "header"), (in_doc, "document")):
        if label is None:
            continue
        family = _family(label)
        if family is None:
            rejected.append(f"unknown {source} charset {label!r}")
        elif family.startswith(("utf-16", "utf-32")) and not data.count(0):
            # Without a BOM a UTF-16 label on ASCII-compatible bytes is a copy-paste error.
            rejected.append(f"{source} charset {label} contradicts ASCII-compatible bytes")
        else:
            (weak if family == "latin" else strong).append((family, f"{source} charset {label}"))

    for family, origin in strong + weak:
        decoded = _strict(data, family)
        if decoded is None:
            rejected.append(f"{origin} does not decode")
            continue
        text, codec = decoded
        if family == "latin":
            if _looks_like_cjk_mojibake(data):
                rejected.append(f"{origin} would produce mojibake")
                continue
            return result(text, codec, f"{origin} confirmed")
        if codec == "utf-8":
            # Non-ASCII text that is valid UTF-8 is almost never an accident.
            return result(text, codec, f"{origin} confirmed")
        as_utf8 = _strict(data, "utf-8")
        if as_utf8 is not None and _has_three_byte_character(as_utf8[0]):
            # Valid UTF-8 holding CJK is no accident of GBK or Big5 bytes (none of 166,000 real
            # posts encoded so reads that way), while a short UTF-8 post labelled gbk often
            # decodes as GBK too: 「哈哈哈」 as 「鍝堝搱」, with no margin to tell them apart.
            rejected.append(f"{origin} decodes but the bytes are valid utf-8 with CJK")
            return result(as_utf8[0], "utf-8", _join(rejected, "valid utf-8"))
        score = plausibility(text)
        rival = _best_rival(data, family, score)
        if rival is not None:
            rejected.append(f"{origin} decodes but reads as mojibake ({score:.2f})")
            return result(rival[0], rival[1], _join(rejected, f"detected {rival[1]} ({rival[2]:.2f})"))
        return result(text, codec, f"{origin} confirmed")

    detected = _detect(data)
    if detected is not None:
        return result(detected[0], detected[1], _join(rejected, detected[2]))
    text = data.decode("utf-8", errors="replace")
    return result(text, "utf-8", _join(rejected, "undetectable; decoded as utf-8 with replacements"))


def _detect(data: bytes) -> tuple[str, str, str] | None:
    """Guess the encoding of undeclared (or wrongly declared) bytes: (text, codec, note)."""
    strict: list[tuple[float, str, str]] = []
    for family in _DETECTION_ORDER:
        decoded = _strict(data, family)
        if decoded is not None:
            strict.append((plausibility(decoded[0]), decoded[0], decoded[1]))
    if strict:
        # Valid UTF-8 is rarely an accident; otherwise GB18030 keeps its place unless Big5
        # is clearly more plausible (Big5 bytes nearly always "decode" as GB18030).
        score, text, codec = strict[0]
        if codec == "utf-8":
            return text, codec, "valid utf-8"
        for other in strict[1:]:
            if other[0] > score + _OVERRIDE_MARGIN:
                score, text, codec = other
        return text, codec, f"detected {codec} ({score:.2f})"

    # Nothing decodes cleanly: usually a page cut mid-character or with a few corrupt bytes.
    tolerant: list[tuple[float, str, str]] = []
    for family in _DETECTION_ORDER:
        codec = {"big5": "big5hkscs"}.get(family, family)
        text = data.decode(codec, errors="replace")
        if text.count("\ufffd") <= 2 + len(text) // 200:
            tolerant.append((plausibility(text), text, codec))
    if tolerant:
        score, text, codec = max(tolerant, key=lambda item: item[0])
        if score > 0.2:
            return text, codec, f"detected {codec} with a few undecodable bytes ({score:.2f})"

    from charset_normalizer import from_bytes  # imported lazily: only odd pages get here

    match = from_bytes(data).best()
    if match is None:
        return None
    return str(match), str(match.encoding), f"charset_normalizer guessed {match.encoding}"


def _join(rejected: list[str], conclusion: str) -> str:
    return "; ".join([*rejected, conclusion])


def rewrite_xml_declaration(text: str) -> str:
    """Make a decoded XML document's declaration say UTF-8.

    A decoded feed still carries its original ``<?xml ... encoding="gb2312"?>``. Parsers that
    re-encode their input re-read it by that label: feedparser encodes ``str`` input to UTF-8
    and then trusts the declaration, and lxml refuses ``str`` input with a declaration at all.
    This rewrites (or inserts) the declaration as ``encoding="utf-8"`` and drops a BOM, so
    ``rewrite_xml_declaration(text).encode("utf-8")`` is self-consistent bytes.
    """
    text = text.removeprefix("\ufeff")
    match = _XML_DECL_TEXT_RE.match(text)
    if match is None:
        return '<?xml version="1.0" encoding="utf-8"?>\n' + text.lstrip()
    attrs = _ENCODING_ATTR_RE.sub("", match.group("attrs"))
    # Version must come first; standalone, if present, after encoding.
    version, sep, rest = attrs.partition("standalone")
    new_attrs = f'{version.rstrip()} encoding="utf-8"' + (f" {sep}{rest}" if sep else "")
    return f"<?xml{new_attrs.rstrip()}?>" + text[match.end() :]


def xml_bytes_for_parser(text: str) -> bytes:
    """UTF-8 bytes with a matching declaration: the safe input for feedparser and lxml.

    Prefer this over handing feedparser a ``str``: feedparser treats a ``str`` that looks like
    a URL or file name as something to open.
    """
    return rewrite_xml_declaration(text).encode("utf-8")
