"""Bring your own data: find and read a folder of exported files, as they really come.

The folder holds `ads`, `ad_daily_performance` and `asset_pools`, each as `NAME.csv`, `.tsv`,
`.txt` or `.parquet` (or the file a mapping names, ingest.columns). Text files are read as:
- encoding: a byte-order mark decides (UTF-8, UTF-16, UTF-32); without one the file must be UTF-8,
  or the caller names any Python codec (`--encoding cp932`). Bytes that do not decode refuse the
  whole file with the line, the column and the fix: never rows of replacement characters.
- separator: tab or comma, detected from the header line.
- values stay text, so validation, not the reader, decides what a value means.
A file whose header does not match adcombo's columns (after the mapping) is refused whole: it is a
wrong export, not a bad row. A row with more cells than the header is a dead letter.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ingest.columns import TABLE_FILES, ColumnMapping, TableMapping, header_key, rename
from ingest.validate import Chunk, Rejected
from warehouse.schemas import RAW_SCHEMAS

FILE_TABLES = TABLE_FILES
FILE_TABLES_BY_TABLE = {t: n for n, t in FILE_TABLES.items()}
EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet")
OPTIONAL_COLUMNS = {"raw.ad_daily_performance": {"conversions", "cost_micros"},
                    "raw.ads": {"headline_3", "description_2", "industry", "keyword"},
                    "raw.asset_pools": {"pinned_field"}}
# BOM, the codec the file is reported as, the codec of the bytes after the BOM (decoding those keeps
# the position of an undecodable byte right: utf-8-sig reports the BOM's own bytes).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8-sig", "utf-8"), (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"))
_UTF8 = {"utf-8", "utf-8-sig"}


@dataclass(frozen=True)
class Refusal:
    """Why a whole file (or the folder) cannot be imported, in words a person can act on."""

    file: str
    problem: str
    fix: str
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = ", ".join(([f"line {self.line}"] if self.line else []) + ([f"column {self.column}"] if self.column else []))
        return f"{self.file}: {where + ': ' if where else ''}{self.problem}; {self.fix}"


class ImportFormatError(ValueError):
    """The import is refused: one Refusal per file (or folder) problem."""

    def __init__(self, refusals: list[Refusal] | Refusal | str):
        if isinstance(refusals, str):
            refusals = [Refusal("", refusals, "")]
        self.refusals = [refusals] if isinstance(refusals, Refusal) else list(refusals)
        super().__init__("; ".join(str(r) for r in self.refusals))


class FileRefused(Exception):
    def __init__(self, refusal: Refusal):
        super().__init__(str(refusal))
        self.refusal = refusal


def find_files(folder: str, mapping: ColumnMapping | None = None) -> dict[str, str]:
    """table → file path; every table needs exactly one file. Refuses with every problem at once."""
    if not os.path.isdir(folder):
        raise ImportFormatError(Refusal(folder, "is not a folder", "give the folder that holds the exported files"))
    mapping = mapping or ColumnMapping()
    found, refusals = {}, []
    for name, table in FILE_TABLES.items():
        named = mapping.for_table(name).file
        if named:
            path = os.path.join(folder, named)
            if os.path.isfile(path):
                found[table] = path
            else:
                refusals.append(Refusal(named, f"named by the column mapping for {name} but not in {folder}",
                                        "fix the mapping's file name"))
            continue
        present = [os.path.join(folder, name + ext) for ext in EXTENSIONS if os.path.isfile(os.path.join(folder, name + ext))]
        if not present:
            refusals.append(Refusal(os.path.basename(folder.rstrip(os.sep)) or folder,
                                    f"has no {name} file ({', '.join(name + e for e in EXTENSIONS)})",
                                    f"add it, or name your file in columns.yaml ({name}: {{file: ...}})"))
        elif len(present) > 1:
            refusals.append(Refusal(os.path.basename(present[0]),
                                    f"{', '.join(map(os.path.basename, present))} are all {name}", "keep one"))
        else:
            found[table] = present[0]
    if refusals:
        raise ImportFormatError(refusals)
    return found


# ---- decoding ------------------------------------------------------------------------------------

def encoding_problem(name: str) -> Refusal | None:
    """Why `--encoding name` cannot read text (None when it can): an unknown name, or a codec that
    is no text encoding (hex, rot13, base64, zip: Python would fail deep in the read)."""
    try:
        codecs.lookup(name)
    except LookupError:
        return Refusal("--encoding", f"unknown encoding {name!r}",
                       "give a Python codec name, e.g. cp932, utf-8, utf-16, euc_jp")
    try:
        b"x".decode(name)  # not b"": decoding nothing skips the check
    except LookupError:
        return Refusal("--encoding", f"{name!r} is not a text encoding",
                       "give the files' text encoding, e.g. --encoding cp932 or utf-16")
    except (UnicodeError, ValueError):
        pass
    return None


def _codec(name: str) -> str:
    problem = encoding_problem(name)
    if problem:
        raise FileRefused(Refusal("", problem.problem, problem.fix))
    return codecs.lookup(name).name


def _position(data: bytes, start: int, encoding: str) -> tuple[int, int, str]:
    """(line, column number, header name) of the byte at `start` of undecodable data."""
    prefix = data[:start].decode(encoding, errors="replace")
    line = prefix.count("\n") + 1
    header = prefix.split("\n", 1)[0] if line > 1 else ""
    delimiter = "\t" if header.count("\t") >= max(header.count(","), 1) else ","
    column = prefix[prefix.rfind("\n") + 1:].count(delimiter) + 1
    names = header.rstrip("\r").split(delimiter)
    return line, column, names[column - 1].strip().strip('"') if header and column <= len(names) else ""


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """(text, codec used). A BOM decides; else the explicit encoding; else UTF-8, strictly."""
    bom = next((b for b in _BOMS if data.startswith(b[0])), None)
    skip = len(bom[0]) if bom else 0
    if bom:
        codec = bom[1]
    elif encoding:
        codec = _codec(encoding)
        # Decoded as `encoding`, a UTF-8 file would load as mojibake; and non-ASCII text that is valid
        # UTF-8 is practically never in another encoding (CP932's bytes rarely form UTF-8 sequences).
        # So it is read as UTF-8 (open_table_file says so): a folder can mix CP932 files from Excel with
        # Google Ads' plain CSV download, UTF-8 without a BOM. NUL bytes mean UTF-16/32 without a BOM.
        if codec not in _UTF8 and not data.isascii() and b"\x00" not in data[:4096]:
            try:
                return data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                pass
    else:
        codec = "utf-8"
        if b"\x00" in data[:4096]:
            raise FileRefused(Refusal(name, "NUL bytes: this looks like UTF-16 without a byte-order mark",
                                      "save it as UTF-16 with a BOM (Excel: Unicode Text), or pass "
                                      "--encoding utf-16-le"))
    body_codec = bom[2] if bom else codec  # after the mark: positions count from the text
    try:
        text = data[skip:].decode(body_codec)
    except UnicodeDecodeError as exc:
        start = exc.start + skip
        line, column, header = _position(data[skip:], exc.start, body_codec)
        bad = data[start:start + 2].hex(" ")
        if bom and codec == "utf-8-sig":  # --encoding cannot help: the mark wins
            try:
                data[skip:].decode("cp932")
                real = "it looks like Shift-JIS/CP932 after the mark"
            except UnicodeDecodeError:
                real = "the rest is in another encoding"
            problem = f"bytes {bad} are not UTF-8 (the file starts with a UTF-8 byte-order mark)"
            fix = f"{real}: save it again as CSV UTF-8, or remove the mark and name the encoding with --encoding"
        elif codec in _UTF8 and not encoding:
            try:
                data.decode("cp932")
                fix = "it looks like Shift-JIS/CP932 (what Japanese Excel saves): import with --encoding cp932"
            except UnicodeDecodeError:
                fix = "find the file's encoding and pass it with --encoding (a Python codec name: cp932, euc_jp, ...)"
            problem = f"bytes {bad} are not UTF-8"
        else:
            fix = "check --encoding: the file is not in that encoding"
            problem = f"bytes {bad} are not valid {codec}"
        raise FileRefused(Refusal(name, problem, fix, line, f"{column} ({header})" if header else str(column))) from None
    return text, codec


def _lines(text: str) -> Iterator[str]:
    """Lines with their endings, without copying the whole text again (csv reads any iterable)."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end + 1]
        start = end + 1


