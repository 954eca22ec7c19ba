"""CSV injection (OWASP): files for people neutralise formula-like text; the Google Ads Editor
file, whose texts Google reads as they are, refuses it instead."""

import csv
import io

import pandas as pd
import pytest

from experiments.csv_safety import FORMULA_PREFIXES, FormulaCellError, people_csv, write_people_csv
from experiments.export import GOOGLE_ADS_EDITOR_COLUMNS, google_ads_editor_rows, to_csv

# The texts of the issue, and the two control characters OWASP lists.
PAYLOADS = ["=cmd|' /C calc'!A0", "@SUM(1,2)", "+1+2", "-3+4", "\t=1+1", "\r=1+1"]
PLAIN = ["【公式】スマイル不動産", 'say "hi", then go', "0120-000-000", "－全角は数式ではない"]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_people_csv_never_starts_a_cell_like_a_formula_and_keeps_everything_else():
    rows = [{"text": t, "score": 0.25, "lift": -0.125, "rank": 2} for t in PAYLOADS + PLAIN]
    text = people_csv(rows, ["text", "score", "lift", "rank"])
    header, *body = _cells(text)
    assert header == ["text", "score", "lift", "rank"]
    texts = [row[0] for row in body]
    assert all(t[:1] not in FORMULA_PREFIXES for t in texts)
    assert texts[: len(PAYLOADS)] == ["'" + p for p in PAYLOADS]  # shown as the same text, never run
    assert texts[len(PAYLOADS):] == PLAIN  # quotes, commas and Japanese text survive unchanged
    # Numbers stay numbers: written bare (a negative number is a number, not a formula) ...
    assert '"text","score","lift","rank"' in text and ",0.25,-0.125,2\n" in text
    # ... and text is always quoted, inner quotes doubled.
    assert '"say ""hi"", then go"' in text


def test_a_people_csv_from_a_frame_reads_back_with_the_same_values(tmp_path):
    frame = pd.DataFrame({
        "ad_group_id": ["ag1", "ag2"], "rank": [1, 1], "headline_1": ["=HYPERLINK(\"http://x\")", "普通の見出し"],
        "description_2": [None, "-3+4"], "score": [0.0431, float("nan")],
    })
    path = tmp_path / "top.csv"
    assert write_people_csv(frame, path) == 2
    assert path.read_bytes().startswith(b"\xef\xbb\xbf\"")  # a BOM: Excel reads it as UTF-8, not CP932
    back = pd.read_csv(path)
    assert back.columns[0] == "ad_group_id"
    assert back["headline_1"].tolist() == ["'=HYPERLINK(\"http://x\")", "普通の見出し"]
    assert pd.isna(back["description_2"][0]) and back["description_2"][1] == "'-3+4"
    assert back["rank"].tolist() == [1, 1]
    assert back["score"][0] == pytest.approx(0.0431) and pd.isna(back["score"][1])


def _assignment(**texts):
    base = {"ad_group_id": "ag7", "arm": "production", "tracking_id": "adc-7", "headline_1": "A", "headline_2": "B",
            "headline_3": "C", "description_1": "D", "description_2": "E"}
    return {**base, **texts}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_google_ads_editor_export_refuses_formula_text_instead_of_changing_the_ad(payload):
    rows = google_ads_editor_rows([_assignment(headline_2=payload)], {"ag7": "cmp1"}, "https://example.com")
    with pytest.raises(FormulaCellError) as refused:
        to_csv(rows, GOOGLE_ADS_EDITOR_COLUMNS)
    message = str(refused.value)
    assert "\n" not in message.strip("\r\t")  # one line (the payload itself is shown escaped)
    assert "ad group ag7" in message and "production" in message and "adc-7" in message
    assert "Headline 2" in message and "refused at import" in message and "fix or remove it" in message


def test_the_google_ads_editor_export_keeps_ordinary_texts_exactly():
    rows = google_ads_editor_rows([_assignment(headline_1='【公式】"最大" 70%OFF, 今だけ', description_2="－3＋4")],
                                  {"ag7": "cmp1"}, "https://example.com")
    row = next(csv.DictReader(io.StringIO(to_csv(rows, GOOGLE_ADS_EDITOR_COLUMNS))))
    assert row["Headline 1"] == '【公式】"最大" 70%OFF, 今だけ' and row["Description 2"] == "－3＋4"
