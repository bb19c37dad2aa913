"""The keyword matrix of `domain.unsubscribe`: each keyword in upper and lower case, full-width, with spaces (the
ideographic one too), and inside longer text (which must not match)."""

from __future__ import annotations

import argparse

import pytest

from delivrd.config import Settings
from delivrd.domain import unsubscribe
from delivrd.domain.unsubscribe import ADDED, REMOVED, Classifier

CLASSIFY = Classifier(unsubscribe.DEFAULT_OPTOUT_KEYWORDS, unsubscribe.DEFAULT_RESUBSCRIBE_KEYWORDS)
OPTOUT = ("R", "T", "TD", "N", "退订", "拒收", "STOP", "UNSUBSCRIBE")
RESUBSCRIBE = ("START", "订阅")


def full_width(text: str) -> str:
    """ASCII letters as their full-width forms (Ｔ for T), as a Chinese input method types them."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def variants(word: str) -> list[tuple[str, str]]:
    """(how it is written, the text) for every way a person may send `word` that must match."""
    return [
        ("as listed", word),
        ("upper case", word.upper()),
        ("lower case", word.lower()),
        ("title case", word.title()),
        ("full-width", full_width(word)),
        ("full-width lower case", full_width(word.lower())),
        ("surrounding spaces", f"  {word}  "),
        ("tab and newline", f"\t{word}\n"),
        ("ideographic spaces", f"\u3000{word}\u3000"),
        ("full-width with an ideographic space", f"{full_width(word.lower())}\u3000"),
    ]


def inside(word: str) -> list[tuple[str, str]]:
    """`word` within longer text: must not match."""
    return [
        ("a sentence", f"please {word} me"),
        ("a prefix", f"x{word}"),
        ("a suffix", f"{word}x"),
        ("punctuation", f"{word}!"),
        ("doubled", f"{word} {word}"),
        ("Chinese around it", f"我要{word}了"),
    ]


MATCHING = [(word, how, text, ADDED) for word in OPTOUT for how, text in variants(word)] + [
    (word, how, text, REMOVED) for word in RESUBSCRIBE for how, text in variants(word)
]
NOT_MATCHING = [(word, how, text) for word in OPTOUT + RESUBSCRIBE for how, text in inside(word)]


@pytest.mark.parametrize(("word", "how", "text", "action"), MATCHING, ids=[f"{w}-{h}" for w, h, _, _ in MATCHING])
def test_a_keyword_matches_however_it_is_written(word, how, text, action):
    assert CLASSIFY(text) == action


@pytest.mark.parametrize(("word", "how", "text"), NOT_MATCHING, ids=[f"{w}-{h}" for w, h, _ in NOT_MATCHING])
def test_a_keyword_inside_longer_text_does_not_match(word, how, text):
    assert CLASSIFY(text) is None


@pytest.mark.parametrize("text", [None, "", "   ", "\u3000", "hello", "好的", "TDD", "RT", "STOPP"])
def test_other_texts_change_nothing(text):
    assert CLASSIFY(text) is None


def test_the_lists_are_settings_read_the_same_way():
    settings = Settings.from_env({"DELIVRD_OPTOUT_KEYWORDS": "ＴＤ, 退订 ,quit", "DELIVRD_RESUBSCRIBE_KEYWORDS": "yes"})
    classify = Classifier(settings.optout_keywords, settings.resubscribe_keywords)
    assert [classify(t) for t in ("td", "QUIT", "退订", "R", "YES", "START")] == [
        ADDED,
        ADDED,
        ADDED,
        None,
        REMOVED,
        None,
    ]
    # written back as read, so the environment carries them to each worker
    assert Settings.from_env(settings.to_env()).optout_keywords == settings.optout_keywords  # type: ignore[arg-type]
    assert str(Settings().resubscribe_keywords) == "START,订阅"


def test_a_word_in_both_lists_unsubscribes():
    assert Classifier("TD,OK", "OK,START")("ok") == ADDED


@pytest.mark.parametrize("text", ["", " , ,", "\u3000"])
def test_an_empty_list_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="no keyword"):
        unsubscribe.keywords(text)