def sniff_delimiter(header_line: str, name: str) -> str:
    tabs, commas = header_line.count("\t"), header_line.count(",")
    if tabs and tabs >= commas:
        return "\t"
    if commas:
        return ","
    other = ";" if ";" in header_line else "|" if "|" in header_line else ""
    raise FileRefused(Refusal(name, f"the header line has no comma or tab{f' (it is separated by {other!r})' if other else ''}",
                              "save the file as CSV (comma-separated) or TSV (tab-separated)", 1))


# ---- reading ------------------------------------------------------------------------------------

@dataclass
class TableFile:
    """One file being read: its format, and its rows as they stream (counted as they go)."""

    table: str
    path: str
    format: str = ""          # "csv", "tsv", "parquet"
    encoding: str = ""
    empty: str = ""           # why the file holds no table at all ("is empty (0 bytes)", ...)
    rows_read: int = 0
    blank_lines: int = 0
    preamble_lines: int = 0   # non-blank lines above the header (a report title, a date range)
    malformed: list[Rejected] = field(default_factory=list)  # rows the reader itself could not read
    notes: list[str] = field(default_factory=list)  # how the file was read, when not as asked
    unnamed: tuple[int, ...] = ()  # 0-based positions of empty header cells (Excel's trailing ",,")
    columns: tuple[str, ...] = ()  # adcombo's columns the file has
    ignored: tuple[str, ...] = ()  # the file's headers the mapping ignores (a segment column, a currency, ...)
    _chunks: Iterator | None = None

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def chunks(self) -> Iterator["Chunk"]:
        """The rows, a chunk of columns at a time, as they are read."""
        return self._chunks if self._chunks is not None else iter(())

    def rows(self) -> Iterator[dict]:
        """The rows as dicts with `_file` and `_line`."""
        for chunk in self.chunks():
            for i in range(len(chunk)):
                yield chunk.row(i)


