# playcast: `make demo` runs the whole flow on the embedded defaults, `make test` runs the checks and tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# the data mirror beside the repo, when there is one and PLAYCAST_DATA_MIRROR is not set (set it empty for the network)
ifeq ($(origin PLAYCAST_DATA_MIRROR),undefined)
  ifneq ($(wildcard ../shared/data/nfl),)
    export PLAYCAST_DATA_MIRROR := $(abspath ../shared/data)
  endif
endif

.PHONY: install demo test ui lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/playcast demo

ui: $(STAMP)
	$(BIN)/playcast ui

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
