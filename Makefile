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
	@echo "compiling the plant model into numba's cache (once; 1-2 minutes on a busy machine)"
	$(BIN)/python -m runtime.sim.precompile
	touch $(STAMP)

# Options go through ARGS: make demo ARGS="--role operator"
demo: $(STAMP)
	$(BIN)/twinstage demo $(ARGS)

# Again after editing a kernel (numba's cache misses edits to inlined helpers in other files)
precompile: $(STAMP)
	find runtime -name '*.nbi' -delete -o -name '*.nbc' -delete
	$(BIN)/python -m runtime.sim.precompile

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/twinstage bench

images: $(STAMP)
	$(BIN)/python -m tools.docs_images

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
