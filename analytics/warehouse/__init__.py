"""The DuckDB warehouse: schema migrations, the single writer, and read queries."""

from analytics.warehouse.db import Warehouse, connect_read_only

__all__ = ["Warehouse", "connect_read_only"]
