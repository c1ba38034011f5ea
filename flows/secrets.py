"""Settings of a flow run: secrets come only from the environment or Prefect Secret blocks.

A flow's parameters are stored in Prefect's database in plain text and shown in its UI, so
the ``settings`` parameter of a flow may override any setting except a secret. A secret that
is not in the environment (``CALLSCOPE_LLM_API_KEY``…) is read from the Prefect Secret
block named after it (``callscope-llm-api-key``), if there is one. A secret found in the
parameters fails the run before any work, and is first wiped from the stored parameters.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import SecretStr

from analytics.config import Settings
from analytics.errors import ConfigError

log = logging.getLogger(__name__)

#: Settings fields that hold a secret (typed SecretStr).
SECRET_FIELDS = tuple(
    name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
)
REDACTED = "**redacted**"


def block_name(field: str) -> str:
    """The Prefect Secret block a secret setting is read from: ``callscope-llm-api-key``."""
    return "callscope-" + field.replace("_", "-")


def secret_overrides(overrides: dict[str, Any] | None) -> list[str]:
    """The secret settings among flow-parameter overrides."""
    return sorted(k for k in (overrides or {}) if k in SECRET_FIELDS)


def _wipe_stored_parameters(flow_run_id: str | None, name: str, keys: list[str]) -> None:
    """Replace the secrets in the flow run's stored ``name`` parameter."""
    if not flow_run_id:
        return
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
            params = dict(run.parameters)
            params[name] = {
                k: (REDACTED if k in keys else v) for k, v in (params.get(name) or {}).items()
            }
            client.update_flow_run(flow_run_id, parameters=params)  # type: ignore[arg-type]
    except Exception as exc:  # the API is down: the run still fails on the secret
        log.warning("could not wipe secrets from flow run %s's parameters: %s", flow_run_id, exc)


def _from_blocks(missing: list[str]) -> dict[str, SecretStr]:
    """Secret settings read from Prefect Secret blocks (those that exist)."""
    from prefect.blocks.system import Secret

    found: dict[str, SecretStr] = {}
    for field in missing:
        try:
            block = Secret.load(block_name(field))
        except (ValueError, KeyError):  # no block of that name
            continue
        found[field] = SecretStr(str(block.get()))
    return found


def run_settings(
    overrides: dict[str, Any] | None, flow_run_id: str | None = None, parameter: str = "settings"
) -> Settings:
    """Settings for one flow run: the environment (and ``.env``), non-secret ``overrides``
    from the flow's parameters, and secrets missing from the environment from Prefect
    Secret blocks. A secret in ``overrides`` is a :class:`ConfigError` naming the fix."""
    secret = secret_overrides(overrides)
    if secret:
        _wipe_stored_parameters(flow_run_id, parameter, secret)
        env = ", ".join(f"CALLSCOPE_{k.upper()}" for k in secret)
        blocks = ", ".join(block_name(k) for k in secret)
        raise ConfigError(
            f"flow parameter {parameter!r} carries the secret setting(s) {', '.join(secret)};"
            " flow parameters are stored in Prefect's database, so secrets are refused there"
            f" (and were wiped from this run's parameters). Set {env} in the worker's"
            f" environment, or create Prefect Secret block(s) {blocks}"
        )
    cfg = Settings(**(overrides or {}))
    missing = [k for k in SECRET_FIELDS if getattr(cfg, k) is None]
    if missing and flow_run_id:
        found = _from_blocks(missing)
        if found:
            log.info("secrets from Prefect Secret blocks: %s", ", ".join(sorted(found)))
            cfg = cfg.model_copy(update=found)
    return cfg
