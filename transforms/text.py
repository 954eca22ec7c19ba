"""Text normalisation, Google Ads customizers and display-width helpers (pure, no I/O).

Every feature is computed on ``normalize(text)`` so that full-width/half-width variants of the
same ad text (１ vs 1, ｶﾀｶﾅ vs カタカナ, ！ vs !) share one representation.

Ad text may carry Google Ads customizers. What a searcher sees in their place is unknown here, so
the text is read as Google reads it when nothing can be inserted: with each customizer's default
text (``render_defaults``). Features and tokens see that text; width limits count it
(``ad_width``); the stored text, and every export, keeps the original syntax.

    {KeyWord:既定の文字列}      keyword insertion, any capitalisation of "keyword"
    {=名前.属性:既定}            feed customizer (older syntax)
    {CUSTOMIZER.属性:既定}       attribute customizer (current syntax)
    {LOCATION(City):既定}        location insertion (City, State, Country); the default is optional
    {COUNTDOWN(...)}            countdown, also =COUNTDOWN, GLOBAL_COUNTDOWN; it has no default text

A countdown renders as "3 日" / "5 時間" / "32 分" (days, then hours, then minutes; Google Ads help
"Highlight upcoming events with countdowns"). Google does not publish one fixed count for it; as
Microsoft Advertising documents for the same syntax, a text is too long when any possible countdown
would make it too long, so a countdown counts as its longest rendering, COUNTDOWN_WIDTH.
A customizer without default text (``{LOCATION(City)}``, ``{KeyWord}``) counts nothing: the
platform only shows what fits, and the export does not say what it would insert.
"""
from __future__ import annotations

import re
import unicodedata

HEADLINE_MAX_WIDTH = 30
DESCRIPTION_MAX_WIDTH = 90

CHAR_CLASSES = ("hiragana", "katakana", "kanji", "latin", "digit", "symbol", "space")

# The longest countdown rendering: "59 minutes" (10); Japanese "23 時間" is 7 wide.
COUNTDOWN_WIDTH = 10

# Matched on the text as written (before NFKC): Google reads ASCII braces only, so full-width
# ｛…｝ is ordinary text. Default text runs to the closing brace.
_CUSTOMIZER_RE = re.compile(
    r"""\{(?:
        =?(?P<countdown>(?i:global_countdown|countdown))\((?P<countdown_args>[^{}()]*)\)
      | (?P<keyword>(?i:keyword))(?::(?P<keyword_default>[^{}]*))?
      | (?i:location)\((?P<location>[^{}():]*)\)(?::(?P<location_default>[^{}]*))?
      | (?i:customizer)\.(?P<attribute>[^{}:]+)(?::(?P<attribute_default>[^{}]*))?
      | =(?P<feed>[^{}.:=]+)\.(?P<feed_attribute>[^{}:]+)(?::(?P<feed_default>[^{}]*))?
    )\}""",
    re.VERBOSE,
)


def _default(m: re.Match) -> str:
    """What a customizer shows when nothing is inserted: its default text (a countdown: none)."""
    if m.group("countdown"):
        return ""
    for name in ("keyword_default", "location_default", "attribute_default", "feed_default"):
        if m.group(name) is not None:
            return m.group(name)
    return ""


def has_customizer(text: str | None) -> bool:
    return bool(text) and "{" in text and _CUSTOMIZER_RE.search(text) is not None


def render_defaults(text: str | None) -> str:
    """The text with every customizer replaced by its default text (countdowns by nothing)."""
    if not text:
        return ""
    if "{" not in text:
        return text
    return _CUSTOMIZER_RE.sub(_default, text)


def normalize(text: str | None) -> str:
    """Customizers read as their default text, then NFKC, every whitespace run (incl. U+3000)
    collapsed to one ASCII space, stripped."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    # str.split() with no argument splits on all Unicode whitespace, U+3000 included.
    return " ".join(unicodedata.normalize("NFKC", render_defaults(text)).split())


def char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str | None) -> int:
    """Width as ad platforms count it: East Asian Wide/Fullwidth characters count 2.

    Measured on the text as given: limits apply to what the platform displays.
    """
    if not text:
        return 0
    return sum(char_width(ch) for ch in text)


def ad_width(text: str | None) -> int:
    """Display width as the platform counts it against the 30/90 limits: the text as written
    (stripped; NFKC would turn a full-width ３, width 2, into 3, width 1), customizers counted as
    their default text and a countdown as COUNTDOWN_WIDTH."""
    if not text:
        return 0
    text = text.strip()
    if "{" not in text:
        return display_width(text)
    width, pos = 0, 0
    for m in _CUSTOMIZER_RE.finditer(text):
        width += display_width(text[pos:m.start()])
        width += COUNTDOWN_WIDTH if m.group("countdown") else display_width(_default(m))
        pos = m.end()
    return width + display_width(text[pos:])


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


# OWASP CSV injection: a cell starting with one of these makes a spreadsheet (and Google Ads
# Editor, which reads the same CSVs) run it as a formula. One rule for the import (refuse: an ad
# text cannot be changed on its way out) and for the files made for people (neutralise).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_prefix(text) -> str | None:
    """The character that would make a spreadsheet run `text` as a formula, if any."""
    if isinstance(text, str) and text and text[0] in FORMULA_PREFIXES:
        return text[0]
    return None
