# zeekflow: two commands on a fresh machine with Python 3.11+ and make.
#   make demo   set up, generate a capture, convert it on an embedded LocalCluster
#   make test   set up and run the test suite
#   make bench  measure zeekflow against DuckDB, chDB, Polars and plain Python (BENCH_LINES, BENCH_ARGS, SAMPLES)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEMO_LINES ?= 3000000
DEMO_DIR ?= data
PYTEST_ARGS ?=
PYTHON_PATH_TESTS ?= tests/test_render.py tests/test_fastpath.py tests/test_type_rules.py tests/test_tsv.py tests/test_samples.py
BENCH_LINES ?= 5000000
BENCH_ARGS ?=
# Real Zeek logs (DESIGN.md): their JSON conn logs, repeated to BENCH_LINES, are one of the bench inputs.
SAMPLES ?= ../shared/samples
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: help install demo test test-python-path test-sanitize notebook bench clean

help:
	@echo "make demo    generate a $(DEMO_LINES)-line conn.log and convert it (DEMO_LINES=... to change)"
	@echo "make test    run the test suite"
	@echo "make notebook  open the notebooks in JupyterLab, in the project's environment"
	@echo "make bench   zeekflow vs DuckDB, chDB, Polars and plain Python: $(BENCH_LINES)-line generated NDJSON, real samples repeated, the TSV twin"
	@echo "make clean   remove the virtual environment and generated data"

# The demo needs only the runtime dependencies; the tests add their own extra on top.
# The native kernel is built by pip install (setup.py): a change to its source reinstalls.
$(STAMP): pyproject.toml setup.py workflows/_kernel.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

install: $(STAMP)

$(DEMO_DIR)/demo-conn-$(DEMO_LINES).ndjson: | $(STAMP)
	mkdir -p $(DEMO_DIR)
	$(BIN)/zeekflow generate -n $(DEMO_LINES) --seed 1 --bad-rate 0.0001 -o $@

demo: $(DEMO_DIR)/demo-conn-$(DEMO_LINES).ndjson
	$(BIN)/zeekflow convert $< -o $(DEMO_DIR)/demo-conn.csv --summary-json $(DEMO_DIR)/demo-summary.json
	@echo "CSV: $(DEMO_DIR)/demo-conn.csv   rejects: $(DEMO_DIR)/demo-conn.csv.rejects.ndjson   summary: $(DEMO_DIR)/demo-summary.json"

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-python-path test-sanitize

# The conversion tests again with the kernel switched off: the Python path (the install without a compiler).
test-python-path: $(TEST_STAMP)
	ZEEKFLOW_KERNEL=python $(BIN)/python -m pytest -q $(PYTHON_PATH_TESTS)

# The kernel's tests against a build with AddressSanitizer and UndefinedBehaviorSanitizer: any read outside a
# block, leak of control or undefined behaviour aborts the run.
SANITIZE_DIR := build/sanitize
SANITIZE_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
test-sanitize: $(TEST_STAMP)
	mkdir -p $(SANITIZE_DIR)
	$(CC) $(SANITIZE_FLAGS) -shared -fPIC -std=c11 $$($(BIN)/python -c "import sysconfig; print('-I' + sysconfig.get_paths()['include'])") \
		workflows/_kernel.c -o $(SANITIZE_DIR)/_kernel.so -lm
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ZEEKFLOW_KERNEL_LIB=$(SANITIZE_DIR)/_kernel.so $(BIN)/python -m pytest -q tests/test_kernel.py

$(VENV)/.notebook-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[notebook]'
	touch $@

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
notebook: $(VENV)/.notebook-installed
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root) $(NOTEBOOK_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/zeekflow bench --lines $(BENCH_LINES) --samples $(SAMPLES) --data-dir $(DEMO_DIR)/bench \
		--json $(DEMO_DIR)/bench/report.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) build .pytest_cache .hypothesis
