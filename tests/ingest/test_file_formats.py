"""Files as they really come: encodings, separators, Japanese headers with a mapping, a totals
file without dates, empty files. Each refused case leaves the warehouse exactly as it was."""

import json

import pytest

from _files_testlib import (BYOD_JA, NAMES, TABLES, TODAY, byod_text, copy, rows, segmented_folder, state,
                            without_source, write_folder)
from ingest.importer import ImportOptions, import_files
from ingest.report import format_import


def _import(wh, folder, **kw):
    return import_files(wh, str(folder), ImportOptions(today=TODAY, **kw))


@pytest.fixture
def plain(duck, tmp_path):
    """The warehouse after importing the plain UTF-8 CSV folder, and that state."""
    result = _import(duck, write_folder(tmp_path / "plain"))
    assert result.ok, format_import(result)
    return state(duck)


@pytest.mark.parametrize("encoding,delimiter,newline,ext", [
    ("utf-8-sig", ",", "\r\n", ".csv"),       # Excel "CSV UTF-8": BOM and CRLF
    ("utf-16", "\t", "\r\n", ".csv"),          # Google Ads "CSV (Excel)" download: UTF-16 LE with BOM, tabs
    ("utf-16", ",", "\n", ".txt"),
    ("utf-16-be", "\t", "\n", ".tsv"),        # no BOM written by this codec: added below
    ("utf-8", "\t", "\n", ".tsv"),
])
def test_detected_encodings_and_separators_load_the_same_rows(duck, tmp_path, plain, encoding, delimiter,
                                                              newline, ext):
    folder = write_folder(tmp_path / "f", encoding, delimiter, newline, ext)
    if encoding == "utf-16-be":
        for name in NAMES:
            p = folder / f"{name}{ext}"
            p.write_bytes(b"\xfe\xff" + p.read_bytes())
    result = _import(duck, folder)
    assert result.ok, format_import(result)
    assert rows(duck) == without_source(plain)
    f = result.files["raw.ads"]
    assert f.format == ("tsv" if delimiter == "\t" else "csv")
    assert f.encoding == {"utf-8-sig": "utf-8-sig", "utf-16": "utf-16", "utf-16-be": "utf-16", "utf-8": "utf-8"}[encoding]


def test_cp932_is_refused_whole_then_loads_exactly_with_its_encoding(duck, tmp_path, plain):
    folder = write_folder(tmp_path / "sjis", "cp932", newline="\r\n")
    result = _import(duck, folder)
    assert not result.ok and not result.written
    assert state(duck) == plain  # nothing touched
    lines = format_import(result)
    refused = [line for line in lines if line.startswith("refused: ads.csv")]
    assert refused == ["refused: ads.csv: line 2, column 4 (industry): bytes 8b b3 are not UTF-8; it looks like "
                       "Shift-JIS/CP932 (what Japanese Excel saves): import with --encoding cp932"]
    assert lines[-1] == "nothing was imported: the warehouse and the source are as they were."
    assert "\ufffd" not in "".join(lines)
    result = _import(duck, folder, encoding="cp932")
    assert result.ok, format_import(result)
    assert rows(duck) == without_source(plain)  # exactly the same rows as the UTF-8 files


@pytest.mark.parametrize("codec", ["euc_jp", "shift_jis", "ms932"])
def test_any_python_codec_name(duck, tmp_path, codec):
    # JIS codecs spell the wave dash U+301C (CP932: U+FF5E): compare with the same text as UTF-8
    jis = (lambda n, t: t.replace("～", "〜")) if codec != "ms932" else None
    reference = _import(duck, write_folder(tmp_path / "ref", transform=jis))
    assert reference.ok
    expected = rows(duck)
    result = _import(duck, write_folder(tmp_path / codec, codec, transform=jis), encoding=codec)
    assert result.ok, format_import(result)
    assert rows(duck) == expected


