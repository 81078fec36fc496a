# dpaudit: `make demo` installs into .venv and audits the bundled sample council;
# `make test` runs the test suite; `make bench` prints the benchmark figures.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
REPORTS ?= reports

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The whole job on sample_data/: three months (Jan-Mar 2026), an officer's decisions on February
# (which give the REPAY and STOP letters) and the FY2025 year end.
demo: $(STAMP)
	rm -f $(REPORTS)/demo.duckdb $(REPORTS)/demo.duckdb.wal
	$(BIN)/dpaudit run --data sample_data --periods 2026-01..2026-03 --reports $(REPORTS) --db $(REPORTS)/demo.duckdb --officer "Demo Preparer"
	$(BIN)/dpaudit decisions import sample_data/officer_decisions.csv --data sample_data --db $(REPORTS)/demo.duckdb
	$(BIN)/dpaudit report --data sample_data --period 2026-02 --reports $(REPORTS) --db $(REPORTS)/demo.duckdb
	$(BIN)/dpaudit year-end --data sample_data --fy 2025 --reports $(REPORTS) --db $(REPORTS)/demo.duckdb
	@echo "Reports are in $(REPORTS)/2026-01 .. $(REPORTS)/2026-03 (letters in $(REPORTS)/2026-02/letters) and $(REPORTS)/FY2025"

# pytest exit 5 ("no tests collected") is reported, not treated as a crash; failures fail.
test: $(STAMP)
	@$(BIN)/pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/dpaudit bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
