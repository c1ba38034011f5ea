"""``callscope models``: list the packaged whisper models, convert one for openai-whisper."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
import torch

from flows.cli import main


def test_cli_converts_a_packaged_model_into_a_loadable_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "tiny.en.pt"
    result = CliRunner().invoke(main, ["models", "convert", "tiny.en", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4+4 layers" in result.output and "167 tensors" in result.output
    checkpoint = torch.load(out, map_location="cpu", weights_only=True)
    assert checkpoint["dims"]["n_vocab"] == 51864 and len(checkpoint["model_state_dict"]) == 167
    listed = CliRunner().invoke(main, ["models", "list"])
    assert listed.exit_code == 0 and "tiny.en" in listed.output
    bad = CliRunner().invoke(main, ["models", "convert", str(tmp_path / "nowhere")])
    assert bad.exit_code != 0 and "not available here" in bad.output