def test_wrong_or_unknown_encoding_is_refused(duck, tmp_path, plain):
    utf8 = write_folder(tmp_path / "u8")
    result = _import(duck, utf8, encoding="klingon")
    assert [str(r) for r in result.refusals] == [
        "--encoding: unknown encoding 'klingon'; give a Python codec name, e.g. cp932, utf-8, utf-16, euc_jp"]
    for codec in ("hex", "rot13", "base64", "zip"):  # Python codecs, but not of text
        result = _import(duck, utf8, encoding=codec)
        assert [str(r) for r in result.refusals] == [
            f"--encoding: {codec!r} is not a text encoding; give the files' text encoding, e.g. --encoding cp932 or "
            "utf-16"]
    nobom = write_folder(tmp_path / "u16", "utf-16-le")
    result = _import(duck, nobom)
    assert "looks like UTF-16 without a byte-order mark" in str(result.refusals[0])
    latin = write_folder(tmp_path / "bad", "cp932")
    result = _import(duck, latin, encoding="utf-16-le")  # the wrong explicit codec: refused, not mojibake
    assert not result.written
    assert state(duck) == plain


def test_a_utf8_file_beside_cp932_files_is_read_as_utf8_and_said(duck, tmp_path, plain):
    """CP932 files from Excel and Google Ads' plain CSV download (UTF-8, no BOM) in one folder: with
    --encoding cp932 the UTF-8 file is read as UTF-8 (as cp932 it would be mojibake), and the report
    says so; the CP932 files load with the encoding given."""
    folder = write_folder(tmp_path / "mixed", "cp932", names=("ads", "asset_pools"))
    # a report title above the header, as Google Ads writes it: the file is not plain ASCII
    (folder / "ad_daily_performance.csv").write_bytes(("広告レポート\n" + byod_text("ad_daily_performance")).encode())
    result = _import(duck, folder, encoding="cp932")
    assert result.ok, format_import(result)
    assert rows(duck) == without_source(plain)  # exactly the rows of the all-UTF-8 folder
    assert [f.encoding for f in result.files.values()] == ["cp932", "utf-8", "cp932"]
    lines = format_import(result)
    assert lines[1].startswith("raw.ad_daily_performance ← ad_daily_performance.csv (utf-8, comma-separated): 423 rows")
    assert lines[2] == ("    ad_daily_performance.csv was read as UTF-8 although --encoding cp932 was given: it has no "
                        "byte-order mark and is valid UTF-8, which cp932 text practically never is")
    assert sum("read as UTF-8" in line for line in lines) == 1
    # an all-UTF-8 folder given --encoding cp932 loads the same rows; each non-ASCII file is said
    # (the performance file is plain ASCII: the same text in either encoding)
    result = _import(duck, write_folder(tmp_path / "u8"), encoding="cp932")
    assert result.ok and rows(duck) == without_source(plain)
    assert [line.split(" was read")[0] for line in format_import(result) if "was read as UTF-8" in line] == [
        "    ads.csv", "    asset_pools.csv"]


@pytest.mark.parametrize("encoding", [None, "cp932"])
def test_a_utf8_mark_before_cp932_bytes_names_the_bad_bytes_and_line(duck, tmp_path, encoding):
    """The mark's own bytes (ef bb) are not what is wrong; --encoding cannot help, as the mark wins."""
    folder = write_folder(tmp_path / "b", "cp932")
    (folder / "ads.csv").write_bytes(b"\xef\xbb\xbf" + byod_text("ads").encode("cp932"))
    refusal = next(r for r in _import(duck, folder, encoding=encoding).refusals if r.file == "ads.csv")
    assert str(refusal) == (
        "ads.csv: line 2, column 4 (industry): bytes 8b b3 are not UTF-8 (the file starts with a UTF-8 byte-order "
        "mark); it looks like Shift-JIS/CP932 after the mark: save it again as CSV UTF-8, or remove the mark and "
        "name the encoding with --encoding")


@pytest.mark.parametrize("content,what", [(b"", "is empty (0 bytes)"), (b"\r\n\r\n", "has only blank lines"),
                                          ("ad_id,ad_group_id,campaign_id,industry,keyword,headline_1,headline_2,"
                                           "headline_3,description_1,description_2\n".encode(), "has a header but no rows")])
