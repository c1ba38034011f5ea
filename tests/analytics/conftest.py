"""Fixtures shared by the analytics tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

REAL = ROOT / "data" / "real"


@pytest.fixture(scope="session")
def real() -> Path:
    """data/real, built by the project's set-up (scripts/fetch_real_sets.py, idempotent)
    when it is missing."""
    if not (REAL / ".built").is_file():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_real_sets.py")], check=True)
    return REAL
