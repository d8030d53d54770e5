# pose3d — two commands do everything on a fresh machine:
#   make run    install, then run the whole workflow on the embedded default (config/config.yaml)
#   make test   install, then run the test suite
#   make report the Snakemake HTML report of the last run -> results/report.html
# The first call builds .venv (~3 min, ~6.5 GB: torch is a CUDA build); later calls reuse it.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pose3d-installed
PLUGIN := plugins/snakemake-storage-plugin-rclone
CORES ?= all
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=

# Offline by design: nothing may wait on a model hub.
export YOLO_OFFLINE := 1
export HF_HUB_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: all install system-packages run report test bench lint clean

all: run

system-packages:
	@bash tools/install-system-packages.sh

$(STAMP): pyproject.toml $(wildcard $(PLUGIN)/pyproject.toml)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e ".[test]" $(if $(wildcard $(PLUGIN)/pyproject.toml),-e $(PLUGIN),)
	@touch $(STAMP)
	@echo "pose3d installed in $(VENV) ($$(du -sh $(VENV) | cut -f1))"

install: system-packages $(STAMP)

run: install
	$(VENV)/bin/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)  # profiles/default is loaded as the workflow profile
	@$(PY) -m pose3d.run_summary results

# The Snakemake HTML report of the last run (metrics, per-joint plots, worst/median sheets, training curves,
# the synthetic preview, the inference contact sheet), one self-contained file.
report: install
	$(VENV)/bin/snakemake --cores 1 --report results/report.html $(SNAKEMAKE_ARGS)
	@echo "report: results/report.html"

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	@for bench in benchmarks/bench_*.py; do echo "== $$bench"; $(PY) $$bench --quick; done
	@echo "benchmark results in benchmarks/results/"

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf results .snakemake benchmarks/results .pytest_cache .ruff_cache
	@echo "kept resources/ (generated data) and $(VENV); remove them by hand for a full reset"