def test_empty_files_are_refused_unless_allowed(duck, tmp_path, plain, content, what):
    folder = write_folder(tmp_path / "e")
    (folder / "ads.csv").write_bytes(content)
    result = _import(duck, folder)
    assert [str(r) for r in result.refusals if r.file == "ads.csv"] == [
        f"ads.csv: {what}; export it again; or pass --allow-empty to empty raw.ads"]
    assert state(duck) == plain
    result = _import(duck, folder, allow_empty=True)
    assert result.ok
    assert duck.row_count("raw.ads") == 0
    # every performance row now belongs to no ad: dead letters, not silently kept
    assert duck.row_count("raw.ad_daily_performance") == 0
    assert result.files["raw.ad_daily_performance"].reasons == {"unknown ad_id": 423}


def test_a_file_whose_every_row_is_rejected_is_refused(duck, tmp_path, plain):
    folder = write_folder(tmp_path / "r", transform=lambda n, t: t.replace(",2025-06-", ",2099-06-").replace(
        "\n2025-06-", "\n2099-06-") if n == "ad_daily_performance" else t)
    result = _import(duck, folder)
    (refusal,) = result.refusals
    assert str(refusal) == ("ad_daily_performance.csv: every one of its 423 rows was rejected (423 date in the "
                            "future); fix the rows (see the reasons), or pass --allow-empty to empty "
                            "raw.ad_daily_performance")
    assert state(duck) == plain


def test_unreadable_structure_is_refused_with_its_line(duck, tmp_path, plain):
    folder = write_folder(tmp_path / "s", transform=lambda n, t: t.replace(",", ";") if n == "asset_pools" else t)
    assert str(_import(duck, folder).refusals[0]) == (
        "asset_pools.csv: line 1: the header line has no comma or tab (it is separated by ';'); "
        "save the file as CSV (comma-separated) or TSV (tab-separated)")
    lines = byod_text("asset_pools").split("\n")
    lines[40] = lines[40].replace(",HEADLINE,", ',HEADLINE,"never closed ')
    folder = write_folder(tmp_path / "q", transform=lambda n, t: "\n".join(lines) if n == "asset_pools" else t)
    result = _import(duck, folder)
    assert result.refusals[0].file == "asset_pools.csv" and "cannot be read as CSV" in result.refusals[0].problem
    assert state(duck) == plain


def test_extra_cells_are_dead_letters_and_line_numbers_count_quoted_newlines(duck, tmp_path):
    def edit(name, text):
        if name != "asset_pools":
            return text
        rows = text.rstrip("\n").split("\n")
        rows.insert(2, 'ag00001,ag00001-q1,DESCRIPTION,"二行に\nまたがる説明文",')  # lines 3-4
        rows.insert(3, "ag00001,ag00001-q2,HEADLINE,半額,セール,今だけ,")           # line 5: unquoted commas
        return "\n".join(rows) + "\n\n,,,,\n"                                       # blank and empty rows
    result = _import(duck, write_folder(tmp_path / "x", transform=edit))
    assert result.ok
    f = result.files["raw.asset_pools"]
    # a text on two lines is no ad text (Google Ads refuses it): a dead letter too, on the line it starts
    assert f.reasons == {"wrong number of fields": 1, "line break in text": 1}
    assert f.lines == {"line break in text": [3], "wrong number of fields": [5]}
    assert f.blank_lines == 2 and f.loaded == 184
    dead = duck.query("SELECT reason, payload FROM `raw.dead_letters`")
    payloads = {r.split(":")[0]: json.loads(p) for r, p in dead.itertuples(index=False)}
    assert payloads["line break in text"]["text"] == "二行に\nまたがる説明文"
    assert payloads["wrong number of fields"]["_file"] == "asset_pools.csv"
    assert payloads["wrong number of fields"]["_line"] == 5


