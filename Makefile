# The README's two commands: `make demo` and `make test`. Both create .venv on first use and reuse it after.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.benet-installed
# torch is pinned here, not in pyproject: these builds install from this machine's disk without a download.
TORCH   := torch==2.14.1 torchvision==0.29.1
EXTRAS  := experiments,export,video,dev
DEMO    ?= data/synth

.PHONY: venv demo test nbtest pytest bench export clean-nbs check-clean check-docs readme docs docs-outputs

venv: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]" $(TORCH)
	@touch $(STAMP)
# no `ipykernel install`: the experiment notebooks run in this venv's interpreter (benet.experiments starts it
# itself), so nothing is written to the user's Jupyter kernels

# --jobs 3 on 2 cores: the five configurations run 3 + 2, both cores busy to the end (with 2, the fifth ran alone on one
# core for ~4 minutes; benchmarks/demo_frontier.md)
demo: venv
	$(BIN)/benet demo --out $(DEMO) --jobs 3

# notebooks' asserting cells (one pytest test per notebook, run with nbdev's own test_nb) + tests/, on two workers
# (pytest-xdist; tests/conftest.py's scheduler keeps the tests sharing a fixture on one worker). `make test XDIST=` runs serially.
XDIST   ?= -n 2
test: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider $(XDIST) $(PYTEST_ARGS)

nbtest: venv
	$(BIN)/nbdev-test --n-workers 2

bench: venv
	$(BIN)/python benchmarks/bench.py

export: venv
	$(BIN)/nbdev-export

# nbs/ (the source) and the papermill notebooks shipped in the package
clean-nbs: venv
	$(BIN)/nbdev-clean && $(BIN)/nbdev-clean --fname benet/notebooks

# fails if cleaning or exporting the notebooks would change a tracked file
check-clean: venv
	$(MAKE) -s clean-nbs && $(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain)" ]; then git status --short; \
	  echo "nbdev-clean/nbdev-export changed files: run 'make clean-nbs export' and commit"; exit 1; fi

# nbdev's docs processing (what `nbdev-docs` runs before Quarto) on every notebook of nbs/; fails naming the notebook.
# Quarto itself is not needed here (nor installable on machines without a download): see tools/check_docs.py
check-docs: venv
	$(BIN)/python tools/check_docs.py

# README.md from nbs/index.ipynb: `nbdev-readme` where Quarto is installed, tools/readme.py (the same processors) elsewhere
readme: venv
	$(BIN)/python tools/readme.py

# the website into _docs/: needs Quarto (https://quarto.org), which cannot be installed without internet access
docs: venv
	@command -v quarto >/dev/null || { echo "make docs: Quarto is not installed (https://quarto.org); 'make check-docs' runs the notebook processing without it"; exit 1; }
	$(BIN)/nbdev-docs

# execute notebooks in place keeping their outputs (figures, tables), then nbdev-clean; NBS="03_codec 12_viz" for some
docs-outputs: venv
	$(BIN)/python tools/docs_outputs.py $(NBS)
