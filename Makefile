# Sluice: every target installs what it needs first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
CONFIG  ?= examples/sluice.yaml

.PHONY: install run test test-quick check bench clean redis-server

$(STAMP): pyproject.toml
	@$(PY) -c "import ensurepip, venv" 2>/dev/null || { \
	  echo "installing python3-venv with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq python3-venv >/dev/null; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# redis-server for the tests and the bench (Debian: apt-get when missing)
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq redis-server >/dev/null; }

run: $(STAMP)
	@$(BIN)/python examples/run.py $(CONFIG)

test: $(STAMP) redis-server
	$(BIN)/pytest -q -p no:randomly

# local runs: everything but the end-to-end bench tests marked slow (CI runs `make test`)
test-quick: $(STAMP) redis-server
	$(BIN)/pytest -q -p no:randomly -m "not slow and not benchmark"

check: $(STAMP)
	$(BIN)/ruff check proxy ratelimit cache bench tests
	$(BIN)/mypy

bench: $(STAMP) redis-server
	$(BIN)/python -m bench compare --json bench/results/compare.json --plots bench/results

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