def test_extra_empty_cells_are_dead_letters_not_a_silent_shift(duck, tmp_path, monkeypatch):
    """An unquoted comma in a text whose last column is empty gives a row one cell too many, the
    extra one empty: cutting it off would load the text shifted into the next column."""
    import ingest.files as files

    def edit(name, text):
        rows = text.rstrip("\n").split("\n")
        if name == "ads":  # line 3: description_1 "半額,今だけ" unquoted, description_2 empty
            cells = rows[2].split(",")
            rows[2] = ",".join(cells[:8] + ["半額", "今だけ", ""])
        if name == "ad_daily_performance":  # line 6: a trailing empty cell
            rows[5] += ","
        return "\n".join(rows) + "\n"

    folder = write_folder(tmp_path / "x", transform=edit)
    for reader in ("arrow", "csv"):
        if reader == "csv":
            monkeypatch.setattr(files, "_arrow_chunks", lambda *a: None)
        result = _import(duck, folder)
        assert result.ok, format_import(result)
        ads, perf = result.files["raw.ads"], result.files["raw.ad_daily_performance"]
        assert ads.lines == {"wrong number of fields": [3]} and ads.loaded == 47
        assert perf.lines["wrong number of fields"] == [6]
        assert ("    1 × wrong number of fields on line 3: 11 cells, the header has 10 (an unquoted comma in a "
                "value?)") in format_import(result)
        assert duck.query("SELECT count(*) AS n FROM `raw.ads` WHERE description_1 = '半額'")["n"].iloc[0] == 0


# ---- your column names ---------------------------------------------------------------------------

JA_HEADERS = {"ads": "広告 ID,広告グループ ID,キャンペーン ID,業種,キーワード,広告見出し１,広告見出し　2,広告見出し 3,"
                     "説明文 1,説明文 2,広告の種類",
              "ad_daily_performance": "日,広告 ID,表示回数,クリック数,コンバージョン,費用",
              "asset_pools": "広告グループ ID,アセット ID,アセットの種類,テキスト,固定"}
MAPPING = """\
ads:
  columns: {広告 ID: ad_id, 広告グループ ID: ad_group_id, キャンペーン ID: campaign_id, 業種: industry,
            キーワード: keyword, 広告見出し 1: headline_1, 広告見出し 2: headline_2, 広告見出し 3: headline_3,
            説明文 1: description_1, 説明文 2: description_2}
  ignore: [広告の種類]
ad_daily_performance:
  columns: {日: date, 広告 ID: ad_id, 表示回数: impressions, クリック数: clicks, コンバージョン: conversions,
            費用: cost_micros}
asset_pools:
  columns: {広告グループ ID: ad_group_id, アセット ID: asset_id, アセットの種類: asset_type, テキスト: text,
            固定: pinned_field}
"""


def _japanese(name, text):
    head, _, rest = text.partition("\n")
    if name == "ads":  # an export column adcombo does not use, at the end
        rest = "\n".join(r + ",レスポンシブ検索広告" if r else r for r in rest.split("\n"))
    return JA_HEADERS[name] + "\n" + rest


def test_japanese_headers_load_with_a_mapping_beside_the_data(duck, tmp_path, plain):
    folder = write_folder(tmp_path / "ja", "cp932", transform=_japanese)
    (folder / "columns.yaml").write_text(MAPPING, encoding="utf-8")
    result = _import(duck, folder, encoding="cp932")
    assert result.ok, format_import(result)
    assert rows(duck) == without_source(plain)
    # the same mapping as JSON, given explicitly from elsewhere
    (folder / "columns.yaml").unlink()
    import yaml

    explicit = tmp_path / "mapping.json"
    explicit.write_text(json.dumps(yaml.safe_load(MAPPING), ensure_ascii=False), encoding="utf-8")
    assert _import(duck, folder, encoding="cp932", columns=str(explicit)).ok
    # without it: refused, naming the first header it does not know and how to map it
    (refusal, *_) = _import(duck, folder, encoding="cp932").refusals
    assert str(refusal).startswith("ads.csv: line 1, column 広告 ID: unknown column '広告 ID' (and 10 more: ")
    assert "map it to one of adcombo's columns in columns.yaml (ads: {columns: {'広告 ID': ...}})" in str(refusal)


