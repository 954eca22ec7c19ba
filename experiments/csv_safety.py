"""CSV files that are safe to open in a spreadsheet (OWASP "CSV Injection").

A spreadsheet runs a cell as a formula when its text starts with `=`, `+`, `-`, `@`, a tab or a
carriage return: `=cmd|' /C calc'!A0` starts a program, `=HYPERLINK(...)` sends data away. Ad
texts come from advertisers' files and the ad-media API, so any of them can start that way.

Two kinds of file, two rules:
- Files made for people (`adcombo top --out`, `adcombo assets --out`): every text cell that
  starts with one of those characters gets a leading single quote, which spreadsheets read as
  "this is text" and do not display; every text cell is quoted, inner quotes doubled. Numbers
  stay numbers. UTF-8 with a BOM, so Excel shows Japanese text as it is.
- Files made for a program that reads the ad text itself (the Google Ads Editor upload): a
  quote would become part of the ad, so nothing is changed. Such texts are refused at import
  (a dead letter with its reason); `refuse_formula_cells` makes the export fail loudly if one
  got through anyway.
"""

from __future__ import annotations

import csv
import io
from typing import Iterable, Mapping, Sequence

from transforms.text import FORMULA_PREFIXES, formula_prefix  # noqa: F401  (one rule, shared with ingest)


def neutralise(value):
    """A text cell a spreadsheet shows as the same text without running it; other values as they are."""
    return "'" + value if formula_prefix(value) else value


def people_csv(rows: Iterable[Mapping], columns: Sequence[str]) -> str:
    """CSV text for people: formula-like text neutralised, text quoted, numbers bare."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return buf.getvalue()


def _cell(value):
    if value is None:
        return ""
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars: plain Python numbers
        value = value.item()
    if isinstance(value, bool):
        return str(value)  # QUOTE_NONNUMERIC would write True as a bare 1-like token
    if isinstance(value, float) and value != value:  # NaN: an empty cell, as pandas writes it
        return ""
    if isinstance(value, (int, float)):
        return value
    return neutralise(str(value))


def write_people_csv(frame, path) -> int:
    """Write a pandas frame as a CSV for people; returns the number of rows. UTF-8 with a BOM:
    without one, Excel opens a CSV in the system's code page (CP932 in Japan) and shows Japanese
    text garbled; Python (`utf-8-sig`), pandas and `adcombo import` read the BOM as an encoding mark."""
    text = people_csv(frame.to_dict("records"), list(frame.columns))
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        f.write(text)
    return len(frame)


class FormulaCellError(ValueError):
    """A cell of a file that must keep its texts unchanged would run as a spreadsheet formula."""


def refuse_formula_cells(rows: Iterable[Mapping], columns: Sequence[str], row_name) -> None:
    """Raise FormulaCellError naming the first row and column whose text starts like a formula.

    `row_name(row)` says which row it is for people (ad group and arm, say)."""
    for row in rows:
        for column in columns:
            prefix = formula_prefix(row.get(column))
            if prefix:
                raise FormulaCellError(
                    f"{row_name(row)}: {column} {row[column][:40]!r} starts with {prefix!r}, which a spreadsheet "
                    "runs as a formula; such texts are refused at import (raw.dead_letters), so this one came "
                    "another way: fix or remove it in the asset pool and run again"
                )
