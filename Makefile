# The two quick-start commands: `make book` builds the book, `make test` runs every test.
# Both create .venv and install requirements.txt first when needed.
# Supported Pythons: 3.11 to 3.13 (numpy 2.4 needs 3.11; 3.12 and 3.13 resolve every pin).
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUPPORTED := 3.11 to 3.13
# Exit 0 for a supported Python; used on $(PYTHON) before .venv exists, and on .venv's own Python.
PYCHECK := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYVERSION := import platform; print(platform.python_version())
# `make book TORCH=cpu`: take the CPU-only build of PyTorch from PyTorch's own index
# instead of PyPI's Linux build, which bundles CUDA (several GB).
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
# pip would compile every installed module to bytecode (two thirds of the install's time here, mostly
# modules the course never imports); Python compiles the ones it imports on first use instead.
NO_COMPILE := --no-compile
# ... and Python caches that bytecode (in __pycache__) on first import, unless PYTHONDONTWRITEBYTECODE
# is set, as some containers and CI images do: then every process compiles again what it imports,
# about 2 s of CPU for each notebook kernel that imports PyTorch. The targets here let it cache.
unexport PYTHONDONTWRITEBYTECODE
# Jupyter refuses to run as root without --allow-root, and opens no browser without a display.
NOTEBOOK_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root) \
	$(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)

.PHONY: help install book test test-portable test-emulated test-mutants grade grade-class autograder notebook exercises execute mutants clean distclean

help:
	@echo "make book       build the book into _build/html (from the notebooks' stored outputs)"
	@echo "make test       run the whole test suite (checks, notebooks, exercises, grading, book)"
	@echo "make test-portable  the notebooks and unit tests under other CPU instruction sets and thread counts"
	@echo "make grade      your progress report over exercises/"
	@echo "make grade-class SUBMISSIONS=folder   instructors: grade a class, write grades/"
	@echo "make autograder instructors: the Gradescope autograder zip (_build/autograder/)"
	@echo "make notebook   open Jupyter in this folder, to run the lessons and do the exercises"
	@echo "make exercises  regenerate exercises/ from solutions/ (course authors)"
	@echo "make execute    re-run chapters/ and solutions/ in place, storing outputs and executed-on.json"
	@echo "make mutants    mutation-test the solutions against their checks, kill rate per exercise (CHAPTERS=\"1 2\")"
	@echo "make clean      remove the built book (_build)"
	@echo "make distclean  also remove the environment (.venv), e.g. to rebuild it with another Python"

$(STAMP): requirements.txt pyproject.toml
	@if test -x $(BIN)/python; then \
	  $(BIN)/python -c '$(PYCHECK)' || { echo "error: .venv was made with Python $$($(BIN)/python -c '$(PYVERSION)'); the course needs Python $(SUPPORTED). Remove it with 'make distclean', then run make again (choose a Python with PYTHON=/path/to/python3.11)."; exit 1; }; \
	else \
	  command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: no Python found ($(PYTHON)); the course needs Python $(SUPPORTED): install one, or name it with PYTHON=/path/to/python3.11"; exit 1; }; \
	  $(PYTHON) -c '$(PYCHECK)' || { echo "error: $(PYTHON) is Python $$($(PYTHON) -c '$(PYVERSION)'); the course needs Python $(SUPPORTED). Name another with PYTHON=/path/to/python3.11"; exit 1; }; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(filter cpu,$(TORCH)),$(BIN)/python -m pip install --quiet $(NO_COMPILE) torch==2.13.0 --index-url $(TORCH_CPU_INDEX))
	$(BIN)/python -m pip install --quiet $(NO_COMPILE) -r requirements.txt
	@touch $@

install: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest

# Measured outputs must carry claims that hold on every CPU: nbval over the lessons and solutions,
# and the unit tests (the checks, whose references some exercises compute by training), with
# PyTorch's kernels chosen for other instruction sets (avx2; default = no vector instructions)
# and with 1 and 4 threads. test-emulated is the one of them CI runs on every change.
PORTABLE_RUNS := "ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2" \
	"ATEN_CPU_CAPABILITY=default" "RELUCOURSE_THREADS=1" "RELUCOURSE_THREADS=4"
PORTABLE_TESTS := $(BIN)/python -m pytest -q chapters solutions tests/unit

test-portable: $(STAMP)
	@for run in $(PORTABLE_RUNS); do \
	  echo "== notebooks with $$run"; \
	  env $$run $(PORTABLE_TESTS) || exit 1; \
	done

test-emulated: $(STAMP)
	env ATEN_CPU_CAPABILITY=default $(PORTABLE_TESTS)

# The mutation sample (tests/unit/test_mutants.py, marked ci_stage): one equivalent and one killed
# mutant per chapter re-run against the committed list; CI runs it after `make test`.
test-mutants: $(STAMP)
	$(BIN)/python -m pytest -q -n 0 -m ci_stage tests/unit/test_mutants.py

# Course authors: mutate every reference solution and run its check on each mutant; a survivor must be
# killed by a stronger check or listed as equivalent, with the reason, in tests/mutants.json.
mutants: $(STAMP)
	nice -n 10 $(BIN)/python -m relucourse.tooling.mutants --survivors $(if $(CHAPTERS),--chapters $(CHAPTERS))

grade: $(STAMP)
	$(BIN)/python -m relucourse.tooling.grading exercises

# Instructors: `make grade-class SUBMISSIONS=folder` grades every learner's notebooks into grades/.
grade-class: $(STAMP)
	$(BIN)/python -m relucourse.tooling.classgrade $(SUBMISSIONS) --out $(or $(OUT),grades)

# Instructors: the Gradescope autograder, _build/autograder/relu-course-autograder.zip.
# `make autograder NOTEBOOKS="01_activation_basics.ipynb"` grades only the notebooks named.
autograder: $(STAMP)
	$(BIN)/python -m relucourse.tooling.autograder build --torch-index $(TORCH_CPU_INDEX) \
	  $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS))

notebook: $(STAMP)
	@echo "Starting Jupyter: open the http://127.0.0.1:... address it prints below in a browser (Ctrl-C stops it)."
	$(BIN)/jupyter notebook $(NOTEBOOK_FLAGS)

exercises: $(STAMP)
	$(BIN)/python -m relucourse.tooling.release $(if $(FORCE),--force)

execute: $(STAMP)
	$(BIN)/python -m relucourse.tooling.execute chapters/[0-9]*.ipynb solutions/[0-9]*.ipynb

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) relucourse.egg-info
