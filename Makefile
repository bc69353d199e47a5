# gradflow: `make reports` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: help reports test lint bench venv clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

# The venv is (re)installed only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install gradflow (editable) with test and dask extras

reports: $(STAMP)  ## regenerate everything in reports/
	$(VENV)/bin/gradflow report

test: $(STAMP)  ## run the whole test suite
	$(PY) -m pytest -q

lint: $(STAMP)  ## ruff over the package, tests and analyses; mypy over the package
	$(VENV)/bin/ruff check gradflow tests analyses
	$(VENV)/bin/mypy gradflow

bench: $(STAMP)  ## timings of the engine (never asserted in tests)
	$(PY) -m gradflow bench --out reports/benchmarks.md

clean:  ## remove the venv and caches (not reports/)
	rm -rf $(VENV) .pytest_cache .ruff_cache
