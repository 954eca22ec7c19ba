# The two commands a newcomer needs: `make demo` and `make test`. Both build the virtualenv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test ui run top install clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## the whole job on the local defaults, from an empty data folder
	$(BIN)/adcombo demo

test: $(STAMP)  ## the test suite
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

ui: $(STAMP)  ## the Dagster UI on this code location, http://127.0.0.1:3000
	$(BIN)/adcombo ui

run: $(STAMP)
	$(BIN)/adcombo run

top: $(STAMP)
	$(BIN)/adcombo top

clean:
	rm -rf $(VENV) .adcombo
