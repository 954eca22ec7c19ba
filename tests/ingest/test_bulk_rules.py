"""The column-by-column performance check (ingest.bulk) agrees with the row rules
(ingest.validate.clean_performance, first row of a key wins) on every row, good or bad."""

import datetime as dt
import random

import numpy as np
import pandas as pd

from ingest.bulk import CHUNK, validate_performance
from ingest.validate import Invalid, clean_performance, fractional

TODAY = dt.date(2025, 7, 1)
COUNT_VALUES = ["0", "7", "120", "999999999", "1000000000", "1000000001", "1,234", " 15 ", "-3", "1.5", "", None, "abc", "１２",
                "99999999999999999999", 5, 0, 2**63, -1, True, 3.0, 2.5, np.int64(4),
                "3.00", "1,234.00", "1234.0", "0.50", "2.5", "-0.4", "1.", ".5", -0.4, float("inf"), "--", " -- ", "  "]
DATES = ["2025-06-20", "2025-06-21", "2025/6/22", "2025-06-21 00:00:00", "2025/06/22 0:00", "2025-06-21 09:30:00", "2025-02-30", "06/21/2025", "2099-01-01", "", None,
         dt.date(2025, 6, 23), dt.datetime(2025, 6, 24, 12), pd.Timestamp("2025-06-25"), 20250626]
ADS = ["ad1", "ad2", "ad3", "", None, "広告1", "x" * 129, "a b", "=ad", 12, "ad\u00e9", 2**70, np.int64(7), True, 12.0,
       " ad1", "ad2\u3000", "\u3000", "\tad3 "]


def _row(rng, i):
    pick = lambda xs, plain, p=0.8: plain if rng.random() < p else rng.choice(xs)  # noqa: E731
    imp = pick(COUNT_VALUES, str(rng.randint(0, 500)))
    return {"date": pick(DATES, rng.choice(["2025-06-20", "2025-06-21"])), "ad_id": pick(ADS, rng.choice(ADS[:3])),
            "impressions": imp, "clicks": pick(COUNT_VALUES, str(rng.randint(0, 20))),
            "conversions": pick(COUNT_VALUES, rng.choice(["", "0", "2"])),
            "cost_micros": pick(COUNT_VALUES, rng.choice(["", "1234567"])), "_file": "p.csv", "_line": i + 2}


def _clean(row) -> bool:
    try:
        return bool(clean_performance(row, None, TODAY))
    except Invalid:
        return False


def _reference(rows):
    good, rejected, seen = [], [], set()
    for row in rows:
        try:
            c = clean_performance(row, None, TODAY)
            key = (c["date"], c["ad_id"])
            if key in seen:
                raise Invalid(f"duplicate key: {c['date']}, {c['ad_id']}")
        except Invalid as exc:
            rejected.append((row["_line"], str(exc)))
            continue
        seen.add(key)
        good.append((row["_line"], c))
    return good, rejected


def test_bulk_equals_row_rules_on_mixed_rows():
    rng = random.Random(3)
    rows = [_row(rng, i) for i in range(CHUNK + 5000)]  # more than one chunk
    good, rejected = _reference(rows)
    v = validate_performance(rows, None, TODAY)
    assert len(v.frame) == len(good) and len(rejected) > 1000
    assert v.lines == [line for line, _ in good]
    got = v.frame.astype(object).where(v.frame.notna(), None).to_dict("records")
    assert got == [c for _, c in good]
    assert [(r.payload["_line"], r.reason) for r in v.rejected] == rejected
    # conversions with a fraction are rounded (and their lines kept for the report); other counts must be whole
    assert v.rounded == [row["_line"] for row in rows if fractional(row["conversions"]) and _clean(row)]
    assert len(v.rounded) > 100
    # a mix of good and bad in every rule
    reasons = {r.split(":")[0] for _, r in rejected}
    assert {"wrong type", "negative count", "out of range", "implausible count", "bad date", "date in the future",
            "missing field", "clicks > impressions", "duplicate key", "over-long text"} <= reasons


def test_ids_of_other_types_are_not_taken_for_equal_integers():
    """12.0 == 12 and True == 1 in Python: an integer id is accepted, a float or a boolean one is not,
    whichever comes first."""
    rows = [{"date": "2025-06-20", "ad_id": a, "impressions": "1", "clicks": "0", "_file": "p.csv", "_line": i + 2}
            for i, a in enumerate([12, 12.0, 1, True, np.int64(7), 7.0, "x"])]
    v = validate_performance(rows, None, TODAY)
    assert v.frame["ad_id"].tolist() == ["12", "1", "7", "x"]
    assert [(r.payload["_line"], r.reason.split(":")[0]) for r in v.rejected] == [(3, "wrong type"), (5, "wrong type"),
                                                                                 (7, "wrong type")]


