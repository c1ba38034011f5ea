"""``callscope eval``: the pipeline over a labelled set, WER / DER / role accuracy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from tests.conftest import ROOT

SET = ROOT / "data" / "diarization"


def test_eval_needs_reference_turns(tmp_path: Path) -> None:
    (tmp_path / "call.wav").write_bytes(b"RIFF")
    (tmp_path / "call.json").write_text('{"call_id": "call"}')  # no reference turns
    result = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert result.exit_code != 0
    assert "no recordings with reference turns" in result.output


@pytest.mark.slow
def test_eval_prints_a_table_with_an_overall_row(tmp_path: Path) -> None:
    pytest.importorskip("resemblyzer")
    pytest.importorskip("pyannote.metrics")
    names = ["dz_voicemail", "dz_supervisor_transfer"]
    for name in names:  # a copy: the default directory is data/diarization
        for suffix in (".flac", ".json"):
            shutil.copy(SET / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    result = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    header = lines[0].split()
    for column in ("call", "WER", "cpWER", "DER", "nist", "roles"):
        assert column in header
    assert lines[-1].startswith("speaker count right: 2/2 calls")
    rows = {line.split()[0]: line.split() for line in lines[2:-1] if not line.startswith("-")}
    assert set(rows) == {*names, "overall"}
    assert rows["dz_voicemail"][2] == "1/1" and rows["dz_supervisor_transfer"][2] == "3/3"
    assert rows["dz_voicemail"][3] == "clustering"
    # overall: call, audio s, speakers, (no "by"), WER, cpWER, DER, nist, miss, FA, conf,
    # roles, proc s
    _, _, speakers, wer, cpwer, der, nist, *_, roles, _ = rows["overall"]
    assert speakers == "4/4"
    assert float(nist) <= float(der) <= 0.10
    assert float(wer) <= float(cpwer) <= 1.0
    assert float(roles) >= 0.95
    assert 0.0 <= float(wer) <= 0.6
