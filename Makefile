# hashzoo: two commands for a fresh machine. Each creates or reuses .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.py | sha256sum | cut -c1-12)

.PHONY: demo test bench clean-venv

$(STAMP): setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

# Trains and evaluates on the bundled digits data; writes demo_out/.
demo: $(STAMP)
	$(BIN)/python tools/demo.py --out demo_out

# The test suite (about 11 minutes on 2 CPU cores, two pytest-xdist workers); slow tests need --run-slow.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

bench: $(STAMP)
	$(BIN)/python bench/eval_bench.py
	$(BIN)/python bench/search_bench.py

clean-venv:
	rm -rf $(VENV)
