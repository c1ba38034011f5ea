"""Talk per role (migration 42): the ``talk_by_role`` rollup is written with the utterances
at landing, follows reprocessing, is backfilled for an existing archive, and
``v_role_daily`` answers what every utterance adds up to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics.warehouse import Warehouse, connect_read_only
from analytics.warehouse.bulk import Landing
from tests.analytics.warehouse_helpers import landed_call

NO_ROLES = [(None, "Hello, who is this?"), (None, "It is me, about the bill."), ("agent", "Ok.")]

ROLLUP = "SELECT analysis_id, call_id, role, utterances, round(talk_s, 9) FROM talk_by_role"
FROM_UTTERANCES = (
    "SELECT analysis_id, call_id, role, count(*), round(sum(end_s - start_s), 9)"
    " FROM utterances GROUP BY ALL"
)
# The documented query, over the rollup and as it was, over every utterance.
DOC_QUERY = (
    "SELECT call_date, role, round(sum(talk_s) / 60, 1) AS minutes FROM v_role_daily"
    " GROUP BY ALL ORDER BY call_date, role"
)
OLD_DOC_QUERY = (
    "SELECT call_date, role, round(sum(duration_s) / 60, 1) AS minutes FROM v_utterances"
    " GROUP BY ALL ORDER BY call_date, role"
)


def _rows(wh: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    with connect_read_only(wh.path) as con:
        return sorted(con.execute(sql).fetchall(), key=repr)


def _archive(path: Path) -> Warehouse:
    """Calls over three days: one landed alone, two in one batch (one without roles), and
    one processed again (a new version with other lines: two analyses, one current)."""
    wh = Warehouse(path)
    wh.migrate()
    wh.land(landed_call("c1", day=1))
    wh.land_batch(
        [
            Landing(landed_call("c2", day=2, agent="agent-bo")),
            Landing(landed_call("c3", day=2, lines=NO_ROLES)),
        ]
    )
    wh.land(landed_call("c4", day=3, lines=NO_ROLES))
    wh.land(landed_call("c4", day=3, etag="e2", lines=[("customer", "Never mind, sorted.")]))
    return wh


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    return _archive(tmp_path / "w.duckdb")


def test_landing_writes_the_rollup_of_every_analysis(wh: Warehouse) -> None:
    rollup = _rows(wh, ROLLUP)
    assert rollup == _rows(wh, FROM_UTTERANCES)
    assert len({r[0] for r in rollup}) == 5  # every analysis, the replaced one of c4 too
    roles = {(r[1], r[2]): r[3] for r in rollup if r[1] in ("c3", "c1")}
    assert roles == {("c1", "agent"): 3, ("c1", "customer"): 2, ("c3", None): 2,
                     ("c3", "agent"): 1}  # fmt: skip


def test_the_view_follows_the_current_analysis(wh: Warehouse) -> None:
    assert _rows(wh, DOC_QUERY) == _rows(wh, OLD_DOC_QUERY)
    day3 = _rows(
        wh, "SELECT role, calls, utterances FROM v_role_daily WHERE call_date = '2026-11-03'"
    )
    assert day3 == [("customer", 1, 1)]  # c4's new version only
    by_agent = _rows(
        wh,
        "SELECT agent_id, role, calls, utterances FROM v_role_daily WHERE call_date = '2026-11-02'",
    )
    assert set(by_agent) == {
        ("agent-ana", None, 1, 2),
        ("agent-ana", "agent", 1, 1),
        ("agent-bo", "agent", 1, 3),
        ("agent-bo", "customer", 1, 2),
    }


def test_migration_42_backfills_an_existing_archive(wh: Warehouse) -> None:
    # The archive as it was before migration 42: no rollup, no view.
    with wh.transaction() as con:
        con.execute("DROP VIEW v_role_daily")
        con.execute("DROP TABLE talk_by_role")
        con.execute("DELETE FROM schema_migrations WHERE version = 42")
    with connect_read_only(wh.path) as con:
        old_answer = con.execute(OLD_DOC_QUERY).fetchall()
    assert wh.migrate() == [42]
    assert _rows(wh, ROLLUP) == _rows(wh, FROM_UTTERANCES)
    with connect_read_only(wh.path) as con:
        assert con.execute(DOC_QUERY).fetchall() == old_answer
    assert len(old_answer) == 6  # days 1-3, roles agent, customer and none
    # and landing goes on writing it
    wh.land(landed_call("c5", day=4))
    assert _rows(wh, ROLLUP) == _rows(wh, FROM_UTTERANCES)
