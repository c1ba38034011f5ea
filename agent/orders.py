"""The order-lookup tool: a local order table (CSV) and order numbers heard in speech."""

from __future__ import annotations

import asyncio
import csv
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BUNDLED_ORDERS = Path(__file__).with_name("orders.csv")

_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "to": "2",
    "too": "2",
    "three": "3",
    "four": "4",
    "for": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    item: str
    status: str
    eta: str

    def as_tool_result(self) -> dict[str, Any]:
        return {"found": True, **asdict(self)}


class OrderTable:
    """Orders by id, read once from a CSV with columns order_id,customer,item,status,eta."""

    COLUMNS = ("order_id", "customer", "item", "status", "eta")

    def __init__(self, path: Path | None = None, delay_s: float = 0.0) -> None:
        self.path = path or BUNDLED_ORDERS
        self.delay_s = delay_s
        try:
            with self.path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                missing = set(self.COLUMNS) - set(reader.fieldnames or ())
                if missing:
                    raise ValueError(
                        f"order table {self.path} lacks columns {sorted(missing)}; expected "
                        f"{','.join(self.COLUMNS)} (CALLSCOPE_AGENT_ORDERS_PATH)"
                    )
                self._orders = {
                    row["order_id"].strip(): Order(**{c: row[c].strip() for c in self.COLUMNS})
                    for row in reader
                }
        except FileNotFoundError as exc:
            raise ValueError(
                f"order table {self.path} does not exist; fix CALLSCOPE_AGENT_ORDERS_PATH"
            ) from exc

    def __len__(self) -> int:
        return len(self._orders)

    def ids(self) -> list[str]:
        return sorted(self._orders)

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id.strip())

    async def lookup(self, order_id: str) -> dict[str, Any]:
        """The tool: a JSON-able result, ``found`` false for an unknown number."""
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        order = self.get(order_id)
        log.info("order lookup %s: %s", order_id, "found" if order else "not found")
        return order.as_tool_result() if order else {"found": False, "order_id": order_id}


def order_number_in(text: str, min_digits: int = 4) -> str | None:
    """The first run of at least ``min_digits`` digits said in ``text`` ("4 1 7 2",
    "four one seven two", "4172", "order number forty-one..." is not handled)."""
    tokens = re.findall(r"[a-z]+|\d+", text.lower())
    run = ""
    for tok in tokens:
        if tok.isdigit():
            run += tok
        elif tok in _DIGIT_WORDS and (run or tok not in ("o", "oh", "to", "too", "for")):
            run += _DIGIT_WORDS[tok]
        else:
            if len(run) >= min_digits:
                return run
            run = ""
    return run if len(run) >= min_digits else None
