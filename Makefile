# The README's two commands: `make demo` (set up, run the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# MiniStack (a LocalStack-compatible emulator without Docker) pins its own botocore, so it lives in
# a venv of its own, as the separate program it is; the tests run the remote-Lambda mode on it.
MINISTACK_VENV ?= .venv-ministack
MINISTACK_SPEC ?= ministack>=1.5.33,<1.6

# Node.js handlers (examples/node-report) need node and the example's npm packages, pinned by its
# package-lock.json. Without node (and not root to install it) the Node.js tests skip, saying why.
NODE_EXAMPLE ?= examples/node-report
# serverless-offline for the peers benchmark only (make bench-peers, never make test): exact
# versions pinned by its package-lock.json.
PEERS_NODE ?= benchmarks/peers

# The browser tests drive Debian's Chromium through Playwright (executable_path); Playwright's own
# browser download (`playwright install`) is never used. Without chromium (and not root to install
# it) the browser tests skip, naming the reason.
CHROMIUM ?= chromium

.PHONY: demo up test lint bench bench-peers stress clean ministack node-packages peers-packages load browser screenshots

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
	$(BIN)/mypy emulator reportapp reportclient scenarios locustfiles benchmarks timeoutlab

$(MINISTACK_VENV)/bin/ministack:
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install --quiet --upgrade pip
	$(MINISTACK_VENV)/bin/pip install --quiet '$(MINISTACK_SPEC)' boto3

ministack: $(MINISTACK_VENV)/bin/ministack

node-packages:
	@$(MAKE) --no-print-directory node-for NODE_DIR=$(NODE_EXAMPLE)

peers-packages:
	@$(MAKE) --no-print-directory node-for NODE_DIR=$(PEERS_NODE)

# node and npm (Debian's, when root and missing), then NODE_DIR's packages from its lock file.
node-for:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && apt-get install -y -qq nodejs npm; \
		else \
			echo "node-packages: node/npm not found and not root: install Node.js >= 20 to run" \
			     "the Node.js handlers; their tests skip"; exit 0; \
		fi; \
	fi; \
	if [ ! -f $(NODE_DIR)/node_modules/.package-lock.json ] || \
	   [ $(NODE_DIR)/package-lock.json -nt $(NODE_DIR)/node_modules/.package-lock.json ]; then \
		cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

browser:
	@if ! command -v $(CHROMIUM) >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && apt-get install -y -qq chromium; \
		else \
			echo "browser: $(CHROMIUM) not found and not root: install Debian's chromium to run" \
			     "the browser tests; they skip"; exit 0; \
		fi; \
	fi

# Two pytest-xdist workers, a test file each at a time (module fixtures stay in one worker): about
# 5 minutes on 2 cores instead of 9 in one process. The timing set (marker `timing`: deadlines
# bounded in real time) then runs alone, in one process, with no other test beside it.
PYTEST_WORKERS ?= -n 2 --dist loadfile

test: lint ministack node-packages browser
	$(BIN)/pytest $(PYTEST_WORKERS) -m "not timing"
	$(BIN)/pytest -m timing

# The README's PNGs (docs/images/ui-page.png, locust-costs.png), remade by the browser tests that
# take them, at a gentler time scale so the figures carry less unscaled processing.
screenshots: $(BIN)/timeoutlab browser
	TIMEOUTLAB_ARTIFACTS=$(CURDIR)/docs/images TIMEOUTLAB_BROWSER_TIME_SCALE=0.2 \
		$(BIN)/pytest -m browser -p no:cacheprovider tests/browser \
		-k "test_rest_gets_the_504_at_29_s_and_the_websocket_the_csv or typed_delays"

# 1000 simultaneous REST and 1000 WebSocket clients on loopback, every request answered (~10 s).
load: $(BIN)/timeoutlab
	$(BIN)/pytest -m load -p no:cacheprovider tests/emulator/gateway/test_load.py

# WebSocket capacity of the emulator and one Locust process on this machine (~8 min; see benchmarks/).
bench: $(BIN)/timeoutlab
	$(BIN)/python benchmarks/websocket_capacity.py

# timeoutlab, MiniStack and serverless-offline side by side: one client, interleaved, 3 repeats
# (about 8 minutes of measuring; see benchmarks/README.md). Installs serverless-offline into
# benchmarks/peers first.
bench-peers: $(BIN)/timeoutlab ministack peers-packages
	$(BIN)/python -m benchmarks.peers --json benchmarks/results/peers.json

# The test suite (no linters) 10 times in a row under 2 CPU hogs, then the timing set 10 times
# (about an hour and a half; see benchmarks/).
stress: $(BIN)/timeoutlab ministack
	$(BIN)/python benchmarks/stress_suite.py --runs 10 --hogs 2 -- $(PYTEST_WORKERS) -m "not timing"
	$(BIN)/python benchmarks/stress_suite.py --runs 10 --hogs 2 -- -m timing

clean:
	rm -rf $(VENV) $(MINISTACK_VENV) .pytest_cache .ruff_cache *.egg-info $(NODE_EXAMPLE)/node_modules \
		$(PEERS_NODE)/node_modules
