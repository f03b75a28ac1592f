"""The channel-neutral notification message and its rendering into each channel's payload.

A `Message` says what to tell people (title, body, level, link, facts, time). The functions here
turn it into the exact payload each vendor documents: a DingTalk custom-robot markdown message, a
WeCom group-robot markdown message, a Feishu custom-bot interactive card, an e-mail (plain text
plus HTML) or an in-app record. Payloads are plain JSON documents so the outbox can store them
at enqueue time: a later change of these templates does not alter messages already queued.

Text in a message often comes from the internet (post titles, excerpts). Every chat payload
passes it through `neutralise_markdown` first, so a post cannot inject a link, an image, an
@-mention of the whole group or vendor markup into a notification.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

DISPLAY_ZONE = "Asia/Shanghai"

# Chat bodies are summaries; the link leads to the whole story. These caps keep every payload well
# under the vendors' limits (WeCom markdown: 4096 bytes; Feishu: 20 KB per request).
MAX_CHAT_BODY_CHARS = 1500
WECOM_MAX_CONTENT_BYTES = 4096
TRUNCATED = "…（内容过长，已截断）"
SIGNATURE = "网络舆情监测与应急处置平台（自动发送，请勿回复）"


class Level(enum.StrEnum):
    """How urgent a notification is; the colours are the plan's grade colours."""

    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    BLUE = "blue"
    INFO = "info"

    @property
    def label(self) -> str:
        return _LEVEL_LABELS[self]

    @classmethod
    def for_grade(cls, code: str | None) -> Level:
        """The level of an event grade code (I 红, II 橙, III 黄, IV 蓝); INFO when there is none."""
        return _GRADE_LEVELS.get((code or "").strip().upper(), cls.INFO)

    @classmethod
    def for_colour(cls, colour: str | None) -> Level:
        """The level named by a plan profile's grade colour (red, orange, ...); INFO if unknown."""
        try:
            return cls((colour or "").strip().lower())
        except ValueError:
            return cls.INFO


_LEVEL_LABELS = {
    Level.RED: "红色",
    Level.ORANGE: "橙色",
    Level.YELLOW: "黄色",
    Level.BLUE: "蓝色",
    Level.INFO: "通知",
}
_GRADE_LEVELS = {"I": Level.RED, "II": Level.ORANGE, "III": Level.YELLOW, "IV": Level.BLUE}
# Emoji carry the colour where a chat's markdown has no colour of its own (DingTalk).
_LEVEL_MARKS = {
    Level.RED: "🔴",
    Level.ORANGE: "🟠",
    Level.YELLOW: "🟡",
    Level.BLUE: "🔵",
    Level.INFO: "🔔",
}
# WeCom markdown knows three font colours only.
_WECOM_COLOURS = {
    Level.RED: "warning",
    Level.ORANGE: "warning",
    Level.YELLOW: "warning",
    Level.BLUE: "info",
    Level.INFO: "comment",
}
# Feishu card header templates.
_FEISHU_TEMPLATES = {
    Level.RED: "red",
    Level.ORANGE: "orange",
    Level.YELLOW: "yellow",
    Level.BLUE: "blue",
    Level.INFO: "grey",
}
_HTML_COLOURS = {
    Level.RED: "#d4380d",
    Level.ORANGE: "#fa8c16",
    Level.YELLOW: "#d4b106",
    Level.BLUE: "#1677ff",
    Level.INFO: "#8c8c8c",
}

_MOBILE = re.compile(r"^\+?[0-9][0-9-]{4,19}$")


