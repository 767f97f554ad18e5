# The two commands a newcomer needs: `make demo` and `make test`. Both set up
# everything they use from a fresh clone (a venv, the package, mosquitto for tests).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench schema clean tools

demo: $(STAMP_RUN)
	$(BIN)/edge-agent replay fixtures/demo-store

test: $(STAMP_DEV) tools
	$(BIN)/ruff check agent tests bench models
	$(BIN)/ruff format --check agent tests bench models
	$(BIN)/mypy agent
	$(BIN)/python -m pytest -q -p no:cacheprovider

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[dev,llrp,sim]'
	touch $@ $(STAMP_RUN)

# System tools the tests talk to for real. Installed with apt-get when missing
# and we are root (CI, fresh gateways); otherwise one line says what to install.
tools:
	@bash deploy/ensure-tools.sh

lint: $(STAMP_DEV)
	$(BIN)/ruff check agent tests bench models
	$(BIN)/ruff format --check agent tests bench models

typecheck: $(STAMP_DEV)
	$(BIN)/mypy agent

pytest: $(STAMP_DEV) tools
	$(BIN)/python -m pytest -q -p no:cacheprovider

schema: $(STAMP_RUN)
	$(BIN)/python -m agent.config > docs/config.schema.json

bench: $(STAMP_DEV) tools
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache
