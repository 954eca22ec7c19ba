"""SQL written once, in BigQuery Standard SQL, for the idempotent loads every adapter runs.

A load is one MERGE from a staging relation into the target:
- rows whose key matches are updated, new keys inserted;
- with a `scope`, target rows inside the scope that the staging data no longer holds are deleted,
  so the scope ends up exactly equal to the new data (a partition overwrite in one atomic
  statement: readers see the old partition or the new one, never half of it).
Identifiers are validated here; scope bounds are query parameters, never spliced in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from warehouse.base import WarehouseError

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _col(name: str) -> str:
    if not _COLUMN.match(name):
        raise WarehouseError(f"invalid column name {name!r}")
    return name


@dataclass(frozen=True)
class Scope:
    """The part of the target a load replaces: `column = value` and `column BETWEEN lo AND hi`
    conditions, ANDed. `Scope.everything()` replaces the whole table; `None` (no scope) only upserts."""

    equals: dict[str, Any] = field(default_factory=dict)
    between: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    whole_table: bool = False

    @classmethod
    def everything(cls) -> "Scope":
        return cls(whole_table=True)

    def predicate(self, alias: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
        """SQL condition on `alias` and its parameters (named `{prefix}scope_...`)."""
        if self.whole_table:
            return "TRUE", {}
        parts, params = [], {}
        for i, (c, v) in enumerate(sorted(self.equals.items())):
            parts.append(f"{alias}.{_col(c)} = @{prefix}scope_eq_{i}")
            params[f"{prefix}scope_eq_{i}"] = v
        for i, (c, (lo, hi)) in enumerate(sorted(self.between.items())):
            parts.append(f"{alias}.{_col(c)} BETWEEN @{prefix}scope_lo_{i} AND @{prefix}scope_hi_{i}")
            params[f"{prefix}scope_lo_{i}"], params[f"{prefix}scope_hi_{i}"] = lo, hi
        if not parts:
            raise WarehouseError("an empty scope would delete the whole table: use Scope.everything()")
        return " AND ".join(parts), params


@dataclass(frozen=True)
class Load:
    """One table's part of a load applied with others in one transaction (Warehouse.merge_all):
    `frame` merged into `table` on `keys` within `scope` (see merge_sql); the table is created
    with `schema` (and BigQuery partitioning/clustering) if it does not exist yet (an empty schema:
    the table must exist)."""

    table: str
    frame: Any  # pandas.DataFrame with exactly the table's columns
    keys: tuple[str, ...]
    scope: Scope | None
    schema: tuple[tuple[str, str], ...]
    partition_field: str | None = None
    cluster_fields: tuple[str, ...] = ()


def merge_sql(target: str, staging: str, columns: list[str], keys: list[str],
              scope: Scope | None, param_prefix: str = "") -> tuple[str, dict[str, Any]]:
    """MERGE staging into target (both `dataset.table` or a bare relation name for staging).
    param_prefix keeps parameter names apart when several statements run as one script."""
    cols = [_col(c) for c in columns]
    keys = [_col(k) for k in keys]
    if not set(keys) <= set(cols):
        raise WarehouseError(f"keys {keys} are not all columns of {columns}")
    on = " AND ".join(f"T.{k} = S.{k}" for k in keys) if keys else "FALSE"
    non_keys = [c for c in cols if c not in keys]
    # Explicit column lists everywhere: INSERT ROW is not portable (and the emulator lacks it).
    sql = [f"MERGE `{target}` AS T USING `{staging}` AS S ON {on}"]
    if non_keys and keys:
        sql.append("WHEN MATCHED THEN UPDATE SET " + ", ".join(f"{c} = S.{c}" for c in non_keys))
    sql.append(f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) VALUES ({', '.join('S.' + c for c in cols)})")
    params: dict[str, Any] = {}
    if scope is not None:
        pred, params = scope.predicate("T", param_prefix)
        sql.append(f"WHEN NOT MATCHED BY SOURCE AND {pred} THEN DELETE")
    return "\n".join(sql), params
