# renkei — two commands: `make demo` and `make test`. Everything else is bootstrapped from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# no telemetry may leave this machine
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export RUNTIME__DLTHUB_TELEMETRY := false
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: demo test check lint typecheck pytest bench clean soak

# the browser test drives Debian's chromium (with Japanese fonts); installed here when missing
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo) \
		apt-get install -y -q chromium fonts-noto-cjk

# tests/postgres.py starts throwaway servers from Debian's postgresql binaries; installed here when missing
POSTGRES := $(or $(firstword $(wildcard /usr/lib/postgresql/*/bin/postgres)),postgresql-server)
$(POSTGRES):
	$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo) \
		apt-get install -y -q postgresql

# the first run says what it installs and that it takes a while (then nothing is installed again)
$(STAMP): pyproject.toml
	@echo "renkei: installing into $(VENV) — prefect, pandas, pyarrow, SQLAlchemy, simple-salesforce and the"
	@echo "        test tools (a few minutes, on the first run only) / 初回のみ: 依存パッケージを $(VENV) に"
	@echo "        インストールします（数分かかります）"
	@start=$$(date +%s); \
	$(PYTHON) -m venv $(VENV) && \
	$(BIN)/pip install --quiet --upgrade pip && \
	$(BIN)/pip install --quiet -e '.[dev]' && \
	echo "renkei: installed in $$(( $$(date +%s) - start )) s / インストール完了" && \
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/renkei demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy schemas connectors tasks flows deployments sandbox bench

# one worker per core, each test file on one worker (its module fixtures, servers and worlds shared):
# most of the suite waits on servers, so two workers on two cores take ~12 min instead of ~21
pytest: $(STAMP) $(CHROMIUM) $(POSTGRES)
	$(BIN)/pytest -n auto --dist loadfile

test: lint typecheck pytest

# the inner loop (under a minute): lint, types, the pure domain, the connectors and the import layers
check: lint typecheck
	$(BIN)/pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/bench_extract.py --rows 1000000 --dlt-rows 1000000

# the long reliability runs whose figures are in docs/RELIABILITY.md (bounded: each well under 15 min)
soak: $(STAMP)
	RENKEI_SOAK_RUNS=20 RENKEI_SOAK_SCALE=4 $(BIN)/pytest -s -p no:logging --timeout=900 tests/reliability/test_fault_soak.py
	RENKEI_CRASH_SEEDS=20 $(BIN)/pytest -s -p no:logging --timeout=900 tests/reliability/test_crash_resume.py
	RENKEI_DIST_ROUNDS=5 RENKEI_DIST_SCALE=3 $(BIN)/pytest -s -p no:logging --timeout=1800 tests/reliability/test_distributed.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