def unnamed_columns(headers: list[str], names: list[str | None], mapping: TableMapping) -> tuple[int, ...]:
    """Positions of empty header cells the mapping neither maps nor ignores (Excel saves a sheet's
    empty trailing columns as ",,"): ignored when their column is empty in every row, else refused."""
    if "" in {header_key(h) for h in mapping.ignore}:
        return ()
    return tuple(i for i, (h, n) in enumerate(zip(headers, names)) if not header_key(h) and n is None)


def unnamed_note(file: str, unnamed: tuple[int, ...], width: int) -> str:
    """The report's line on empty columns ignored."""
    n = len(unnamed)
    what = f"{n} empty column{'s' * (n > 1)}"
    if unnamed == tuple(range(width - n, width)):
        return f"ignored {what} at the end of {file} (no header, no value in any row)"
    return f"ignored {what} of {file} (column{'s' * (n > 1)} {', '.join(str(i + 1) for i in unnamed)}: no header, " \
           "no value in any row)"


def unnamed_refusal(file: str, table: str, position: int, line: int | None, value) -> Refusal:
    """A value under an empty header cell: which column it is cannot be guessed."""
    short = FILE_TABLES_BY_TABLE[table]
    return Refusal(file, f"a value ({str(value)[:40]!r}) in a column whose header cell is empty",
                   f"give the column a name in the header line, or map it in columns.yaml ({short}: {{columns: "
                   f"{{'': one of adcombo's columns}}}})", line, f"{position + 1} (no header)")


