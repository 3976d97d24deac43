"""Every locale has every English key, none empty, placeholders kept; every
key the code asks for exists in English."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
LOCALES = WEB / "locales"
# The thirty languages the dashboard ships; Arabic and Hebrew are right to left.
REQUIRED = (
    "en", "ar", "bg", "da", "de", "es", "fi", "fil", "fr", "he",
    "hi", "hu", "id", "it", "ja", "ko", "ms", "nb", "nl", "pl",
    "pt-BR", "pt-PT", "ro", "ru", "sk", "sv", "th", "uk", "vi", "zh-CN",
)  # fmt: skip
RIGHT_TO_LEFT = {"ar", "he"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load(code: str) -> dict[str, str]:
    data = json.loads((LOCALES / f"{code}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_required_languages_exist() -> None:
    present = {path.stem for path in LOCALES.glob("*.json")}
    assert len(REQUIRED) == 30
    assert present == set(REQUIRED)


def listed_languages() -> list[tuple[str, bool]]:
    """(code, right to left) for each entry of the language menu in i18n.js."""
    source = (WEB / "js" / "i18n.js").read_text(encoding="utf-8")
    menu = source[source.index("export const LANGUAGES") :]
    menu = menu[: menu.index("];")]
    entries = re.findall(r"\{ code: \"([\w-]+)\", name: \"[^\"]+\"(, rtl: true)?", menu)
    return [(code, bool(rtl)) for code, rtl in entries]


def test_the_language_menu_offers_every_locale_once() -> None:
    listed = listed_languages()
    codes = [code for code, _ in listed]
    assert sorted(codes) == sorted(REQUIRED)
    assert len(codes) == len(set(codes))
    assert {code for code, rtl in listed if rtl} == RIGHT_TO_LEFT


@pytest.mark.parametrize("code", [c for c in REQUIRED if c != "en"])
def test_locale_is_complete(code: str) -> None:
    english, other = load("en"), load(code)
    assert sorted(set(english) - set(other)) == [], f"{code} lacks these keys"
    assert sorted(set(other) - set(english)) == [], f"{code} has keys English does not"
    for key, text in other.items():
        assert isinstance(text, str) and text.strip(), f"{code}: {key} is empty"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), key


def test_english_strings_are_not_empty() -> None:
    for key, text in load("en").items():
        assert isinstance(text, str) and text.strip(), key


def keys_used_by_the_code() -> set[str]:
    """Keys in t("…"), field("…"), button("…") and data-i18n attributes."""
    used: set[str] = set()
    call = re.compile(
        r"""\b(?:t|field|button|checkbox|pageHead|tabsKey)\(\s*["']([a-z0-9][\w.-]*)["']"""
    )
    label = re.compile(r"""\blabel:\s*["']([a-z0-9][\w.-]*\.[\w.-]+)["']""")
    for path in WEB.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        used |= set(call.findall(text)) | set(label.findall(text))
    attribute = re.compile(r"""data-i18n(?:-label|-placeholder)?="([^"]+)\"""")
    used |= set(attribute.findall((WEB / "index.html").read_text(encoding="utf-8")))
    return used


def test_every_key_the_code_uses_exists_in_english() -> None:
    used = keys_used_by_the_code()
    assert len(used) > 25  # the scan itself works
    assert sorted(used - set(load("en"))) == []


def test_every_usage_title_exists_for_every_group() -> None:
    """The Usage page builds its titles' keys from the group (``title("…")``)."""
    source = (WEB / "js" / "pages" / "usage.js").read_text(encoding="utf-8")
    groups = re.findall(r'"(\w+)"', re.search(r"const GROUPS = \[([^\]]+)\]", source).group(1))  # type: ignore[union-attr]
    titles = re.findall(r'\btitle\("([\w.-]+)"\)', source)
    assert len(groups) == 3 and len(titles) == 5
    english = load("en")
    assert sorted(f"{t}.{g}" for t in titles for g in groups if f"{t}.{g}" not in english) == []
