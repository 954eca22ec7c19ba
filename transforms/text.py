"""Text normalisation and display-width helpers (pure, no I/O).

Every feature is computed on ``normalize(text)`` so that full-width/half-width variants of the
same ad text (１ vs 1, ｶﾀｶﾅ vs カタカナ, ！ vs !) share one representation.
"""
from __future__ import annotations

import unicodedata

HEADLINE_MAX_WIDTH = 30
DESCRIPTION_MAX_WIDTH = 90

CHAR_CLASSES = ("hiragana", "katakana", "kanji", "latin", "digit", "symbol", "space")


def normalize(text: str | None) -> str:
    """NFKC, collapse every whitespace run (incl. U+3000) to one ASCII space, strip."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    # str.split() with no argument splits on all Unicode whitespace, U+3000 included.
    return " ".join(unicodedata.normalize("NFKC", text).split())


def char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str | None) -> int:
    """Width as ad platforms count it: East Asian Wide/Fullwidth characters count 2.

    Measured on the text as given: limits apply to what the platform displays.
    """
    if not text:
        return 0
    return sum(char_width(ch) for ch in text)


def char_class(ch: str) -> str:
    o = ord(ch)
    if 0x3041 <= o <= 0x309F:
        return "hiragana"
    # U+30A0..U+30FF includes the prolonged sound mark ー; U+31F0.. are katakana extensions.
    if 0x30A0 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF:
        return "katakana"
    if (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF
            or o in (0x3005, 0x3006, 0x3007)):  # 々 〆 〇 behave like kanji in ad copy
        return "kanji"
    if ("a" <= ch <= "z") or ("A" <= ch <= "Z"):
        return "latin"
    if ch.isdecimal():
        return "digit"
    if ch.isspace():
        return "space"
    if ch.isalpha():  # other scripts (accented latin, Greek, Hangul, ...) read as latin-ish words
        return "latin"
    return "symbol"


def char_class_counts(text: str | None) -> dict[str, int]:
    """Counts per class in CHAR_CLASSES; pass normalised text (NFKC folds full-width forms)."""
    counts = dict.fromkeys(CHAR_CLASSES, 0)
    for ch in text or "":
        counts[char_class(ch)] += 1
    return counts