def _columns(table: str, name: str, headers: list[str], mapping: TableMapping, as_of: dt.date | None,
             line: int | None) -> list[str | None]:
    names, missing, unknown = rename(table, headers, mapping)
    unknown = [h for h in unknown if header_key(h)]  # empty header cells: their values decide (unnamed_columns)
    short = FILE_TABLES_BY_TABLE[table]
    if table == "raw.ad_daily_performance" and "date" in missing:
        if as_of is None:
            raise FileRefused(Refusal(name, "no date column: these look like totals of one period",
                                      "import with --as-of YYYY-MM-DD (the period's last day), or map the date "
                                      "column in columns.yaml", line))
        missing.remove("date")
    elif table == "raw.ad_daily_performance" and as_of is not None:
        raise FileRefused(Refusal(name, "--as-of is for a performance file without a date column, and this one has "
                                        "dates", "drop --as-of", line))
    missing = [c for c in missing if c not in OPTIONAL_COLUMNS.get(table, set())]
    if unknown:
        raise FileRefused(Refusal(name, f"unknown column {unknown[0]!r}" + (f" (and {len(unknown) - 1} more: "
                                  f"{unknown[1:4]})" if len(unknown) > 1 else ""),
                                  f"map it to one of adcombo's columns in columns.yaml ({short}: {{columns: "
                                  f"{{'{unknown[0]}': ...}}}}) or list it under {short}: ignore", line,
                                  unknown[0]))
    if missing:
        raise FileRefused(Refusal(name, f"missing column{'s' * (len(missing) > 1)} {', '.join(missing)}",
                                  f"export them, or map your header to them in columns.yaml ({short}: "
                                  f"{{columns: {{'your header': {missing[0]}}}}})", line))
    doubled = sorted({n for n in names if n and names.count(n) > 1})
    if doubled:
        heads = [h for h, n in zip(headers, names) if n == doubled[0]]
        raise FileRefused(Refusal(name, f"columns {heads} all map to {doubled[0]}", "keep or map only one", line))
    return names