def test_mapping_mistakes_are_refused_with_their_line(duck, tmp_path, plain):
    folder = write_folder(tmp_path / "m", transform=_japanese)
    cases = {
        "ads:\n  columns: {広告 ID: ad_id\n": ("columns.yaml", "not valid YAML", 3),
        "ads:\n  columns: {広告 ID: add_id}\n": ("columns.yaml", "ads.columns maps to ['add_id'], which are not "
                                                                 "columns of ads", None),
        "ads:\n  colums: {}\n": ("columns.yaml", "ads.colums: Extra inputs are not permitted", None),
        "ads:\n  columns: {広告 ID: ad_id, 広告グループ ID: ad_id}\n": ("columns.yaml", "maps both", None),
    }
    for text, (file, problem, line) in cases.items():
        (folder / "columns.yaml").write_text(text, encoding="utf-8")
        (refusal,) = _import(duck, folder).refusals
        assert refusal.file == file and problem in refusal.problem and refusal.line == line, refusal
    assert state(duck) == plain


def test_the_example_folder_imports_with_its_encoding(duck):
    result = import_files(duck, str(BYOD_JA), ImportOptions(encoding="cp932", today=TODAY))
    assert result.ok, format_import(result)
    perf = result.files["raw.ad_daily_performance"]
    assert (perf.encoding, perf.format, perf.preamble_lines) == ("utf-16", "tsv", 2)
    assert perf.reasons == {"totals line": 1}  # the account's total row at the bottom
    ads = duck.query("SELECT * FROM `raw.ads`")
    assert result.files["raw.ads"].rejected == 0 and len(ads) == result.files["raw.ads"].rows_read
    assert (ads["description_2"] == "").mean() > 0.5 and (ads["headline_3"] == "").any()
    texts = duck.query("SELECT text FROM `raw.asset_pools`")["text"]
    assert texts.str.contains("{KeyWord:", regex=False).any() and texts.str.contains("{COUNTDOWN(", regex=False).any()


# ---- totals of one period ----------------------------------------------------------------------------

def _totals(name, text):
    if name != "ad_daily_performance":
        return text
    import csv
    import io
    from collections import defaultdict

    sums = defaultdict(lambda: [0, 0])
    for r in csv.DictReader(io.StringIO(text)):
        sums[r["ad_id"]][0] += int(r["impressions"])
        sums[r["ad_id"]][1] += int(r["clicks"])
    return "ad_id,impressions,clicks\n" + "".join(f"{a},{i},{c}\n" for a, (i, c) in sums.items())


def test_a_performance_file_without_dates_is_one_period_as_of_a_day(duck, tmp_path, plain):
    import datetime as dt

    folder = write_folder(tmp_path / "p", transform=_totals)
    (refusal,) = _import(duck, folder).refusals
    assert str(refusal) == ("ad_daily_performance.csv: line 1: no date column: these look like totals of one "
                            "period; import with --as-of YYYY-MM-DD (the period's last day), or map the date "
                            "column in columns.yaml")
    future = _import(duck, folder, as_of=dt.date(2025, 7, 2)).refusals
    assert [str(r) for r in future] == ["--as-of: 2025-07-02 is after the import day 2025-07-01; give the last "
                                        "day of the period the totals cover"]
    assert state(duck) == plain
    result = _import(duck, folder, as_of=dt.date(2025, 6, 30))
    assert result.ok, format_import(result)
    perf = duck.query("SELECT CAST(date AS STRING) AS d, COUNT(*) AS n, SUM(impressions) AS i FROM "
                      "`raw.ad_daily_performance` GROUP BY d")
    assert perf.values.tolist() == [["2025-06-30", 48, perf["i"].iloc[0]]]
    dated = write_folder(tmp_path / "d")
    assert "--as-of is for a performance file without a date column" in str(
        _import(duck, dated, as_of=dt.date(2025, 6, 30)).refusals[0])


