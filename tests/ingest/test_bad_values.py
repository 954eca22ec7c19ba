"""Every bad value is a dead letter with its reason, never a crash (files, Parquet and API rows)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _files_testlib import TODAY, write_folder
from ingest.importer import ImportOptions, import_files
from ingest.report import format_import
from ingest.validate import FORMULA_PREFIXES, MAX_IMPRESSIONS, validate

PERF_BAD = {  # line appended to the performance file → the reason its dead letter carries
    "2025-06-30,ad00001-01,99999999999999999999,1,0,0": "out of range: impressions=99999999999999999999 does not "
                                                      "fit a 64-bit integer",
    "2025-06-29,ad00001-01,9223372036854775807,1,0,0": "implausible count: impressions=9,223,372,036,854,775,807 "
                                                      f"is above {MAX_IMPRESSIONS:,} impressions in one row",
    "2025-06-28,ad00001-01,10,1,0,99999999999999999999": "out of range: cost_micros=99999999999999999999",
    "2025-06-27,ad00001-01,10,11,0,0": "clicks > impressions: 11 > 10",
    "2099-01-01,ad00001-02,10,1,0,0": "date in the future: 2099-01-01 is after the import day 2025-07-01",
    "2025-06-26,nobody-01,10,1,0,0": "unknown ad_id: nobody-01 is not in the ads file",
    "2025-06-21,ad00001-01,200,9,1,679967105": "duplicate key: 2025-06-21, ad00001-01",
    "2025-06-25,ad00001-03,1.5,0,0,0": "wrong type: impressions='1.5' is not a whole number",
    "2025-06-25,ad00001-04,-3,0,0,0": "negative count: impressions=-3",
}
ACCEPTED = ["2025/6/19,ad00001-01,\"1,234\",5,0,0"]  # Excel's dates and thousands separators


def _dead(wh):
    out = wh.query("SELECT table_name, reason, payload FROM `raw.dead_letters`")
    return [(t, r, json.loads(p)) for t, r, p in out.itertuples(index=False)]


def test_bad_performance_values_are_dead_letters_with_reasons(duck, tmp_path):
    folder = write_folder(tmp_path / "p", transform=lambda n, t: t + "\n".join([*PERF_BAD, *ACCEPTED]) + "\n"
                          if n == "ad_daily_performance" else t)
    result = import_files(duck, str(folder), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    dead = _dead(duck)
    assert len(dead) == len(PERF_BAD)
    ordered = sorted(dead, key=lambda d: d[2]["_line"])
    for i, ((line, expected), (table, reason, payload)) in enumerate(zip(PERF_BAD.items(), ordered)):
        assert table == "raw.ad_daily_performance" and reason.startswith(expected), (line, reason)
        assert payload["_file"] == "ad_daily_performance.csv" and payload["_line"] == 425 + i  # 1 header + 423 rows
    row = duck.query("SELECT impressions FROM `raw.ad_daily_performance` WHERE CAST(date AS STRING) = '2025-06-19' "
                     "AND ad_id = 'ad00001-01'")
    assert row["impressions"].tolist() == [1234]
    report = "\n".join(format_import(result))
    assert ("    2 × out of range, first on line 425: impressions=99999999999999999999 does not fit a 64-bit "
            "integer (lines 425, 427)") in report.split("\n")


def test_whole_decimals_count_and_fractional_conversions_are_rounded_and_said(duck, tmp_path):
    """Google Ads writes counts as "3.00" and data-driven attribution gives fractional conversions:
    whole decimals are whole numbers; fractional conversions are rounded (halves to even) so the
    row's impressions and clicks are kept, and the report says so; a fractional click is an error."""
    def edit(name, text):
        if name != "ad_daily_performance":
            return text
        return "date,ad_id,impressions,clicks,conversions,cost_micros\n" + "\n".join([
            '2025-06-21,ad00001-01,"1,234.00",9.0,3.00,679967105',  # line 2: all whole
            "2025-06-21,ad00001-02,1234.0,11,0.50,910144404",       # line 3: conversions 0.50 → 0
            "2025-06-21,ad00001-03,351,19,1.5,2170074605",           # line 4: 1.5 → 2
            "2025-06-21,ad00001-04,200,1.5,0,79485660",              # line 5: a fractional click
            "2025-06-21,ad00002-01,100,1,-0.5,1",                    # line 6: negative
            "2025-06-21,nobody-01,100,1,0.5,1",                      # line 7: rounded, then an unknown ad
        ]) + "\n"

    result = import_files(duck, str(write_folder(tmp_path / "d", transform=edit)), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    got = duck.query("SELECT ad_id, impressions, clicks, conversions FROM `raw.ad_daily_performance` ORDER BY ad_id")
    assert got.values.tolist() == [["ad00001-01", 1234, 9, 3], ["ad00001-02", 1234, 11, 0], ["ad00001-03", 351, 19, 2]]
    assert sorted((r.split(" (")[0], p["_line"]) for _, r, p in _dead(duck)) == [
        ("negative count: conversions=-0.5", 6), ("unknown ad_id: nobody-01 is not in the ads file", 7),
        ("wrong type: clicks='1.5' is not a whole number", 5)]
    report = format_import(result)
    assert ("    2 rows with fractional conversions rounded to whole numbers, as raw.ad_daily_performance stores "
            "whole conversions (lines 3, 4)") in report
    assert result.ingest_reports()["raw.ad_daily_performance"].metadata()["rows_with_rounded_conversions"] == 2


def test_api_rows_with_fractional_conversions_are_counted_in_the_materialisation_metadata(duck, monkeypatch):
    """The Google Ads API gives conversions as a double: the API source rounds them by the same rule
    and says how many rows in the asset's metadata."""
    import datetime as dt

    import ingest.run as run

    rows = [{"date": "2025-06-01", "ad_id": "a", "impressions": 10, "clicks": 1, "conversions": 0.5},
            {"date": "2025-06-01", "ad_id": "b", "impressions": 10, "clicks": 1, "conversions": 2.0}]
    monkeypatch.setattr(run.api, "fetch_performance", lambda client, start, end: rows)
    report = run.ingest_performance(None, duck, dt.date(2025, 6, 1), dt.date(2025, 6, 1))
    assert report.metadata()["rows_with_rounded_conversions"] == 1 and report.loaded == 2


FORMULAS = ["=cmd|' /C calc'!A0", "@SUM(1,2)", "+1+2", "-3+4", "\tタブ", "\r改行"]


def test_formula_like_pool_and_ad_texts_are_refused(duck, tmp_path):
    def edit(name, text):
        if name == "asset_pools":
            return text + "".join(f'ag00001,ag00001-f{i},HEADLINE,"{t}",\n' for i, t in enumerate(FORMULAS)) \
                + "ag00001,=HYPERLINK(1),HEADLINE,ふつうの見出し,\n"
        if name == "ads":
            first = text.split("\n")[1].split(",")
            first[0], first[5] = "ad-formula", "=1+1"
            return text + ",".join(first) + "\n"
        return text

    result = import_files(duck, str(write_folder(tmp_path / "f", transform=edit)), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    dead = _dead(duck)
    reasons = sorted(r for _, r, _ in dead)
    assert len(dead) == len(FORMULAS) + 2
    assert all(r.startswith("formula-like text: ") for r in reasons)
    assert "formula-like text: headline_1 starts with '='; Google Ads Editor and spreadsheets would read it as a " \
           "formula: remove or change the first character" in reasons
    assert any(r.startswith("formula-like text: asset_id starts with '='") for r in reasons)
    assert {repr(ch) for ch in FORMULA_PREFIXES} <= {r.split("starts with ")[1].split(";")[0] for r in reasons}
    assert duck.query("SELECT COUNT(*) AS n FROM `raw.asset_pools` WHERE asset_id LIKE 'ag00001-f%'")["n"][0] == 0


def test_api_rows_get_the_same_rules():
    rows = [{"ad_group_id": "g", "asset_id": f"a{i}", "asset_type": "HEADLINE", "text": t, "pinned_field": ""}
            for i, t in enumerate(["ok", *FORMULAS, "＝全角は数式ではない"])]
    v = validate("raw.asset_pools", rows)
    assert v.frame["text"].tolist() == ["ok", "＝全角は数式ではない"]
    assert v.reasons() == {"formula-like text": len(FORMULAS)}
    perf = validate("raw.ad_daily_performance", [{"date": "2025-06-01", "ad_id": "a", "impressions": 2**64,
                                                  "clicks": 0}])
    assert perf.rejected[0].reason == f"out of range: impressions={2**64} does not fit a 64-bit integer"


def test_simulator_never_writes_formula_like_texts():
    from admedia.world import World, WorldConfig

    for preset in ("tiny", "small"):
        w = World.generate(WorldConfig.preset(preset))
        texts = [a["text"] for a in w.asset_pools()] + [ad[c] for ad in w.ads() for c in
                                                        ("headline_1", "headline_2", "headline_3", "description_1",
                                                         "description_2")]
        assert not [t for t in texts if t.startswith(FORMULA_PREFIXES)]


def test_parquet_values_out_of_range_are_dead_letters(duck, tmp_path):
    folder = write_folder(tmp_path / "pq", names=("ads", "asset_pools"))
    table = pa.table({"date": pa.array(["2025-06-21", "2025-06-22"]), "ad_id": ["ad00001-01", "ad00001-01"],
                      "impressions": pa.array([2**64 - 1, 100], type=pa.uint64()),
                      "clicks": pa.array([1, 2], type=pa.int64())})
    pq.write_table(table, folder / "ad_daily_performance.parquet")
    result = import_files(duck, str(folder), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    assert result.files["raw.ad_daily_performance"].reasons == {"out of range": 1}
    assert result.files["raw.ad_daily_performance"].lines == {"out of range": [1]}
    assert duck.row_count("raw.ad_daily_performance") == 1


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_parquet_timestamps_at_midnight_are_days_and_other_times_are_dead_letters(duck, tmp_path, tz):
    """BigQuery and pandas write days as TIMESTAMP: midnight is the day. 15:00 UTC is Tokyo's midnight
    of the next day, and 13:45 an hourly report: taking their date could put a row on the wrong day."""
    import datetime as dt

    folder = write_folder(tmp_path / "ts", names=("ads", "asset_pools"))
    days = [dt.datetime(2025, 6, 21), dt.datetime(2025, 6, 22), dt.datetime(2025, 6, 22, 15), dt.datetime(2025, 6, 24, 13, 45)]
    pq.write_table(pa.table({"date": pa.array(days, pa.timestamp("us", tz=tz)), "ad_id": ["ad00001-01"] * 4,
                             "impressions": [100] * 4, "clicks": [1] * 4}), folder / "ad_daily_performance.parquet")
    result = import_files(duck, str(folder), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    got = duck.query("SELECT CAST(date AS STRING) AS d FROM `raw.ad_daily_performance` ORDER BY d")["d"].tolist()
    assert got == ["2025-06-21", "2025-06-22"]
    reasons = sorted((r, p["_line"]) for _, r, p in _dead(duck))
    assert [line for _, line in reasons] == [3, 4]
    assert all(r.startswith("bad date: '2025-06-2") and r.endswith("is a date with a time of day: the report must be "
                                                                    "daily") for r, _ in reasons), reasons


def test_parquet_integer_ids_load_as_their_digits(duck, tmp_path):
    """BigQuery and the Google Ads API export ids as INT64: they are ids, as text (never floats or booleans)."""
    folder = tmp_path / "ids"
    folder.mkdir()
    ad = {"headline_1": ["見出し1"] * 3, "headline_2": ["見出し2"] * 3, "description_1": ["説明文"] * 3}
    pq.write_table(pa.table({"ad_id": pa.array([1234567890123, 2, 3], pa.int64()),
                             "ad_group_id": pa.array([77, 77, 77], pa.int64()),
                             "campaign_id": pa.array([9, 9, 9], pa.int32()), **ad}), folder / "ads.parquet")
    pq.write_table(pa.table({"date": ["2025-06-21"] * 4, "ad_id": pa.array([1234567890123, 2, 3, 4], pa.int64()),
                             "impressions": [10, 20, 30, 40], "clicks": [1, 2, 3, 4]}),
                   folder / "ad_daily_performance.parquet")
    pq.write_table(pa.table({"ad_group_id": pa.array([77, 77], pa.int64()), "asset_id": pa.array([501, 502], pa.int64()),
                             "asset_type": ["HEADLINE", "DESCRIPTION"], "text": ["見出し", "説明文"],
                             "pinned_field": ["", ""]}), folder / "asset_pools.parquet")
    result = import_files(duck, str(folder), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    assert sorted(duck.query("SELECT ad_id FROM `raw.ads`")["ad_id"]) == ["1234567890123", "2", "3"]
    perf = duck.query("SELECT ad_id, impressions FROM `raw.ad_daily_performance` ORDER BY impressions")
    assert perf.values.tolist() == [["1234567890123", 10], ["2", 20], ["3", 30]]
    assert result.files["raw.ad_daily_performance"].reasons == {"unknown ad_id": 1}  # 4: no such ad
    assert duck.query("SELECT asset_id, ad_group_id FROM `raw.asset_pools` ORDER BY asset_id").values.tolist() == [
        ["501", "77"], ["502", "77"]]
    for v in (True, 12.0):
        assert validate("raw.ads", [{"ad_id": v, "ad_group_id": "g", "campaign_id": "c", **{k: x[0] for k, x in ad.items()}}]
                        ).rejected[0].reason.startswith("wrong type: ad_id")


def test_ids_and_enumerations_are_stripped_texts_are_not(duck, tmp_path):
    """A stray space in a spreadsheet cell: "ad00001-02 " is ad00001-02 (its delivery is not unknown),
    " HEADLINE" is a HEADLINE, in every file; the texts keep their spaces, as they are exported."""
    def edit(name, text):
        head, *rows = text.rstrip("\n").split("\n")
        if name == "ads":  # line 3: ad00001-02 with a trailing space, its group with a full-width one
            cells = rows[1].split(",")
            cells[0], cells[1], cells[5] = cells[0] + " ", cells[1] + "\u3000", " " + cells[5] + "　"
            rows[1] = ",".join(cells)
        if name == "ad_daily_performance":
            rows[0] = rows[0].replace("ad00001-01", "\u3000ad00001-01 ")
        if name == "asset_pools":
            cells = rows[0].split(",")
            cells[0], cells[1], cells[2], cells[3], cells[4] = " " + cells[0], cells[1] + "\t", cells[2] + " ", \
                cells[3] + " ", "HEADLINE_1\u3000"
            rows[0] = ",".join(cells)
        return "\n".join([head, *rows]) + "\n"

    reference = import_files(duck, str(write_folder(tmp_path / "ref")), ImportOptions(today=TODAY))
    assert reference.ok
    ads = duck.query("SELECT * FROM `raw.ads` ORDER BY ad_id")
    result = import_files(duck, str(write_folder(tmp_path / "ws", transform=edit)), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    assert all(f.rejected == 0 for f in result.files.values()), format_import(result)
    got = duck.query("SELECT * FROM `raw.ads` ORDER BY ad_id")
    assert got["ad_id"].tolist() == ads["ad_id"].tolist() and got["ad_group_id"].tolist() == ads["ad_group_id"].tolist()
    assert got["headline_1"][1] == " " + ads["headline_1"][1] + "　"  # texts as written
    pool = duck.query("SELECT * FROM `raw.asset_pools` WHERE asset_id = 'ag00001-h01'").iloc[0]
    assert (pool["ad_group_id"], pool["asset_type"], pool["pinned_field"]) == ("ag00001", "HEADLINE", "HEADLINE_1")
    assert pool["text"].endswith(" ")
    assert duck.row_count("raw.ad_daily_performance") == 423


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_description_2_and_headline_3_are_valid(value):
    ad = {"ad_id": "a", "ad_group_id": "g", "campaign_id": "c", "headline_1": "見出し1", "headline_2": "見出し2",
          "headline_3": value, "description_1": "説明文", "description_2": value}
    v = validate("raw.ads", [ad, {k: v for k, v in ad.items() if k not in ("headline_3", "description_2")}])
    assert len(v.frame) == 1 and v.reasons() == {"duplicate key": 1}


def test_google_ads_no_value_dashes_are_missing_in_optional_columns_and_dead_letters_in_required(duck, tmp_path):
    """Google Ads writes "--" for no value. In conversions and cost_micros (optional) it is missing,
    as an empty cell is, and the report says how many rows; in impressions or clicks the row is a
    dead letter naming the column and the value. A UTF-16 tab-separated file, as Google Ads' download."""
    def edit(name, text):
        if name != "ad_daily_performance":
            return text
        return "date\tad_id\timpressions\tclicks\tconversions\tcost_micros\n" + "\n".join([
            "2025-06-21\tad00001-01\t200\t9\t--\t--",          # line 2: neither
            "2025-06-21\tad00001-02\t278\t11\t0\t--",          # line 3: no cost
            "2025-06-21\tad00001-03\t351\t19\t\t2170074605",   # line 4: an empty conversions cell
            "2025-06-21\tad00002-01\t--\t1\t0\t1",             # line 5: no impressions
            "2025-06-21\tad00002-02\t10\t--\t0\t1",            # line 6: no clicks
            "2025-06-21\tad00002-03\t\"1,234\"\t5\t--\t1",     # line 7: the row rules' path
            "2025-06-21\tad00003-01\t10\t1\t2\t3",             # line 8: all there
        ]) + "\n"

    folder = write_folder(tmp_path / "d", "utf-16", "\t", "\r\n", transform=edit)
    result = import_files(duck, str(folder), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    got = duck.query("SELECT ad_id, impressions, clicks, conversions, cost_micros FROM `raw.ad_daily_performance` "
                     "ORDER BY ad_id").astype(object)
    got = got.where(got.notna(), None).values.tolist()
    assert got == [["ad00001-01", 200, 9, None, None], ["ad00001-02", 278, 11, 0, None],
                   ["ad00001-03", 351, 19, None, 2170074605], ["ad00002-03", 1234, 5, None, 1],
                   ["ad00003-01", 10, 1, 2, 3]]
    assert sorted((r, p["_line"]) for _, r, p in _dead(duck)) == [
        ("missing field: clicks is '--' (no value); clicks is required", 6),
        ("missing field: impressions is '--' (no value); impressions is required", 5)]
    report = format_import(result)
    assert ("    no value ('--' or an empty cell) in optional columns, loaded as missing (null): conversions in 3 rows, "
            "cost_micros in 2 rows (lines 2, 3, 4, ...)") in report, report


@pytest.mark.parametrize("reader", ["arrow", "csv"])
def test_excel_dates_at_midnight_are_dates_and_other_times_of_day_are_dead_letters(duck, tmp_path, monkeypatch, reader):
    """Excel rewrites dates as "2025-06-21 00:00:00" (Japanese Excel: "2025/6/21 0:00", and writes
    YYYY/MM/DD): midnight is the date; another time of day means the report is not daily. A UTF-8
    file with a BOM, as Excel's "CSV UTF-8"."""
    import ingest.files as files

    if reader == "csv":
        monkeypatch.setattr(files, "_arrow_chunks", lambda *a: None)
    dates = {"2025-06-21 00:00:00": "2025-06-21", "2025/06/22": "2025-06-22", "2025/6/23 0:00": "2025-06-23",
             "2025-06-24 00:00:00.000": "2025-06-24", "2025/06/25 00:00:00": "2025-06-25", "2025-06-26": "2025-06-26"}
    later = ["2025-06-27 13:45:00", "2025-06-28 00:00:01"]

    def edit(name, text):
        if name != "ad_daily_performance":
            return text
        return "date,ad_id,impressions,clicks,conversions,cost_micros\n" + "".join(
            f"{d},ad00001-01,100,1,0,5\n" for d in [*dates, *later])

    folder = write_folder(tmp_path / "d", "utf-8-sig", newline="\r\n", transform=edit)
    result = import_files(duck, str(folder), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    got = duck.query("SELECT CAST(date AS STRING) AS d FROM `raw.ad_daily_performance` ORDER BY d")["d"].tolist()
    assert got == list(dates.values())
    assert sorted((r, p["_line"]) for _, r, p in _dead(duck)) == [
        (f"bad date: {d!r} is a date with a time of day: the report must be daily", 2 + len(dates) + i)
        for i, d in enumerate(later)]


@pytest.mark.parametrize("reader", ["arrow", "csv"])
def test_an_exports_totals_lines_are_dead_letters_that_say_so(duck, tmp_path, monkeypatch, reader):
    """Google Ads appends its totals below the rows ("Total: Account", in Japanese "合計: アカウント"),
    with the sums in the count columns: they are not days, and the reason says what they are rather
    than calling them a bad date. A date that is simply wrong stays a bad date."""
    import ingest.files as files

    if reader == "csv":
        monkeypatch.setattr(files, "_arrow_chunks", lambda *a: None)

    def edit(name, text):
        if name != "ad_daily_performance":
            return text
        rows = ["2025-06-21,ad00001-01,100,1,0,5", "2025-06-22,ad00001-01,120,2,0,6", "2025-13-01,ad00001-01,1,0,0,1",
                "Total: Account,--,221,3,0,12", "合計: キャンペーン,--,221,3,0,12"]
        return "date,ad_id,impressions,clicks,conversions,cost_micros\n" + "".join(r + "\n" for r in rows)

    folder = write_folder(tmp_path / "d", "utf-8", transform=edit)
    result = import_files(duck, str(folder), ImportOptions(today=TODAY))
    assert result.ok, format_import(result)
    assert len(duck.query("SELECT * FROM `raw.ad_daily_performance`")) == 2
    assert sorted((r, p["_line"]) for _, r, p in _dead(duck)) == [
        ("bad date: '2025-13-01' is not a calendar date", 4),
        ("totals line: 'Total: Account' is the export's sum of the rows above, not a day's row", 5),
        ("totals line: '合計: キャンペーン' is the export's sum of the rows above, not a day's row", 6)]
    assert result.files["raw.ad_daily_performance"].reasons == {"bad date": 1, "totals line": 2}


@pytest.mark.parametrize("encoding,newline", [("cp932", "\r\n"), ("utf-16", "\n")])
def test_ad_and_pool_texts_with_a_line_break_are_dead_letters(duck, tmp_path, encoding, newline):
    """A line break inside a quoted cell (Excel's Alt+Enter) is valid CSV, but Google Ads refuses the
    text: the row is a dead letter naming the column, on the line the row starts; later lines stay
    exact."""
    def edit(name, text):
        head, *rows = text.rstrip("\n").split("\n")
        if name == "ads":  # line 3: headline_2 on two lines (LF); line 6: description_1 with a CR
            cells = rows[1].split(",")
            cells[6] = f'"{cells[6]}\n二行目"'
            rows[1] = ",".join(cells)
            cells = rows[3].split(",")
            cells[8] = f'"{cells[8]}\r続き"'
            rows[3] = ",".join(cells)
        if name == "asset_pools":  # line 2: the text on two lines (CRLF)
            cells = rows[0].split(",")
            cells[3] = f'"{cells[3]}\r\n二行目"'
            rows[0] = ",".join(cells)
        return "\n".join([head, *rows]) + "\n"

    folder = write_folder(tmp_path / encoding, encoding, newline=newline, transform=edit)
    result = import_files(duck, str(folder), ImportOptions(today=TODAY, encoding="cp932" if encoding == "cp932" else None))
    assert result.ok, format_import(result)
    dead = sorted((t, r.split(":")[0], p["_line"]) for t, r, p in _dead(duck) if t != "raw.ad_daily_performance")
    # ads.csv: header 1, a row 2, the two-line headline 3-4, a row 5, the description with a CR 6
    assert dead == [("raw.ads", "line break in description_1", 6), ("raw.ads", "line break in headline_2", 3),
                    ("raw.asset_pools", "line break in text", 2)], dead
    assert ("line break in headline_2: Google Ads refuses ad text on more than one line: put it on one line"
            in [r for _, r, _ in _dead(duck)])
    assert result.files["raw.ads"].loaded == 46 and result.files["raw.asset_pools"].loaded == 183
