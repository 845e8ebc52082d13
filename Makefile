# Set-up and the two everyday commands. Both create or refresh the virtual environment first.
#   make demo   run the whole sagegan pipeline on the embedded simulator (no data, no network)
#   make test   run the test suite and the linters
# GPU users: make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo_out
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sagegan-installed

.PHONY: demo test lint format venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sagegan demo --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) $(DEMO_OUT) build dist src/*.egg-info .pytest_cache .ruff_cache
