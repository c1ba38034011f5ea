"""Every SQL example in docs/warehouse.md runs against a warehouse landed the real way."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from analytics.enrich.metrics import compute_metrics
from analytics.enrich.rules import load_rules
from analytics.insights.offline import OfflineEngine
from analytics.landing import add_insights, land_processed
from analytics.warehouse import Warehouse
from analytics.warehouse.snapshot import SnapshotReader, open_reader, publish
from tests.analytics.warehouse_helpers import landed_call
from tests.conftest import ROOT

DOC = ROOT / "docs" / "warehouse.md"
EXAMPLES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)

ANGRY = [
    ("agent", "Acme support, how can I help?"),
    ("customer", "This is terrible, I am furious, you charged me twice and nobody helps."),
    ("agent", "I cannot change that today, I am sorry."),
    ("customer", "This is awful and useless, I will cancel, I hate this service."),
]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> SnapshotReader:
    wh = Warehouse(tmp_path_factory.mktemp("doc") / "w.duckdb")
    wh.migrate()
    rules = load_rules(ROOT / "config" / "categories.yaml")
    engine = OfflineEngine()
    calls = [
        landed_call("c1", day=1),
        landed_call("c2", day=2, agent="agent-bo", lines=ANGRY),
        landed_call("c3", day=2),
    ]
    for result in calls:
        metrics = compute_metrics(list(result.utterances), result.duration_s).to_dict()
        processed = add_insights(replace(result, metrics=metrics), engine)
        land_processed(wh, processed, run_id=None, ruleset=rules, redact_pii=True)
    publish(wh)
    return open_reader(wh.path)


def test_the_doc_has_examples_for_every_view() -> None:
    text = "\n".join(EXAMPLES)
    views = ("v_calls", "v_utterances", "v_agent_daily", "v_category_daily", "v_cost_daily",
             "v_role_daily")  # fmt: skip
    for view in views:
        assert f"FROM {view}" in text, f"docs/warehouse.md: add an example query over {view}"
    assert "search_filtered(" in text  # the filtered search, ranked after its filters


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_doc_example_runs_and_finds_rows(reader: SnapshotReader, sql: str) -> None:
    rows = reader.execute(sql).fetchall()
    assert rows, f"the example returned nothing on the test warehouse:\n{sql}"


def test_views_answer_with_the_landed_facts(reader: SnapshotReader) -> None:
    calls = reader.execute(
        "SELECT call_id, call_date::VARCHAR, agent_id, n_utterances, outcome IS NOT NULL,"
        " cost_usd FROM v_calls ORDER BY call_id"
    ).fetchall()
    assert calls == [
        ("c1", "2026-11-01", "agent-ana", 5, True, 0.0),
        ("c2", "2026-11-02", "agent-bo", 4, True, 0.0),
        ("c3", "2026-11-02", "agent-ana", 5, True, 0.0),
    ]
    daily = reader.execute(
        "SELECT call_date::VARCHAR, agent_id, calls FROM v_agent_daily ORDER BY ALL"
    ).fetchall()
    assert daily == [
        ("2026-11-01", "agent-ana", 1),
        ("2026-11-02", "agent-ana", 1),
        ("2026-11-02", "agent-bo", 1),
    ]
    cost = reader.execute("SELECT kind, sum(items) FROM v_cost_daily GROUP BY kind ORDER BY 1")
    assert cost.fetchall() == [("insights", 3), ("transcription", 3)]
    # talk per role and day from the rollup (summed over agents): what every utterance
    # adds up to
    roles = reader.execute(
        "SELECT call_date::VARCHAR, role, sum(calls), sum(utterances), round(sum(talk_s), 6)"
        " FROM v_role_daily GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert (
        roles
        == reader.execute(
            "SELECT call_date::VARCHAR, role, count(DISTINCT call_id), count(*),"
            " round(sum(duration_s), 6) FROM v_utterances GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    )
    assert [r[:4] for r in roles] == [
        ("2026-11-01", "agent", 1, 3),
        ("2026-11-01", "customer", 1, 2),
        ("2026-11-02", "agent", 2, 5),
        ("2026-11-02", "customer", 2, 4),
    ]
