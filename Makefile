# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench precompile clean images

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# numba's cache is checked per file: a kernel inlined into the plant step can change (a pull)
# without the step's own file, and the stale step would load. Any change to a numba source
# clears the cache and compiles everything again, once.
NUMBA_SOURCES := $(wildcard runtime/sim/*.py) runtime/history/compress.py runtime/live/observer.py
PRECOMPILED := $(VENV)/.precompiled

$(PRECOMPILED): $(STAMP) $(NUMBA_SOURCES)
	@echo "compiling the plant model into numba's cache (once; 1-2 minutes on a busy machine)"
	find runtime -name '*.nbi' -delete -o -name '*.nbc' -delete
	$(BIN)/python -m runtime.sim.precompile
	touch $(PRECOMPILED)

# Options go through ARGS: make demo ARGS="--role operator"
demo: $(PRECOMPILED)
	$(BIN)/twinstage demo $(ARGS)

# By hand: clear numba's cache and compile again (make demo/test do it when a source changed)
precompile: $(STAMP)
	find runtime -name '*.nbi' -delete -o -name '*.nbc' -delete
	$(BIN)/python -m runtime.sim.precompile
	touch $(PRECOMPILED)

test: $(PRECOMPILED)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=15

bench: $(PRECOMPILED)
	$(BIN)/twinstage bench

images: $(STAMP)
	$(BIN)/python -m tools.docs_images

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
