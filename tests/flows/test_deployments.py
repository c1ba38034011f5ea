"""prefect.yaml loads, and every entrypoint it names imports to a Prefect flow."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from prefect import Flow
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.templating import apply_values, find_placeholders

from tests.conftest import ROOT


def _config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


def _load_entrypoint(entrypoint: str) -> Any:
    """Load it the way a Prefect worker does."""
    path, _, name = entrypoint.partition(":")
    return load_flow_from_entrypoint(f"{ROOT / path}:{name}")


@pytest.mark.parametrize("deployment", _config()["deployments"], ids=lambda d: d["name"])
def test_entrypoints_import_to_flows(deployment: dict[str, Any]) -> None:
    obj = _load_entrypoint(deployment["entrypoint"])
    assert isinstance(obj, Flow)
    params = obj.parameters.properties
    assert set(deployment.get("parameters") or {}) <= set(params)


def test_nightly_ingest_runs_at_two_in_a_configurable_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (nightly,) = [d for d in _config()["deployments"] if d["name"] == "nightly-ingest"]
    (schedule,) = nightly["schedules"]
    assert schedule["cron"] == "0 2 * * *"
    assert nightly["work_pool"]["name"] == "callscope-process"
    monkeypatch.setenv("CALLSCOPE_TIMEZONE", "Europe/Berlin")
    placeholders = find_placeholders(schedule["timezone"])
    resolved = apply_values(schedule, {p.name: None for p in placeholders})
    assert resolved["timezone"] == "Europe/Berlin"
    # Prefect's own schedule model validates the cron string and the time zone
    cron = CronSchedule(cron=resolved["cron"], timezone=resolved["timezone"])
    assert cron.timezone == "Europe/Berlin"


def test_no_secrets_in_prefect_yaml() -> None:
    text = (ROOT / "prefect.yaml").read_text().lower()
    for word in ("secret_access_key", "api_key", "password", "token"):
        assert word not in text


def test_reprocess_runs_on_demand_with_the_selectors_as_parameters() -> None:
    (dep,) = [d for d in _config()["deployments"] if d["name"] == "reprocess"]
    assert not dep.get("schedules")
    flow = _load_entrypoint(dep["entrypoint"])
    assert set(dep["parameters"]) == set(flow.parameters.properties) - {"settings"}
    assert dep["parameters"]["stages"] == ["auto"] and dep["concurrency_limit"] == 1
