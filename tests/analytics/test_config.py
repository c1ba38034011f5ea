from __future__ import annotations

import pytest

from analytics.config import Settings
from tests.conftest import ROOT


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented_in_env_example(field: str) -> None:
    text = (ROOT / ".env.example").read_text()
    assert f"CALLSCOPE_{field.upper()}=" in text, f"add CALLSCOPE_{field.upper()} to .env.example"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_has_a_description(field: str) -> None:
    assert Settings.model_fields[field].description


def test_price_per_minute_is_per_engine() -> None:
    s = Settings(price_assemblyai_per_min=0.01)
    assert s.price_per_minute("assemblyai") == 0.01
    assert s.price_per_minute("faster-whisper") == 0.0
