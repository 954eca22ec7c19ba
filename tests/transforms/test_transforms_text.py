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
