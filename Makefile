# dpaudit: `make demo` installs into .venv and audits the bundled sample council;
# `make test` runs the test suite; `make bench` prints the benchmark figures.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
REPORTS ?= reports
LOCK   := requirements.lock
# The tool that writes $(LOCK), itself pinned; it runs from a throwaway venv, never from .venv.
PIPTOOLS  := pip-tools==7.6.2
LOCKFLAGS ?=

.PHONY: install demo test bench accuracy crash-trials fuzz render clean lock

# Installs exactly the versions of $(LOCK) (every package of the resolved set, see docs/dependencies.md).
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Refresh $(LOCK) from pyproject.toml (direct pins, extra `test`) and constraints.in.
# Keeps every pin that still fits; `make lock LOCKFLAGS=--upgrade` moves every transitive
# dependency to the newest version allowed. Then `make clean test` and commit the lock.
lock:
	tool=$$(mktemp -d) && $(PYTHON) -m venv $$tool && $$tool/bin/pip install --quiet '$(PIPTOOLS)' && \
	CUSTOM_COMPILE_COMMAND='make lock' $$tool/bin/pip-compile --quiet $(LOCKFLAGS) --extra test --strip-extras \
	  --no-emit-index-url --no-emit-find-links -c constraints.in -o $(LOCK) pyproject.toml; \
	rc=$$?; rm -rf $$tool; exit $$rc

# The whole job on sample_data/: three months (Jan-Mar 2026), an officer's decisions on February
# (which give the REPAY and STOP letters), the FY2025 year end, and the officer's year-end decisions
# (a letter only for the repayment accepted).
demo: $(STAMP)
	rm -f $(REPORTS)/demo.duckdb $(REPORTS)/demo.duckdb.wal
	$(BIN)/dpaudit run --data sample_data --periods 2026-01..2026-03 --reports $(REPORTS) --db $(REPORTS)/demo.duckdb --officer "Demo Preparer"
	$(BIN)/dpaudit decisions import sample_data/officer_decisions.csv --data sample_data --db $(REPORTS)/demo.duckdb
	$(BIN)/dpaudit report --data sample_data --period 2026-02 --reports $(REPORTS) --db $(REPORTS)/demo.duckdb
	$(BIN)/dpaudit year-end --data sample_data --fy 2025 --reports $(REPORTS) --db $(REPORTS)/demo.duckdb
	$(BIN)/dpaudit decisions import sample_data/year_end_decisions.csv --data sample_data --db $(REPORTS)/demo.duckdb
	$(BIN)/dpaudit year-end --data sample_data --fy 2025 --reports $(REPORTS) --db $(REPORTS)/demo.duckdb -q
	@echo "Reports are in $(REPORTS)/2026-01 .. $(REPORTS)/2026-03 (letters in $(REPORTS)/2026-02/letters) and $(REPORTS)/FY2025 (letters in $(REPORTS)/FY2025/letters)"

# Any pytest failure fails, including exit 5 ("no tests collected"): CI must never pass on no tests.
test: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/dpaudit bench

# recall/precision on independently written councils (dpaudit.synth.realistic) -> docs/accuracy.md (not in CI)
accuracy: $(STAMP)
	$(BIN)/python scripts/accuracy.py --extended

# kill -9 at random named checkpoints, then re-run and compare with an uninterrupted run (not in CI)
N ?= 20
crash-trials: $(STAMP)
	$(BIN)/python scripts/crash_trials.py $(N)

# mutate real statement and evidence files and run every reader on them, time-boxed (not in CI)
SECONDS ?= 120
fuzz: $(STAMP)
	$(BIN)/python scripts/fuzz_readers.py $(SECONDS)

# the demo workbook and one letter of each kind printed to PDF by LibreOffice headless, with the page
# count of each sheet and letter (not in CI; needs libreoffice-calc, libreoffice-writer, poppler-utils)
render: $(STAMP)
	@command -v soffice >/dev/null || { echo "installing LibreOffice (apt-get)"; \
	  apt-get install -y -qq --no-install-recommends libreoffice-calc libreoffice-writer poppler-utils >/dev/null; }
	@test -f $(REPORTS)/2026-02/exceptions.xlsx || $(MAKE) demo
	$(BIN)/python scripts/render.py $(REPORTS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
