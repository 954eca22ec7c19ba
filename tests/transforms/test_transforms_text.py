from transforms.text import (DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH, char_class_counts,
                             display_width, normalize)


def test_normalize_japanese_forms():
    assert normalize("１２３４円") == "1234円"
    assert normalize("ｶﾀｶﾅ") == "カタカナ"
    assert normalize("今だけ！") == "今だけ!"
    assert normalize("【公式】ＳＩＭ") == "【公式】SIM"  # 【】 survive NFKC
    assert normalize("５０％ＯＦＦ") == "50%OFF"
    assert normalize("  春\u3000の\t\nセール  ") == "春 の セール"
    assert normalize(None) == ""
    assert normalize("") == ""


def test_display_width_counts_wide_as_two():
    assert display_width("abc") == 3
    assert display_width("あいう") == 6
    assert display_width("【公式】") == 8
    assert display_width("１２") == 4  # as given: full-width digits are wide
    assert display_width(normalize("１２")) == 2
    assert display_width("ｶﾀｶﾅ") == 4  # half-width katakana is narrow...
    assert display_width(normalize("ｶﾀｶﾅ")) == 8  # ...but NFKC widens it
    assert display_width("") == 0 and display_width(None) == 0
    assert (HEADLINE_MAX_WIDTH, DESCRIPTION_MAX_WIDTH) == (30, 90)


def test_char_class_counts():
    c = char_class_counts(normalize("【公式】ｶﾀｶﾅのSIM ５０％！"))
    assert c == {"hiragana": 1, "katakana": 4, "kanji": 2, "latin": 3, "digit": 2,
                 "symbol": 4, "space": 1}
    assert sum(char_class_counts("ー々").values()) == 2
    assert char_class_counts("ー々")["katakana"] == 1 and char_class_counts("ー々")["kanji"] == 1


# ---- Google Ads customizers ------------------------------------------------------------------

from transforms.text import COUNTDOWN_WIDTH, ad_width, has_customizer, render_defaults  # noqa: E402


def test_keyword_insertion_reads_its_default_in_any_capitalisation():
    for kw in ("KeyWord", "keyword", "Keyword", "KEYWORD", "KEYWord", "KeyWORD"):
        text = f"{{{kw}:学習塾}}なら【公式】"
        assert has_customizer(text)
        assert render_defaults(text) == "学習塾なら【公式】"
        assert normalize(text) == "学習塾なら【公式】"
        assert ad_width(text) == display_width("学習塾なら【公式】")
    assert render_defaults("{KeyWord}の比較") == "の比較"  # no default: nothing is counted


def test_attribute_location_and_countdown_customizers():
    assert render_defaults("{=商品.価格:1,980円}から") == "1,980円から"
    assert render_defaults("{CUSTOMIZER.割引:50%}OFF") == "50%OFF"
    assert render_defaults("{LOCATION(City):お近く}の教室") == "お近くの教室"
    assert render_defaults("{LOCATION(City)}の教室") == "の教室"
    countdown = '終了まで{COUNTDOWN("2025/07/01 00:00:00","ja",5)}'
    assert render_defaults(countdown) == "終了まで"
    assert ad_width(countdown) == display_width("終了まで") + COUNTDOWN_WIDTH
    for other in ('{=COUNTDOWN("2025/07/01 00:00:00")}', '{GLOBAL_COUNTDOWN("2025/07/01 00:00:00","ja")}'):
        assert ad_width(other) == COUNTDOWN_WIDTH and render_defaults(other) == ""
    # several in one text, and full-width braces are ordinary text, not a customizer
    assert ad_width("{KeyWord:塾}と{LOCATION(City):東京}") == 2 + 2 + 4
    assert not has_customizer("｛KeyWord：塾｝") and normalize("｛KeyWord：塾｝") == "{KeyWord:塾}"
    assert not has_customizer("{新発売}") and render_defaults("{新発売}") == "{新発売}"


def test_width_counts_the_default_not_the_syntax():
    # 36 wide as written, 26 as Google counts it: within the 30-wide headline limit
    text = "{KeyWord:英会話スクール}なら【公式】"
    assert display_width(text) == 36 > HEADLINE_MAX_WIDTH >= ad_width(text) == 14 + 12
    # ...and a long default is over the limit even though the syntax looks short
    assert ad_width("{KeyWord:" + "あ" * 16 + "}") == 32 > HEADLINE_MAX_WIDTH
    assert ad_width("  １２  ") == 4  # as written (stripped), like display_width
