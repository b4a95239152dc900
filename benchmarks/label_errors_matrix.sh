#!/usr/bin/env bash
# The label-error benchmark matrix of docs/results.md: 4 datasets x {10 % uniform, 30 % uniform, 20 % pairs},
# one OUT directory per seed and cell (seeds outermost, so a cut-off run still has whole seeds).
#   DATAMAP_DATA_DIR=../shared/data SEEDS="1 2" N=1000 EPOCHS=3 bash benchmarks/label_errors_matrix.sh runs/bench-errors-matrix
#   python benchmarks/summarise_label_errors.py runs/bench-errors-matrix/seed*/*/
# A cell already finished (its results.json exists) is skipped, so the script can be rerun after a stop.
# EXTRA passes more options to bench_label_errors.py, e.g. EXTRA="--no-threshold --no-retrain" FOLDS=0 for
# the single-run methods alone (one training per cell).
set -euo pipefail
OUT=${1:?usage: label_errors_matrix.sh OUT}
SEEDS=${SEEDS:-1}
N=${N:-1000}
EPOCHS=${EPOCHS:-3}
FOLDS=${FOLDS:-5}
# dataset:train split:evaluation split (AG News has its test split only: the benchmark holds out rows of it)
DATASETS=${DATASETS:-"sst2:train:validation rotten_tomatoes:train:validation trec:train:test ag_news:test:test"}
NOISES=${NOISES:-"uniform:0.1 uniform:0.3 pairs:0.2"}
EXTRA=${EXTRA:-}
for seed in $SEEDS; do
  mkdir -p "$OUT/seed$seed"
  for d in $DATASETS; do
    IFS=: read -r name split evsplit <<<"$d"
    for noise in $NOISES; do
      IFS=: read -r kind rate <<<"$noise"
      dir="$OUT/seed$seed/$name-$kind-$rate"
      if [[ -f "$dir/results.json" ]]; then echo "done: $dir"; continue; fi
      echo "== $dir ($(date +%H:%M:%S))"
      python "$(dirname "$0")/bench_label_errors.py" --dataset "$name" --split "$split" --eval-split "$evsplit" \
        --n "$N" --kind "$kind" --rate "$rate" --seeds "$seed" --epochs "$EPOCHS" --folds "$FOLDS" \
        --max-length 64 --batch-size 32 $EXTRA --out "$dir" > "$dir.log" 2>&1 || { echo "FAILED: $dir (see $dir.log)"; exit 1; }
      tail -12 "$dir.log"
    done
  done
done
