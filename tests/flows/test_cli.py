"""The ``callscope`` command line, run as users run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from analytics.warehouse.migrations import MIGRATIONS
from flows.cli import main
from tests.conftest import ROOT, sample_audio, sample_sidecar


def _commands() -> list[str]:
    return sorted(main.commands)


@pytest.mark.parametrize("name", _commands())
def test_every_command_has_help_text_and_is_in_the_readme(name: str) -> None:
    cmd = main.commands[name]
    assert isinstance(cmd, click.Command) and cmd.help and len(cmd.help) > 20
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert f"callscope {name}" in (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_analyze_json_prints_utterances_interleaved_in_time(tmp_path: Path) -> None:
    audio = sample_audio("angry_unresolved")
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "analyze", str(audio), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    data = json.loads(proc.stdout)
    for key in (
        "call_id",
        "duration_s",
        "channels",
        "sample_rate",
        "language",
        "engine",
        "model",
        "utterances",
    ):
        assert key in data
    side = sample_sidecar("angry_unresolved")
    assert data["call_id"] == side["call_id"] and data["channels"] == 2
    assert data["insights"]["status"] == "ok" and data["insights"]["engine"] == "offline"
    assert isinstance(data["categories"], list) and "redaction_counts" in data
    assert data["stages"]["insights"]["prompt_version"] == data["insights"]["prompt_version"]
    utts = data["utterances"]
    assert set(utts[0]) >= {"speaker", "role", "start", "end", "text", "words"}
    assert set(utts[0]["words"][0]) == {"word", "start", "end", "prob"}
    starts = [u["start"] for u in utts]
    assert starts == sorted(starts)
    roles = [u["role"] for u in utts]
    # not one block per channel: the roles alternate the way the reference turns do
    ref_roles = [t["role"] for t in side["reference"]["turns"]]
    assert roles == ref_roles


@pytest.mark.slow
def test_analyze_text_output_shows_roles(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(sample_audio("billing_resolved"))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("billing_resolved") and "speakers by channels" in lines[0]
    assert any("] agent (ch" in line for line in lines)
    assert any("] customer (ch" in line for line in lines)
    # the same stages as a nightly run: insights, categories, redaction
    assert "insights (offline/" in result.output and "outcome: resolved" in result.output
    assert "categories (rules " in result.output and "redaction: " in result.output


def test_analyze_on_a_corrupt_file_fails_cleanly(corrupt_wav: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(corrupt_wav)])
    assert result.exit_code == 1
    assert "decode failed" in result.output and "corrupt_call.wav" in result.output
    assert "Traceback" not in result.output


def test_analyze_on_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "nope.wav")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    result = CliRunner().invoke(main, ["migrate", "--warehouse", str(path)])
    assert result.exit_code == 0
    assert f"schema version {MIGRATIONS[-1].version}" in result.output
    assert path.exists()


def test_settings_never_print_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSCOPE_S3_SECRET_ACCESS_KEY", "hunter2-very-secret")
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 0
    assert "hunter2" not in result.output and "**" in result.output


@pytest.mark.slow
def test_engine_and_model_options_reach_the_pipeline(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            str(sample_audio("wrong_number")),
            "--json",
            "--model",
            "base",
            "--language",
            "en",
            "--beam-size",
            "2",
            "--hotwords",
            "Northwind",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["engine"] == "faster-whisper" and data["model"] == "base"
    assert data["params"]["beam_size"] == 2 and data["params"]["hotwords"] == "Northwind"
    assert data["params"]["language"] == "en" and data["language"] == "en"
    assert len(data["lineage"]["model_sha256"]) == 64


def test_an_unknown_model_is_a_clean_cli_error() -> None:
    result = CliRunner().invoke(
        main, ["analyze", str(sample_audio("wrong_number")), "--model", "huge-v9"]
    )
    assert result.exit_code == 1
    assert "huge-v9" in result.output and "tiny.en" in result.output
    assert "Traceback" not in result.output