def test_each_file_is_mapped_to_its_table(duck, tmp_path):
    """Several problems in one attempt: every file is checked and each refusal is reported."""
    folder = write_folder(tmp_path / "two", transform=lambda n, t: t.replace("impressions", "imps")
                          if n == "ad_daily_performance" else t.replace("asset_type", "kind")
                          if n == "asset_pools" else t)
    refusals = _import(duck, folder).refusals
    assert [(r.file, r.column) for r in refusals] == [("ad_daily_performance.csv", "imps"),
                                                      ("asset_pools.csv", "kind")]
    assert set(TABLES.values()) >= {"raw.ads"}


@pytest.mark.parametrize("reader", ["arrow", "csv"])
def test_a_one_period_exports_totals_lines_are_dead_letters_that_say_so(duck, tmp_path, monkeypatch, reader):
    """Without a date column the totals' label stands in the ad_id column: the reason says what the
    row is, rather than `unknown ad_id`."""
    import datetime as dt

    import ingest.files as files

    if reader == "csv":
        monkeypatch.setattr(files, "_arrow_chunks", lambda *a: None)
    folder = write_folder(tmp_path / "p", transform=lambda n, t: _totals(n, t) + (
        "Total: Account,99999,999\n合計: アカウント,99999,999\n" if n == "ad_daily_performance" else ""))
    result = _import(duck, folder, as_of=dt.date(2025, 6, 30))
    assert result.ok, format_import(result)
    perf = result.files["raw.ad_daily_performance"]
    assert perf.reasons == {"totals line": 2} and duck.row_count("raw.ad_daily_performance") == 48
    assert ("    2 × totals line, first on line 50: 'Total: Account' is the export's sum of the rows above, not an "
            "ad's row (lines 50, 51)") in format_import(result)


# ---- the performance file's two readers -------------------------------------------------------------

@pytest.mark.parametrize("blemish", ["none", "blank line", "empty cells", "extra cells", "quoted newline"])
def test_arrow_and_csv_readers_agree_on_rows_and_lines(duck, tmp_path, monkeypatch, blemish):
    """The performance file is read by Arrow's CSV reader when every physical line is one row, else
    by the csv module; both give the same table, dead letters and line numbers."""
    import ingest.files as files

    def edit(name, text):
        if name != "ad_daily_performance":
            return text
        lines = text.rstrip("\n").split("\n")
        lines[100] = {"none": lines[100], "blank line": lines[100] + "\n", "empty cells": lines[100] + "\n,,,,,",
                      "extra cells": lines[100] + "\n2025-06-30,ad00001-01,1,0,0,0,surplus",
                      "quoted newline": lines[100] + '\n2025-06-30,"ad00001\n-01",1,0,0,0'}[blemish]
        lines[200] = lines[200].replace(",", ",x", 1)  # a bad ad_id on a line after the blemish
        return "\n".join(lines) + "\n"

    folder = write_folder(tmp_path / blemish.replace(" ", "_"), transform=edit)
    used = []
    real = files._arrow_chunks
    monkeypatch.setattr(files, "_arrow_chunks", lambda *a: used.append(r := real(*a)) or r)
    def content(wh):  # the state without the dead letters' import time
        s = state(wh)
        return {**s, "raw.dead_letters": [row[:-1] for row in s["raw.dead_letters"]]}

    first = _import(duck, folder)
    assert first.ok, format_import(first)
    by_arrow = content(duck)
    assert (used[0] is not None) == (blemish in ("none", "empty cells"))
    monkeypatch.setattr(files, "_arrow_chunks", lambda *a: None)
    second = _import(duck, folder)
    assert content(duck) == by_arrow  # tables and dead letters (with their lines) equal
    a, b = first.files["raw.ad_daily_performance"], second.files["raw.ad_daily_performance"]
    assert (a.rows_read, a.loaded, a.blank_lines, a.reasons, a.lines) == (b.rows_read, b.loaded, b.blank_lines,
                                                                         b.reasons, b.lines)
    shift = {"none": 0, "blank line": 1, "empty cells": 1, "extra cells": 1, "quoted newline": 2}[blemish]
    quoted = [102] if blemish == "quoted newline" else []  # that row's ad_id has a line break: unknown too
    assert a.lines["unknown ad_id"] == quoted + [201 + shift]  # line 201: list index 200 after the header


