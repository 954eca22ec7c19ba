"""An import's result as lines for people (the CLI prints them; the Dagster asset logs them)."""

from __future__ import annotations

from ingest.importer import ImportResult

_FORMATS = {"csv": "comma-separated", "tsv": "tab-separated", "parquet": "Parquet"}


def _lines(numbers: list[int], total: int) -> str:
    if not numbers:
        return ""
    shown = ", ".join(map(str, numbers))
    return f" (line{'s' * (len(numbers) > 1)} {shown}{', ...' if total > len(numbers) else ''})"


def _first(rule: str, reason: str, lines: list[int], n: int) -> str:
    """The rule with the first row's own words (which column, which value: a refused import writes
    no dead letters to look them up in) and example lines."""
    detail = reason.partition(":")[2].strip()  # ingest.validate.rule is the part before the colon
    if not detail:
        return f"{rule}{_lines(lines, n)}"
    if not lines:
        return f"{rule}, first: {detail}" if n > 1 else f"{rule}: {detail}"
    if n == 1:
        return f"{rule} on line {lines[0]}: {detail}"
    return f"{rule}, first on line {lines[0]}: {detail}{_lines(lines, n)}"


def format_import(result: ImportResult) -> list[str]:
    """Per file: rows loaded and rejected by reason (with example lines); per refused file one
    line: file, line, column, what is wrong, what to do; last, what happened to the warehouse."""
    out = []
    for table, f in result.files.items():
        how = ", ".join(x for x in (f.encoding, _FORMATS.get(f.format, f.format)) if x)
        out.append(f"{table} ← {f.file} ({how}): {f.loaded:,} rows loaded, {f.rejected:,} rejected"
                   + (f", {f.preamble_lines} line{'s' * (f.preamble_lines > 1)} above the header skipped"
                      if f.preamble_lines else "")
                   + (f", {f.blank_lines:,} blank lines skipped" if f.blank_lines else ""))
        out.extend(f"    {note}" for note in f.notes)
        for reason, n in sorted(f.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"    {n:,} × {_first(reason, f.first.get(reason, ''), f.lines.get(reason, []), n)}")
        if f.rounded:
            out.append(f"    {f.rounded:,} row{'s' * (f.rounded > 1)} with fractional conversions rounded to whole "
                       f"numbers, as {f.table} stores whole conversions{_lines(f.rounded_lines, f.rounded)}")
        if f.summed:
            out.append(f"    {f.summed:,} row{'s' * (f.summed > 1)} added into an earlier row of the same date and "
                       "ad_id: the report's segments added up (--sum-segments)")
        if f.missing:
            counts = ", ".join(f"{c} in {n:,} row{'s' * (n > 1)}" for c, n in f.missing.items())
            out.append(f"    no value ('--' or an empty cell) in optional columns, loaded as missing (null): {counts}"
                       f"{_lines(f.missing_lines, f.missing_rows)}")
    for refusal in result.refusals:
        out.append(f"refused: {refusal}")
    if result.refusals:
        out.append("nothing was imported: the warehouse and the source are as they were.")
    elif result.written:
        rejected = sum(f.rejected for f in result.files.values())
        out.append(f"imported in {result.seconds:.1f}s"
                   + (f"; rejected rows are in raw.dead_letters with their reason and line" if rejected else ""))
    return out
