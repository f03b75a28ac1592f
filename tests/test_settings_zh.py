import re

import pytest

from yuqing import settings_zh
from yuqing.settings import Settings
from yuqing.settings_zh import DESCRIPTIONS_ZH, description_zh

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_PROSE = re.compile(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+ [A-Za-z]+")
BACKTICKED = re.compile(r"`[^`]*`")


def _prose(text: str) -> str:
    """The text with backtick-quoted spans (names, commands, values) removed."""
    return BACKTICKED.sub("", text)


def test_every_setting_has_a_chinese_description() -> None:
    missing = [name for name in Settings.model_fields if not DESCRIPTIONS_ZH.get(name, "").strip()]
    assert missing == []


def test_no_description_for_a_setting_that_does_not_exist() -> None:
    assert sorted(set(DESCRIPTIONS_ZH) - set(Settings.model_fields)) == []


@pytest.mark.parametrize("name", sorted(DESCRIPTIONS_ZH))
def test_description_is_chinese_prose(name: str) -> None:
    text = DESCRIPTIONS_ZH[name]
    assert text.count("`") % 2 == 0, "unbalanced backticks"
    prose = _prose(text)
    assert CJK.search(prose), "no Chinese outside code spans"
    assert not ENGLISH_PROSE.search(prose), ENGLISH_PROSE.search(prose)
    # Chinese prose takes Chinese punctuation; ASCII brackets, commas and semicolons belong in code.
    assert not re.search(r"[(),;]", prose), prose


def test_description_zh_gives_the_translation() -> None:
    for name in Settings.model_fields:
        assert description_zh(name) == DESCRIPTIONS_ZH[name]


def test_description_zh_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    untranslated = "smtp_security"
    monkeypatch.setattr(
        settings_zh,
        "DESCRIPTIONS_ZH",
        {name: text for name, text in DESCRIPTIONS_ZH.items() if name != untranslated},
    )
    english = Settings.model_fields[untranslated].description
    assert english
    assert description_zh(untranslated) == english
    assert description_zh("port") == DESCRIPTIONS_ZH["port"]


def test_description_zh_of_an_unknown_name_is_empty() -> None:
    assert description_zh("no_such_setting") == ""