# ---- Excel's empty trailing columns -------------------------------------------------------------------

def _trailing_empty_cells(name, text):
    """Excel saves a sheet whose used range is wider than the data with ",," after every line."""
    return "\n".join(line + ",," if line else line for line in text.split("\n"))


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig"])
def test_empty_header_cells_over_empty_columns_are_ignored_and_said(duck, tmp_path, plain, monkeypatch, encoding):
    import ingest.files as files

    folder = write_folder(tmp_path / encoding, encoding, newline="\r\n", transform=_trailing_empty_cells)
    for reader in ("arrow", "csv"):  # the performance file's two readers
        if reader == "csv":
            monkeypatch.setattr(files, "_arrow_chunks", lambda *a: None)
        result = _import(duck, folder, encoding="cp932" if encoding == "cp932" else None)
        assert result.ok, format_import(result)
        assert rows(duck) == without_source(plain)
        lines = format_import(result)
        for name in NAMES:
            assert f"    ignored 2 empty columns at the end of {name}.csv (no header, no value in any row)" in lines
        assert all(f.rejected == 0 for f in result.files.values())


def test_a_value_under_an_empty_header_cell_is_refused_with_its_line_and_column(duck, tmp_path, plain, monkeypatch):
    import ingest.files as files

    def edit(name, text):
        text = _trailing_empty_cells(name, text)
        if name in ("ads", "ad_daily_performance"):  # line 4: a value in the 2nd empty column
            lines = text.split("\n")
            lines[3] += "メモ"
            text = "\n".join(lines)
        return text

    folder = write_folder(tmp_path / "v", "cp932", transform=edit)
    for reader in ("arrow", "csv"):
        if reader == "csv":
            monkeypatch.setattr(files, "_arrow_chunks", lambda *a: None)
        result = _import(duck, folder, encoding="cp932")
        assert [str(r) for r in result.refusals] == [
            f"{name}.csv: line 4, column {width} (no header): a value ('メモ') in a column whose header cell is empty; "
            f"give the column a name in the header line, or map it in columns.yaml ({name}: {{columns: {{'': one of "
            f"adcombo's columns}}}})" for name, width in (("ads", 12), ("ad_daily_performance", 8))]
        assert state(duck) == plain
    (folder / "columns.yaml").write_text("ads: {ignore: ['']}\nad_daily_performance: {ignore: ['']}\n",
                                         encoding="utf-8")
    assert _import(duck, folder, encoding="cp932").ok  # the user says those columns are not data


@pytest.mark.parametrize("name,encoding,delimiter", [("asset_pools", "cp932", ","),
                                                     ("ad_daily_performance", "utf-16", "\t")])
def test_an_unclosed_quote_is_refused_on_the_line_that_opens_it(duck, tmp_path, plain, name, encoding, delimiter):
    """The refusal names the line a text editor shows the opening quote on (it named the line
    before: where the last good row ended). asset_pools has quoted texts further down, so the
    reader stops at one of them; the performance file has none, so it reads to the end."""
    def edit(n, text):
        if n != name:
            return text
        lines = text.split("\n")
        cells = lines[9].split(delimiter)  # line 10
        cells[3] = '"' + cells[3]
        lines[9] = delimiter.join(cells)
        return "\n".join(lines)

    folder = write_folder(tmp_path / name, encoding, delimiter, "\r\n", transform=edit)
    (refusal,) = _import(duck, folder, encoding="cp932").refusals
    assert (refusal.file, refusal.line) == (f"{name}.csv", 10), str(refusal)
    assert str(refusal).startswith(f"{name}.csv: line 10: cannot be read as {'TSV' if delimiter != ',' else 'CSV'}: ")
    assert "(the row starting on this line runs on to line " in str(refusal)
    assert str(refusal).endswith("; check the quoting on that line (a quote opened and never closed?)")
    assert state(duck) == plain