@dataclass(frozen=True)
class Message:
    """A notification as people read it, independent of the channel that carries it.

    `facts` are short key/value lines (等级, 地区, 首发时间, ...). `link` leads to the console page
    of the subject. `mention_mobiles` are phone numbers a DingTalk robot @-mentions (the duty
    officer); other channels ignore them. `zone` is the time zone `at` is shown in.
    `internal_only`: the message may be delivered in-app only (a drill's notice, unless the drill
    allows outside channels); the outbox never sends it over e-mail or a chat robot.
    """

    title: str
    body: str
    at: dt.datetime
    level: Level = Level.INFO
    link: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    mention_mobiles: tuple[str, ...] = ()
    zone: str = DISPLAY_ZONE
    internal_only: bool = False

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Message.at must be an aware datetime")
        if self.link is not None and not _is_web_url(self.link):
            raise ValueError(f"Message.link must be an http(s) URL, not {self.link!r}")
        for mobile in self.mention_mobiles:
            if not _MOBILE.match(mobile):
                raise ValueError(f"not a mobile number: {mobile!r}")
        ZoneInfo(self.zone)  # fail early on an unknown zone
        object.__setattr__(self, "level", Level(self.level))
        object.__setattr__(self, "facts", tuple((str(k), str(v)) for k, v in self.facts))
        object.__setattr__(self, "mention_mobiles", tuple(self.mention_mobiles))

    @property
    def local_time(self) -> str:
        return self.at.astimezone(ZoneInfo(self.zone)).strftime("%Y-%m-%d %H:%M")

    @property
    def headline(self) -> str:
        """The title with the level in front, on one line: 【红色】某地发生…"""
        return f"【{self.level.label}】{_one_line(self.title)}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": self.title,
            "body": self.body,
            "at": self.at.astimezone(dt.UTC).isoformat(),
            "level": self.level.value,
            "link": self.link,
            "facts": [[k, v] for k, v in self.facts],
            "mention_mobiles": list(self.mention_mobiles),
            "zone": self.zone,
        }
        if self.internal_only:
            data["internal_only"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        return cls(
            title=str(data["title"]),
            body=str(data["body"]),
            at=dt.datetime.fromisoformat(str(data["at"])),
            level=Level(data.get("level", Level.INFO.value)),
            link=data.get("link"),
            facts=tuple((str(k), str(v)) for k, v in data.get("facts", ())),
            mention_mobiles=tuple(data.get("mention_mobiles", ())),
            zone=str(data.get("zone", DISPLAY_ZONE)),
            internal_only=bool(data.get("internal_only", False)),
        )


# -- neutralising text from the internet -------------------------------------------------------

# Characters that start markup in the chats' markdown dialects (links, images, emphasis, code,
# headings, quotes, tables, HTML tags such as <font>, <at id=all>, WeCom's <@userid>, entities)
# and @-mentions. Each becomes its full-width twin: it reads the same to a Chinese reader and no
# renderer treats it as markup. Backslash escapes are not used because the chats do not
# consistently honour them.
_MARKUP_TWINS = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "_": "＿",
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "#": "＃",
        "|": "｜",
        "~": "～",
        "@": "＠",
        "&": "＆",
        "$": "＄",
    }
)
# Bare URLs are turned into links by the chats; breaking the scheme (and www.) keeps them readable
# but not clickable, so a scraped text cannot place a phishing link in an official notification.
_URL_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*):(?=//)")
_WWW = re.compile(r"(?i)\bwww\.")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def neutralise_markdown(text: str) -> str:
    """Text that renders as itself in DingTalk, WeCom and Feishu markdown: no links, images,
    mentions, tags or formatting can come out of it. Line breaks are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _CONTROL.sub("", text)
    text = text.translate(_MARKUP_TWINS)
    text = _URL_SCHEME.sub(lambda m: f"{m.group(1)}：", text)
    return _WWW.sub(lambda m: m.group(0)[:3] + "．", text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _clip(text: str, limit: int = MAX_CHAT_BODY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + TRUNCATED


def _clip_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(TRUNCATED.encode("utf-8"))
    return data[:room].decode("utf-8", errors="ignore").rstrip() + TRUNCATED


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def markdown_url(url: str) -> str:
    """A URL safe inside a markdown link target: no spaces, parentheses or angle brackets."""
    return quote(url, safe=":/?#@!$&'*+,;=%~-._")


# -- chat payloads ------------------------------------------------------------------------------


def dingtalk_payload(message: Message) -> dict[str, Any]:
    """A DingTalk custom-robot markdown message. DingTalk needs a blank line for a line break."""
    title = neutralise_markdown(message.headline)
    parts = [f"### {_LEVEL_MARKS[message.level]} {title}"]
    parts += [neutralise_markdown(line) for line in _lines(_clip(message.body))]
    parts += [f"**{neutralise_markdown(k)}**：{neutralise_markdown(v)}" for k, v in message.facts]
    if message.link:
        parts.append(f"[查看详情]({markdown_url(message.link)})")
    parts.append(f"###### {message.local_time}")
    if message.mention_mobiles:
        # A mention shows only when the number is both in atMobiles and written in the text.
        parts.append(" ".join(f"@{mobile}" for mobile in message.mention_mobiles))
    payload: dict[str, Any] = {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": "\n\n".join(parts)},
    }
    if message.mention_mobiles:
        payload["at"] = {"atMobiles": list(message.mention_mobiles), "isAtAll": False}
    return payload


def wecom_payload(message: Message) -> dict[str, Any]:
    """A WeCom (企业微信) group-robot markdown message; content is capped at 4096 bytes."""
    colour = _WECOM_COLOURS[message.level]
    label = f"【{message.level.label}】"
    lines = [f'## <font color="{colour}">{label}</font>{neutralise_markdown(_one_line(message.title))}']
    lines += [neutralise_markdown(line) for line in _lines(_clip(message.body))]
    lines += [
        f'> {neutralise_markdown(k)}：<font color="comment">{neutralise_markdown(v)}</font>'
        for k, v in message.facts
    ]
    tail = []
    if message.link:
        tail.append(f"[查看详情]({markdown_url(message.link)})")
    tail.append(f'<font color="comment">{message.local_time}</font>')
    head = "\n".join(lines)
    tail_text = "\n" + "\n".join(tail)
    content = _clip_bytes(head, WECOM_MAX_CONTENT_BYTES - len(tail_text.encode("utf-8"))) + tail_text
    return {"msgtype": "markdown", "markdown": {"content": content}}


def feishu_payload(message: Message) -> dict[str, Any]:
    """A Feishu (飞书) custom-bot interactive card: coloured header, the body as plain text, the
    facts as short fields, a button to the link and the time as a note."""
    elements: list[dict[str, Any]] = []
    body = "\n".join(neutralise_markdown(line) for line in _lines(_clip(message.body)))
    if body:
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": body}})
    if message.facts:
        elements.append(
            {
                "tag": "div",
                "fields": [
                    {
                        "is_short": True,
                        "text": {
                            "tag": "lark_md",
                            "content": f"**{neutralise_markdown(k)}**\n{neutralise_markdown(v)}",
                        },
                    }
                    for k, v in message.facts
                ],
            }
        )
    if message.link:
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": "查看详情"},
                        "type": "primary",
                        "url": message.link,
                    }
                ],
            }
        )
    elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": message.local_time}]})
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "template": _FEISHU_TEMPLATES[message.level],
                "title": {"tag": "plain_text", "content": neutralise_markdown(message.headline)},
            },
            "elements": elements,
        },
    }


# -- e-mail and in-app --------------------------------------------------------------------------


def email_payload(message: Message) -> dict[str, Any]:
    """The parts of an e-mail: subject, plain text, HTML alternative, date and a Message-ID.

    The Message-ID is fixed here, at enqueue time, so every retry of the same notification carries
    the same one and mail clients can fold a duplicate delivery into one message."""
    text_lines = [message.headline, "", *_lines(message.body)]
    if message.facts:
        text_lines += ["", *(f"{k}：{v}" for k, v in message.facts)]
    if message.link:
        text_lines += ["", f"查看详情：{message.link}"]
    text_lines += ["", f"时间：{message.local_time}", "", f"—— {SIGNATURE}"]
    colour = _HTML_COLOURS[message.level]
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in _lines(message.body))
    facts = "".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0">{html.escape(k)}</th>'
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in message.facts
    )
    link = f'<p><a href="{html.escape(message.link, quote=True)}">查看详情</a></p>' if message.link else ""
    body_html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="font-family:sans-serif">'
        f'<div style="border-left:6px solid {colour};padding:4px 12px">'
        f'<h2 style="margin:4px 0">{html.escape(message.headline)}</h2>{paragraphs}'
        f"{'<table>' + facts + '</table>' if facts else ''}{link}"
        f'<p style="color:#8c8c8c">时间：{html.escape(message.local_time)}</p></div>'
        f'<p style="color:#8c8c8c;font-size:small">{SIGNATURE}</p>'
        "</body></html>"
    )
    return {
        "subject": message.headline,
        "text": "\n".join(text_lines) + "\n",
        "html": body_html,
        "date": email.utils.format_datetime(message.at.astimezone(dt.UTC)),
        "message_id": email.utils.make_msgid(domain="yuqing.local"),
    }


def in_app_payload(message: Message) -> dict[str, Any]:
    """The in-app notification as the console shows it (the console escapes it as HTML)."""
    return message.to_dict()


def facts_of(
    pairs: Mapping[str, object | None] | Sequence[tuple[str, object | None]],
) -> tuple[tuple[str, str], ...]:
    """Facts from a mapping or pairs, skipping empty values."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    return tuple((str(k), str(v)) for k, v in items if v is not None and str(v).strip())
