# The two commands a fresh clone needs: `make corpus` and `make test`. Each sets itself up first,
# installing only what it needs into .venv (heed editable, the exact versions of constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt
# One stamp per set of extras; each is redone only when the pins change.
CORE := $(VENV)/.installed-core
TRAIN := $(VENV)/.installed-train
TEST := $(VENV)/.installed-test
BENCH := $(VENV)/.installed-bench

CONFIG ?=
OUT ?=
EXECUTOR ?=
CRAWL_ROOT ?=
CRAWL ?=
SHARDS ?=
RAY_ADDRESS ?=
NUM_CPUS ?=
TRAIN_CONFIG ?= configs/train-tiny.toml
TRAIN_ARGS ?=

CORPUS_ARGS := $(CONFIG) \
	$(if $(OUT),--out $(OUT)) \
	$(if $(EXECUTOR),--executor $(EXECUTOR)) \
	$(if $(CRAWL_ROOT),--crawl-root $(CRAWL_ROOT)) \
	$(if $(CRAWL),--crawl $(CRAWL)) \
	$(if $(SHARDS),--shards $(SHARDS)) \
	$(if $(RAY_ADDRESS),--ray-address $(RAY_ADDRESS)) \
	$(if $(NUM_CPUS),--num-cpus $(NUM_CPUS))

.PHONY: setup corpus train test lint bench sample clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Curation: heed and its dependencies, nothing else (no torch, no test tools, no system packages).
$(CORE): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

# The trainer: torch (the CPU build pinned in constraints.txt) and triton.
$(TRAIN): $(CORE)
	$(PIP) -e '.[train]'
	touch $@

# The tests: the trainer's packages, pytest and ruff, the tools the tests use as oracles, and
# Debian's headless chromium, which tests/test_report.py opens the run report in (installed
# when missing: as root, else through sudo; without apt-get, say so and go on).
$(TEST): $(TRAIN)
	$(PIP) -e '.[test,train]'
	@command -v chromium >/dev/null || { \
	  if ! command -v apt-get >/dev/null; then \
	    echo "chromium not found and no apt-get here: tests/test_report.py needs Debian's chromium (/usr/bin/chromium)" >&2; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  fi; }
	touch $@

$(BENCH): $(TEST)
	$(PIP) -e '.[test,train,bench]'
	touch $@

setup: $(CORE)

corpus: $(CORE)
	$(BIN)/heed corpus $(CORPUS_ARGS)

# The tiny model on the sample corpus, on the CPU (the corpus is built first if it is missing).
# TRAIN_ARGS=--resume continues a stopped run.
train: $(TRAIN)
	test -f out/sample/manifest.json || $(BIN)/heed corpus
	$(BIN)/heed train $(TRAIN_CONFIG) $(TRAIN_ARGS)

test: $(TEST)
	$(BIN)/python -m pytest -q --durations=15

# Benchmarks: figures with machine, date and commit in benchmarks/RESULTS.md.
bench: $(BENCH)
	$(BIN)/python benchmarks/run.py

lint: $(TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Regenerates the embedded sample crawl (byte-identical for the same seed and Faker version).
sample: $(CORE)
	$(PIP) -e '.[sample]'
	$(BIN)/python sample/make_sample_crawl.py --out sample

clean:
	rm -rf out $(VENV)