def test_bulk_on_api_shaped_rows_and_nothing():
    rows = [{"date": dt.date(2025, 6, 1), "ad_id": "a", "impressions": 10, "clicks": 1},
            {"date": dt.date(2025, 6, 1), "ad_id": "a", "impressions": 11, "clicks": 1},
            {"date": dt.date(2025, 6, 2), "ad_id": "a", "impressions": 10, "clicks": 11}, "not a row"]
    v = validate_performance(rows, (dt.date(2025, 6, 1), dt.date(2025, 6, 2)))
    assert v.frame[["ad_id", "impressions"]].values.tolist() == [["a", 10]]
    assert [r.reason for r in v.rejected] == ["duplicate key: 2025-06-01, a", "clicks > impressions: 11 > 10",
                                              "not an object"]
    assert v.lines is None
    empty = validate_performance([])
    assert len(empty.frame) == 0 and list(empty.frame.columns)[:2] == ["date", "ad_id"]


def test_a_missing_count_beside_a_19_digit_one_among_the_row_rules_rows_is_exact():
    """Rows the row rules accept are gathered as objects: a missing cost beside one of 19 digits
    (past float precision) made the column floats, and the import failed with a TypeError."""
    rows = [{"date": "2025-06-20", "ad_id": "a", "impressions": "1,000", "clicks": "1", "cost_micros": ""},
            {"date": "2025-06-20", "ad_id": "b", "impressions": "1,000", "clicks": "1",
             "cost_micros": "9223372036854775807"}]
    v = validate_performance(rows, None, TODAY)
    assert v.frame["cost_micros"].tolist() == [pd.NA, 9223372036854775807] and not v.rejected


def test_a_missing_count_beside_an_18_digit_one_among_plain_rows_is_exact():
    """A column with a missing value went through floats on its way to the table: an 18-digit cost
    (past float precision) was loaded as another number, silently."""
    rows = [{"date": "2025-06-20", "ad_id": "a", "impressions": "10", "clicks": "1", "cost_micros": ""},
            {"date": "2025-06-20", "ad_id": "b", "impressions": "10", "clicks": "1", "cost_micros": "999999999999999999"}]
    v = validate_performance(rows, None, TODAY)
    assert v.frame["cost_micros"].tolist() == [pd.NA, 999999999999999999] and not v.rejected


def test_adding_up_segments_is_exact_and_a_sum_past_a_limit_rejects_its_rows():
    from ingest.bulk import chunks_of, validate_performance_chunks
    from ingest.validate import INT64_MAX, MAX_IMPRESSIONS

    def row(ad, line, imp, clk="1", conv="", cost=""):
        return {"date": "2025-06-20", "ad_id": ad, "impressions": imp, "clicks": clk, "conversions": conv,
                "cost_micros": cost, "_file": "p.csv", "_line": line}

    rows = [row("a", 2, "10", conv="--", cost="5"), row("b", 3, "7"), row("a", 4, "20", "2", "1", "6"),
            row("b", 5, "1,000"), row("c", 6, str(MAX_IMPRESSIONS)), row("c", 7, "1"),
            row("d", 8, "1", cost=str(INT64_MAX)), row("d", 9, "1", cost="1"),
            row("e", 10, "1", cost=str(2**62)), row("e", 11, "1", cost=str(2**62 - 1))]
    v = validate_performance_chunks(chunks_of(rows), None, TODAY, sum_segments=True)
    got = v.frame.astype(object).where(v.frame.notna(), None).values.tolist()
    assert got == [[dt.date(2025, 6, 20), "a", 30, 3, 1, 11], [dt.date(2025, 6, 20), "b", 1007, 2, None, None],
                   [dt.date(2025, 6, 20), "e", 2, 2, None, INT64_MAX]]
    assert v.lines == [2, 3, 10] and v.summed == 3 and v.received == len(rows)
    assert [(r.reason.split(" of the rows")[0], r.line) for r in v.rejected] == [
        ("implausible count: impressions", 6), ("implausible count: impressions", 7),
        ("out of range: cost_micros", 8), ("out of range: cost_micros", 9)]
