"""Your column names: a mapping file from an export's headers (and file names) to adcombo's.

The file sits beside the data as `columns.yaml` (or `.yml`, `.json`), or is named explicitly
(`adcombo import PATH --columns FILE`). One section per table, each optional:

    ads:
      file: 広告.csv                  # default: ads.csv / .tsv / .txt / .parquet
      columns:
        広告 ID: ad_id
        広告見出し 1: headline_1
      ignore: [通貨コード, 広告の種類]  # export columns adcombo does not use
    ad_daily_performance:
      columns: {日: date, 表示回数: impressions, クリック数: clicks}

Headers match after NFKC and case folding, ignoring whitespace, so `広告見出し１`, `広告見出し 1`
and `広告見出し　1` are one header. adcombo's own names always map to themselves.
"""

from __future__ import annotations

import json
import os
import unicodedata
from typing import Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warehouse.schemas import RAW_SCHEMAS

MAPPING_FILES = ("columns.yaml", "columns.yml", "columns.json")
TABLE_FILES = {"ads": "raw.ads", "ad_daily_performance": "raw.ad_daily_performance", "asset_pools": "raw.asset_pools"}


class MappingError(ValueError):
    """The mapping file itself is wrong; `line` is where, when the parser knows."""

    def __init__(self, path: str, problem: str, fix: str, line: int | None = None):
        super().__init__(problem)
        self.path, self.problem, self.fix, self.line = path, problem, fix, line


class TableMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: Optional[str] = None
    columns: dict[str, str] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list)


class ColumnMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ads: TableMapping = Field(default_factory=TableMapping)
    ad_daily_performance: TableMapping = Field(default_factory=TableMapping)
    asset_pools: TableMapping = Field(default_factory=TableMapping)

    def for_table(self, name: str) -> TableMapping:
        return getattr(self, name)


def header_key(name: str) -> str:
    """How headers are compared: NFKC, case-folded, without whitespace (exports disagree on it)."""
    return "".join(unicodedata.normalize("NFKC", str(name)).casefold().split())


def find_mapping(folder: str, explicit: str | None = None) -> str | None:
    """The mapping file to use: the explicit one, else one beside the data, else none."""
    if explicit:
        if not os.path.isfile(explicit):
            raise MappingError(explicit, "the column mapping file does not exist",
                               "check the path given to --columns")
        return explicit
    present = [os.path.join(folder, n) for n in MAPPING_FILES if os.path.isfile(os.path.join(folder, n))]
    if len(present) > 1:
        raise MappingError(present[0], f"{len(present)} mapping files: {', '.join(map(os.path.basename, present))}",
                           "keep one")
    return present[0] if present else None


def load_mapping(path: str | None) -> ColumnMapping:
    """Parse and check a mapping file (None: no mapping, adcombo's names only)."""
    if path is None:
        return ColumnMapping()
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise MappingError(path, "the mapping file is not UTF-8", "save it as UTF-8") from None
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise MappingError(path, f"not valid JSON: {exc.msg}", "fix the JSON syntax", exc.lineno) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MappingError(path, f"not valid YAML: {problem}", "fix the YAML syntax",
                           mark.line + 1 if mark else None) from None
    try:
        mapping = ColumnMapping.model_validate(data or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise MappingError(path, f"{where}: {err['msg']}",
                           f"sections are {', '.join(TABLE_FILES)}, each with file, columns, ignore") from None
    for name, table in TABLE_FILES.items():
        ours = {c for c, _ in RAW_SCHEMAS[table]}
        targets = mapping.for_table(name).columns
        wrong = sorted({v for v in targets.values() if v not in ours})
        if wrong:
            raise MappingError(path, f"{name}.columns maps to {wrong}, which are not columns of {name}",
                               f"use one of {sorted(ours)}")
        seen: dict[str, str] = {}
        for header, target in targets.items():
            if target in seen:
                raise MappingError(path, f"{name}.columns maps both {seen[target]!r} and {header!r} to {target}",
                                   "map one header to each column")
            seen[target] = header
    return mapping


def rename(table: str, headers: list[str], mapping: TableMapping) -> tuple[list[str | None], list[str], list[str]]:
    """(adcombo name or None for an ignored column, per header; missing columns; unknown headers).

    Missing are required columns no header maps to; unknown are headers neither mapped, ignored
    nor adcombo's own (a misspelt header refuses the file rather than dropping data silently).
    """
    ours = [c for c, _ in RAW_SCHEMAS[table]]
    by_key = {header_key(c): c for c in ours}
    by_key.update({header_key(h): c for h, c in mapping.columns.items()})
    ignored = {header_key(h) for h in mapping.ignore}
    names: list[str | None] = []
    unknown: list[str] = []
    for h in headers:
        k = header_key(h)
        if k in by_key:
            names.append(by_key[k])
        elif k in ignored:
            names.append(None)
        else:
            names.append(None)
            unknown.append(h)
    return names, [c for c in ours if c not in names], unknown
