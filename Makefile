# catdog: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The shared sample of real photos (never written to: tests copy it to a temp dir before training).
export CATDOG_SAMPLE ?= $(abspath ../shared/data/dogscats)
# matplotlib must never open a window in scripts, tests or CI.
export MPLBACKEND ?= Agg

.PHONY: install export check-export check-nbs readme check-readme nbtest pytest test demo bench docs browser clean

$(STAMP): setup.py settings.ini constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt torch torchvision
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

export: install
	$(VENV)/bin/nbdev_export

# The package must be exactly what the notebooks export.
check-export: install
	$(PY) tools/check_export.py

# Notebook cells nbdev's doc processing can run (imports alone in their cells; one show_doc per cell).
check-nbs: install
	$(PY) tools/check_nbs.py

readme: install
	$(PY) tools/make_readme.py

check-readme: install
	$(PY) tools/make_readme.py --check

# CATDOG_FAST=1 (the default here) runs the course notebooks at their reduced, stated setting; CATDOG_FAST=0 at full length.
nbtest: install
	CATDOG_FAST=$${CATDOG_FAST:-1} $(VENV)/bin/nbdev_test --n_workers 1 --timing

pytest: install
	$(PY) -m pytest -q tests/

test: check-export check-nbs check-readme nbtest browser pytest

demo: install
	$(PY) tools/demo.py --out demo_out

bench: install
	$(PY) tools/bench.py

# The documentation site, offline: nbdev's processing of nbs/ rendered by Sphinx + MyST-NB (no Quarto) into
# docs/_build/html. tests/test_docs_site.py checks it in headless Chromium (tools/install_chromium.sh).
docs: install
	$(PY) tools/build_docs.py

# Headless Chromium for the docs site's browser test (Debian's package; skipped with a message where apt is not available).
browser:
	bash tools/install_chromium.sh

clean:
	rm -rf $(VENV) _docs _proc docs/_build build dist *.egg-info
