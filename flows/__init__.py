"""Prefect flows and the CLI: thin edges over the ``analytics`` library."""

import os

# Library log records go to the Prefect run logs too; no telemetry from an offline machine.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "analytics")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The library logs outside flow runs too (CLI, tests); that is not an error.
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
