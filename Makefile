# The two commands a fresh clone needs: `make corpus` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CONFIG ?=
OUT ?=
EXECUTOR ?=
CRAWL_ROOT ?=
CRAWL ?=
SHARDS ?=
RAY_ADDRESS ?=
TRAIN_CONFIG ?= configs/train-tiny.toml
TRAIN_ARGS ?=

CORPUS_ARGS := $(CONFIG) \
	$(if $(OUT),--out $(OUT)) \
	$(if $(EXECUTOR),--executor $(EXECUTOR)) \
	$(if $(CRAWL_ROOT),--crawl-root $(CRAWL_ROOT)) \
	$(if $(CRAWL),--crawl $(CRAWL)) \
	$(if $(SHARDS),--shards $(SHARDS)) \
	$(if $(RAY_ADDRESS),--ray-address $(RAY_ADDRESS))

.PHONY: setup corpus train test lint bench sample clean

# tests/test_report.py opens the run report in Debian's headless chromium: installed here when
# missing (as root, else through sudo); without apt-get, say so and go on.
setup: $(STAMP)
	@command -v chromium >/dev/null || { \
	  if ! command -v apt-get >/dev/null; then \
	    echo "chromium not found and no apt-get here: tests/test_report.py needs Debian's chromium (/usr/bin/chromium)" >&2; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  fi; }

# Reinstalls only when the dependency pins change; the project itself is installed editable.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,train]'
	touch $(STAMP)

corpus: setup
	$(BIN)/heed corpus $(CORPUS_ARGS)

# The tiny model on the sample corpus, on the CPU (the corpus is built first if it is missing).
# `python -m heed.training.cli` works whether or not the `heed train` entry point is installed.
# TRAIN_ARGS=--resume continues a stopped run.
train: setup
	test -f out/sample/manifest.json || $(BIN)/heed corpus
	$(BIN)/python -m heed.training.cli train $(TRAIN_CONFIG) $(TRAIN_ARGS)

test: setup
	$(BIN)/python -m pytest -q

# Benchmarks: figures with machine, date and commit in benchmarks/RESULTS.md.
bench: setup
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/run.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Regenerates the embedded sample crawl (byte-identical for the same seed and Faker version).
sample: setup
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[sample]'
	$(BIN)/python sample/make_sample_crawl.py --out sample

clean:
	rm -rf out $(VENV)