def _named(headers: list[str], names: list[str | None]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(adcombo's columns the file has, the file's named headers the mapping ignores)."""
    return (tuple(n for n in names if n),
            tuple(h for h, n in zip(headers, names) if n is None and header_key(h)))


CHUNK_ROWS = 65_536  # rows per chunk of columns


def _chunk(names: list[str | None], cells: list, lines: list[int], as_of: str | None, file: str) -> Chunk:
    columns = {n: list(col) for n, col in zip(names, zip(*cells)) if n}
    for n in names:  # a file without any row of a column (every row short): empty values
        if n and n not in columns:
            columns[n] = [""] * len(lines)
    if as_of:
        columns["date"] = [as_of] * len(lines)
    return Chunk(columns, lines, file)


def _csv_chunks(tf: TableFile, text: str, names: list[str | None], delimiter: str, as_of: str | None,
                first_line: int) -> Iterator[Chunk]:
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=True)
    width, name = len(names), tf.name
    line = 0
    cells, lines = [], []
    try:
        for row in reader:
            start, line = line + 1, reader.line_num
            if start <= first_line:  # the header (and anything above it)
                continue
            if not "".join(row).strip():  # a blank line, or a row of empty cells (Excel leaves those)
                tf.blank_lines += 1
                continue
            tf.rows_read += 1
            if len(row) > width:  # even when the extra cells are empty: an unquoted comma shifted the row
                tf.malformed.append(Rejected(
                    f"wrong number of fields: {len(row)} cells, the header has {width} (an unquoted "
                    f"{'tab' if delimiter == chr(9) else 'comma'} in a value?)",
                    {"cells": row[:50], "_file": name, "_line": start}))
                continue
            if len(row) < width:
                row = row + [""] * (width - len(row))  # short rows: the missing trailing cells are empty
            for i in tf.unnamed:
                if row[i].strip():
                    raise FileRefused(unnamed_refusal(name, tf.table, i, start, row[i]))
            cells.append(row)
            lines.append(start)
            if len(lines) == CHUNK_ROWS:
                yield _chunk(names, cells, lines, as_of, name)
                cells, lines = [], []
    except csv.Error as exc:  # `line` is where the last row read ends: the bad one starts on the next
        start, stopped = line + 1, reader.line_num
        raise FileRefused(Refusal(tf.name, f"cannot be read as {tf.format.upper()}: {exc}"
                                           + (f" (the row starting on this line runs on to line {stopped})"
                                              if stopped > start else ""),
                                  "check the quoting on that line (a quote opened and never closed?)",
                                  start)) from None
    if lines:
        yield _chunk(names, cells, lines, as_of, name)
    if tf.unnamed:  # every row read: the empty columns were empty throughout
        tf.notes.append(unnamed_note(name, tf.unnamed, width))


def _body(text: str, first_line: int) -> str:
    """The text after the header line."""
    pos = 0
    for _ in range(first_line):
        nl = text.find("\n", pos)
        if nl < 0:
            return ""
        pos = nl + 1
    return text[pos:]


def _arrow_chunks(tf: TableFile, text: str, names: list[str | None], delimiter: str, as_of: str | None,
                  first_line: int):
    """The rows parsed by Arrow's CSV reader (C++, columns of Arrow strings), or None when the csv
    module must read the file: a quoted line break, a blank line, a row of the wrong width, an
    unreadable quote. Line numbers are exact only when every physical line is one row, so that is
    checked, not assumed."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    body = _body(text, first_line)
    if not body.strip():
        return None
    physical = body.count("\n") + (0 if body.endswith("\n") else 1)
    buffer = pa.py_buffer(body.encode("utf-8"))
    del body
    invalid = []
    try:
        table = pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(names))], use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False,
                                             invalid_row_handler=lambda row: invalid.append(row) or "skip"),
            convert_options=pacsv.ConvertOptions(column_types={f"c{i}": pa.string() for i in range(len(names))},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    del buffer
    if invalid or table.num_rows != physical:
        return None
    keep = np.ones(table.num_rows, dtype=bool)
    first_empty = pa.compute.equal(pa.compute.utf8_trim_whitespace(table.column(0)), "")
    if pa.compute.any(first_empty).as_py():  # rows of empty cells (Excel leaves those) count as blank lines
        empty = first_empty
        for col in table.columns[1:]:
            empty = pa.compute.and_(empty, pa.compute.equal(pa.compute.utf8_trim_whitespace(col), ""))
        keep = pa.compute.invert(empty).to_numpy(zero_copy_only=False)
    lines = np.arange(first_line + 1, first_line + 1 + table.num_rows)[keep]
    if not keep.all():
        table = table.filter(pa.array(keep))
    tf.blank_lines += int((~keep).sum())
    tf.rows_read += table.num_rows
    for i in tf.unnamed:
        filled = pa.compute.not_equal(pa.compute.utf8_trim_whitespace(table.column(i)), "").to_numpy(zero_copy_only=False)
        if filled.any():
            first = int(np.flatnonzero(filled)[0])
            raise FileRefused(unnamed_refusal(tf.name, tf.table, i, int(lines[first]), table.column(i)[first].as_py()))
    if tf.unnamed:
        tf.notes.append(unnamed_note(tf.name, tf.unnamed, len(names)))
    return _arrow_slices(tf, table, names, lines, as_of)


def _arrow_slices(tf: TableFile, table, names, lines, as_of) -> Iterator[Chunk]:
    for start in range(0, table.num_rows, CHUNK_ROWS):
        part = table.slice(start, CHUNK_ROWS)
        columns = {n: part.column(i).combine_chunks() for i, n in enumerate(names) if n}
        if as_of:
            columns["date"] = [as_of] * part.num_rows
        yield Chunk(columns, lines[start:start + part.num_rows].tolist(), tf.name)


def _parquet_chunks(tf: TableFile, pf, names: list[str | None], as_of: str | None) -> Iterator[Chunk]:
    n = 0
    for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
        lines = list(range(n + 1, n + batch.num_rows + 1))
        n += batch.num_rows
        tf.rows_read += batch.num_rows
        columns = {k: col.to_pylist() for k, col in zip(names, batch.columns) if k}
        if as_of:
            columns["date"] = [as_of] * batch.num_rows
        yield Chunk(columns, lines, tf.name)


HEADER_SEARCH_LINES = 20


def _head(text: str, n: int) -> Iterator[str]:
    for i, line in enumerate(_lines(text)):
        if i >= n:
            return
        yield line


def _cells(line: str, delimiter: str, name: str, number: int) -> list[str]:
    try:
        return [h.strip() for h in next(csv.reader([line], delimiter=delimiter))]
    except (csv.Error, StopIteration) as exc:
        raise FileRefused(Refusal(name, f"the header line cannot be read: {exc}", "fix its quoting", number)) from None


def _find_header(text: str, table: str, mapping: TableMapping, as_of: dt.date | None):
    """(line number, line, delimiter, cells) of the header: the first line whose cells name every
    required column (exports often put a report title and a date range above it). None when the
    text has only blank lines; delimiter None when no line qualifies (the first non-blank line is
    then checked, to say what is wrong with it)."""
    first = None
    for number, line in enumerate(_head(text, HEADER_SEARCH_LINES), start=1):
        if not line.strip():
            continue
        first = first or (number, line)
        try:
            delimiter = sniff_delimiter(line, "")
            cells = [h.strip() for h in next(csv.reader([line], delimiter=delimiter))]
        except (FileRefused, csv.Error, StopIteration):
            continue
        names, missing, _ = rename(table, cells, mapping)
        required = [c for c in missing if c not in OPTIONAL_COLUMNS.get(table, set())
                    and not (c == "date" and as_of is not None)]
        if not required and any(names):
            return number, line, delimiter, cells
    return None if first is None else (first[0], first[1], None, None)


def open_table_file(table: str, path: str, mapping: TableMapping | None = None, encoding: str | None = None,
                    as_of: dt.date | None = None) -> TableFile:
    """Check a file's encoding, format and header; its rows stream from `.rows()`.

    Raises FileRefused for anything that makes the whole file unusable. Rows carry `_file` and
    `_line` (the line the row starts on; a Parquet file's row number) for their dead letters.
    """
    mapping = mapping or TableMapping()
    tf = TableFile(table, path)
    as_of_text = as_of.isoformat() if as_of else None
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        tf.format = "parquet"
        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise FileRefused(Refusal(tf.name, f"not a readable Parquet file ({type(exc).__name__}: {exc})",
                                      "export it again, or save it as CSV")) from None
        names = _columns(table, tf.name, pf.schema_arrow.names, mapping, as_of, None)
        if unnamed := unnamed_columns(pf.schema_arrow.names, names, mapping):  # no Excel blanks in Parquet
            raise FileRefused(Refusal(tf.name, f"column {unnamed[0] + 1} has no name",
                                      "name it, or map it in columns.yaml", None, f"{unnamed[0] + 1} (no name)"))
        tf.columns, tf.ignored = _named(pf.schema_arrow.names, names)
        tf._chunks = _parquet_chunks(tf, pf, names, as_of_text)
        return tf
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        tf.empty, tf.format = "is empty (0 bytes)", "csv"
        return tf
    try:
        text, tf.encoding = decode(data, tf.name, encoding)
    except FileRefused as exc:
        if not exc.refusal.file:  # an unknown codec name: say which file asked for it
            raise FileRefused(Refusal(tf.name, exc.refusal.problem, exc.refusal.fix)) from None
        raise
    del data
    if encoding and tf.encoding == "utf-8" and _codec(encoding) not in _UTF8:
        tf.notes.append(f"{tf.name} was read as UTF-8 although --encoding {encoding} was given: it has no "
                        f"byte-order mark and is valid UTF-8, which {encoding} text practically never is")
    if text.startswith("\ufeff"):  # utf-16/utf-32 keep the BOM as a character
        text = text[1:]
    found = _find_header(text, table, mapping, as_of)
    if found is None:
        tf.empty, tf.format = "has only blank lines", "csv"  # nothing at all, like a zero-byte file
        return tf
    first, line, delimiter, headers = found
    if delimiter is None:
        delimiter = sniff_delimiter(line, tf.name)
        headers = _cells(line, delimiter, tf.name, first)
    tf.format = "tsv" if delimiter == "\t" else "csv"
    tf.preamble_lines = sum(1 for x in _head(text, first - 1) if x.strip())
    names = _columns(table, tf.name, headers, mapping, as_of, first)
    tf.unnamed = unnamed_columns(headers, names, mapping)
    tf.columns, tf.ignored = _named(headers, names)
    if table == "raw.ad_daily_performance":  # the big one: Arrow's reader when the file allows it
        tf._chunks = _arrow_chunks(tf, text, names, delimiter, as_of_text, first)
    if tf._chunks is None:
        tf._chunks = _csv_chunks(tf, text, names, delimiter, as_of_text, first)
    return tf


def read_rows(table: str, path: str, encoding: str | None = None, mapping: TableMapping | None = None,
              as_of: dt.date | None = None) -> list[dict]:
    """Every row of one file as dicts (small files and tests; the import streams instead)."""
    tf = open_table_file(table, path, mapping, encoding, as_of)
    return list(tf.rows())


__all__ = ["find_files", "open_table_file", "read_rows", "decode", "sniff_delimiter", "Refusal",
           "ImportFormatError", "FileRefused", "TableFile", "FILE_TABLES", "RAW_SCHEMAS", "header_key"]
