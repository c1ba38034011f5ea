from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.orders import OrderTable, order_number_in


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, my order number is 4 1 7 2.", "4172"),
        ("order number 4172 please", "4172"),
        ("it's four one seven two", "4172"),
        ("Hi there, order number 2 9 5 8, please.", "2958"),
        ("I ordered two chairs for my home", None),
        ("Sorry, when will it arrive?", None),
        ("number 41", None),
    ],
)
def test_order_number_in_speech(text: str, expected: str | None) -> None:
    assert order_number_in(text) == expected


def test_lookup_known_and_unknown() -> None:
    table = OrderTable()
    assert len(table) >= 5
    hit = asyncio.run(table.lookup("4172"))
    assert hit["found"] and hit["item"] == "oak dining table"
    assert asyncio.run(table.lookup("0000")) == {"found": False, "order_id": "0000"}


def test_bad_table_names_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "orders.csv"
    bad.write_text("id,name\n1,x\n")
    with pytest.raises(ValueError, match="CALLSCOPE_AGENT_ORDERS_PATH"):
        OrderTable(bad)
    with pytest.raises(ValueError, match="does not exist"):
        OrderTable(tmp_path / "missing.csv")
