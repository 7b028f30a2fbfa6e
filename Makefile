# The README's two commands: `make demo` (set up, run the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo up test lint bench clean

$(BIN)/timeoutlab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

demo: $(BIN)/timeoutlab
	$(BIN)/timeoutlab demo

up: $(BIN)/timeoutlab
	$(BIN)/timeoutlab up

lint: $(BIN)/timeoutlab
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

# WebSocket capacity of one Locust process and the emulator on this machine (~2 min; see benchmarks/).
bench: $(BIN)/timeoutlab
	$(BIN)/python benchmarks/websocket_capacity.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
