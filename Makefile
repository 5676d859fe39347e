# The two quick-start commands: `make book` builds the book, `make test` runs every test.
# Both create .venv and install requirements.txt first when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install book test grade notebook exercises execute clean

help:
	@echo "make book       build the book into _build/html (executes the lessons)"
	@echo "make test       run the whole test suite (checks, notebooks, exercises, grading, book)"
	@echo "make grade      your progress report over exercises/"
	@echo "make notebook   open Jupyter in this folder, to run the lessons and do the exercises"
	@echo "make exercises  regenerate exercises/ from solutions/ (course authors)"
	@echo "make execute    re-run chapters/ and solutions/ in place, storing outputs (course authors)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

install: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest

grade: $(STAMP)
	$(BIN)/python -m relucourse.tooling.grading exercises

notebook: $(STAMP)
	$(BIN)/jupyter notebook

exercises: $(STAMP)
	$(BIN)/python -m relucourse.tooling.release $(if $(FORCE),--force)

execute: $(STAMP)
	$(BIN)/python -m relucourse.tooling.execute chapters/[0-9]*.ipynb solutions/[0-9]*.ipynb

clean:
	rm -rf _build
