# gradflow: `make reports` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

REPORT ?= reports

.PHONY: help reports paper test lint bench venv clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

# The venv is (re)installed only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install gradflow (editable) with test and dask extras

reports: $(STAMP)  ## regenerate everything in reports/ (and paper.pdf when pdflatex is installed)
	$(VENV)/bin/gradflow report
	@if command -v pdflatex >/dev/null 2>&1; then $(MAKE) --no-print-directory paper; \
	else echo "pdflatex not installed: $(REPORT)/paper.pdf not rebuilt ('make paper' says how)"; fi

paper: $(STAMP)  ## compile reports/paper.tex into reports/paper.pdf (needs pdflatex)
	$(PY) -c 'import sys; from gradflow.report.paper import main; sys.exit(main())' $(REPORT)

test: $(STAMP)  ## run the whole test suite (and the engine's tests again on the NumPy path)
	$(PY) -m pytest -q
	$(PY) -m pytest -q tests/engine --engine numpy

lint: $(STAMP)  ## ruff over the package, tests and analyses; mypy over the package and analyses
	$(VENV)/bin/ruff check gradflow tests analyses
	$(VENV)/bin/mypy gradflow
	MYPYPATH=analyses $(VENV)/bin/mypy analyses

bench: $(STAMP)  ## timings of the engine (never asserted in tests)
	$(PY) -m gradflow bench --out reports/benchmarks.md

clean:  ## remove the venv and caches (not reports/)
	rm -rf $(VENV) .pytest_cache .ruff_cache
