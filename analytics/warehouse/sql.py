"""Statement helpers shared by every writer module (no warehouse imports: no cycles)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str] | None,
    rows: Sequence[Sequence[Any]],
) -> None:
    """Many rows in one statement, passed column by column (``executemany`` runs one
    statement per row: ~100x slower for a call's words). ``columns=None``: every column
    of the table, in order."""
    if not rows:
        return
    values = [list(col) for col in zip(*rows, strict=True)]
    picks = ", ".join("unnest(?)" for _ in values)
    names = f" ({', '.join(columns)})" if columns else ""
    con.execute(f"INSERT INTO {table}{names} SELECT {picks}", values)
