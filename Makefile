# Quick start: `make run` (install + start the app), `make test` (install + run every test).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-fast typecheck imports bench lint snapshots docs pictures clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# compileall: the bytecode `pip install` writes for a regular install (an editable one leaves it to
# the first start, or to every start under PYTHONDONTWRITEBYTECODE).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/python -m compileall -q ipynbsrv_tui
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m compileall -q ipynbsrv_tui
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/ipynbsrv-tui

test: $(VENV)/.installed-test typecheck imports docs
	$(BIN)/ruff check ipynbsrv_tui tests benchmarks tools deploy
	$(BIN)/pytest $(PYTEST_ARGS)

# Unit and Pilot tests only: no engine, no slapd, no image builds, nothing that changes the host
# (accounts, mounts, network namespaces) (about two minutes on 2 cores).
test-fast: $(VENV)/.installed-test
	$(BIN)/pytest -m "not docker and not ldap and not slow and not web and not host and not swarm" -x -q $(PYTEST_ARGS)

# Every script runs; the target fails at the end if any figure missed its budget.
bench: $(VENV)/.installed-test
	@failed=""; for script in benchmarks/bench_*.py; do $(BIN)/python $$script || failed="$$failed $$script"; done; \
	if [ -n "$$failed" ]; then echo "over budget or failed:$$failed" >&2; exit 1; fi

# mypy, configured in pyproject.toml: strict on domain, interface, service, broker, engine, directory.
typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# The import contract of DESIGN §3, declared in pyproject.toml ([tool.importlinter]).
imports: $(VENV)/.installed-test
	$(BIN)/lint-imports

lint: $(VENV)/.installed-test
	$(BIN)/ruff check ipynbsrv_tui tests benchmarks tools deploy

# The documentation site (docs/, mkdocs.yml) into site/: a broken link or a page left out fails.
docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The web login picture (headless chromium); the console pictures come from the snapshots.
pictures: $(VENV)/.installed-test
	$(BIN)/python tools/pictures.py

snapshots: $(VENV)/.installed-test
	$(BIN)/pytest tests/tui -k snapshot --snapshot-update

clean:
	rm -rf $(VENV) .pytest_cache snapshot_report.html site