# ---- a segmented performance report ---------------------------------------------------------------------

def test_a_segmented_report_is_refused_unless_its_segments_are_added_up(duck, tmp_path, plain):
    """A report with a device segment (UTF-16 TSV, as Google Ads' download): most (date, ad_id)
    repeat, so the first rows would load one device's delivery as the day's. Refused whole, saying
    why and what to do; with sum_segments each day's devices add up to exactly the plain report."""
    folder = segmented_folder(tmp_path / "seg")
    result = _import(duck, folder)
    assert [str(r) for r in result.refusals] == [
        "ad_daily_performance.csv: 529 of its 952 rows (56%) repeat the date and ad_id of an earlier row: the report "
        "looks segmented (by device, network, ...); export it without segments, or pass --sum-segments to add up the "
        "rows of each date and ad"]
    assert format_import(result)[-1] == "nothing was imported: the warehouse and the source are as they were."
    assert state(duck) == plain
    result = _import(duck, folder, sum_segments=True)
    assert result.ok, format_import(result)
    assert rows(duck) == without_source(plain)
    assert ("    529 rows added into an earlier row of the same date and ad_id: the report's segments added up "
            "(--sum-segments)") in format_import(result)
    meta = result.ingest_reports()["raw.ad_daily_performance"].metadata()
    assert (meta["rows_received"], meta["rows"], meta["rows_rejected"], meta["rows_summed_from_segments"]) == (
        952, 423, 0, 529)


def _by_click_type(name, text):
    """Google Ads' "Segment > Click type": every row twice, with the same impressions (an impression
    counts once per kind of click it could get) and the clicks split between the two."""
    if name != "ad_daily_performance":
        return text
    head, *lines = text.rstrip("\n").split("\n")
    out = [head + ",クリックの種類"]
    for line in lines:
        date, ad, imp, clk, conv, cost = line.split(",")
        out += [f"{date},{ad},{imp},{int(clk) // 2},{conv},{cost},広告見出し",
                f"{date},{ad},{imp},{int(clk) - int(clk) // 2},0,0,サイトリンク"]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("sum_segments", [False, True])
def test_a_click_type_segment_is_refused_even_with_sum_segments(duck, tmp_path, plain, sum_segments):
    """Click-type rows repeat each impression: adding them up would double the impressions, and the
    first row alone would halve the clicks. Refused whole, naming the segment, before --sum-segments
    is tried too."""
    folder = write_folder(tmp_path / "clicks", transform=_by_click_type)
    (folder / "columns.yaml").write_text("ad_daily_performance: {ignore: [クリックの種類]}\n", encoding="utf-8")
    result = _import(duck, folder, sum_segments=sum_segments)
    assert [str(r) for r in result.refusals] == [
        "ad_daily_performance.csv: it is segmented by 'クリックの種類', which counts an impression in several rows: "
        "adding its rows up would count impressions and clicks more than once; export it without that segment (a "
        "device or network segment can be added up with --sum-segments)"]
    assert state(duck) == plain


@pytest.mark.parametrize("repeat,refused", [(42, False), (48, True)])
def test_a_few_repeated_rows_stay_dead_letters(duck, tmp_path, plain, repeat, refused):
    """At most 10% of the rows repeating an earlier (date, ad_id): the first row wins, the others
    are dead letters, as before; above it, the report is taken for a segmented one."""
    result = _import(duck, segmented_folder(tmp_path / str(repeat), repeat=repeat))
    assert bool(result.refusals) == refused, format_import(result)
    if refused:
        assert "48 of its 471 rows (10%) repeat the date and ad_id of an earlier row" in str(result.refusals[0])
        assert state(duck) == plain
    else:
        assert result.files["raw.ad_daily_performance"].reasons == {"duplicate key": 42}
        assert duck.row_count("raw.ad_daily_performance") == 423
