# The two set-up commands (README): `make run` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench clean

$(BIN)/watch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

## run: install, then one pass of the main job (`watch run --once`: poll, close windows,
## alert) on the shipped tracker with SQLite in db/; a failed feed does not stop the status
run: $(BIN)/watch
	$(BIN)/watch validate
	-$(BIN)/watch run --once
	$(BIN)/watch status

## test: install, start a throw-away PostgreSQL, make sure Debian's headless Chromium is there
## (the browser tests), run the whole suite on SQLite and PostgreSQL
test: $(BIN)/watch
	scripts/with-postgres scripts/with-chromium $(BIN)/pytest

lint: $(BIN)/watch
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

format: $(BIN)/watch
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(BIN)/watch
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/match.py
	$(BIN)/python bench/poll.py
	-test -f ../shared/devset/devset.jsonl && $(BIN)/python bench/devset_backtest.py
	$(BIN)/python bench/backtest.py
	$(BIN)/python bench/status.py
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
