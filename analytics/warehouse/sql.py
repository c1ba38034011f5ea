"""Statement helpers shared by every writer module (no warehouse imports: no cycles).

Rows go in column-wise as one Arrow table per statement: binding Python lists as
``unnest(?)`` parameters costs ~75 µs a row (a call's 300 words: 20 ms; a batch of 1,000
calls: a minute), an Arrow table scan a few hundred nanoseconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

_counter = itertools.count()


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The table's column names, in order."""
    cursor = con.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cursor.description or []]


def arrow_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows as an Arrow table with these column names (types inferred; DuckDB casts)."""
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row of {len(row)} values for {len(columns)} columns {columns}")
    return pa.table({name: pa.array([r[i] for r in rows]) for i, name in enumerate(columns)})


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] | None,
    rows: Sequence[Sequence[Any]],
) -> None:
    """Many rows in one statement, passed column-wise as an Arrow table (``executemany``
    runs one statement per row). ``columns=None``: the table's first columns, in order,
    as many as a row has."""
    if not rows:
        return
    names = list(columns) if columns else table_columns(con, table)[: len(rows[0])]
    view = f"_callscope_rows_{next(_counter)}"
    con.register(view, arrow_table(names, rows))
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM {view}")
    finally:
        con.unregister(view)


class RowBatch:
    """Rows for many tables gathered across calls, then inserted one statement a table."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, tuple[str, ...] | None], list[Sequence[Any]]] = {}

    def add(self, table: str, columns: Sequence[str] | None, rows: Sequence[Sequence[Any]]) -> None:
        """Queue rows for ``table`` (``columns=None``: the table's columns in order)."""
        if rows:
            key = (table, tuple(columns) if columns is not None else None)
            self._rows.setdefault(key, []).extend(rows)

    def extend(self, other: RowBatch) -> None:
        """Queue every row ``other`` holds (rows built ahead, e.g. in a task)."""
        for key, rows in other._rows.items():
            self._rows.setdefault(key, []).extend(rows)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def flush(self, con: duckdb.DuckDBPyConnection) -> None:
        """Insert every queued row (call inside the caller's transaction) and forget them."""
        for (table, columns), rows in self._rows.items():
            insert_rows(con, table, columns, rows)
        self._rows.clear()
