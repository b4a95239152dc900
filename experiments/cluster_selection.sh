#!/usr/bin/env bash
# Cluster-selected vs random vs ambiguous training subsets on NLI, at CPU scale.
#
# Training data: LIMIT random examples of SNLI validation (limit seed 0: the same examples for every
# seed), MiniLM, EPOCHS epochs. For each seed:
#   1. full:  train on all LIMIT examples (records dynamics) -> metrics
#   2. embed the same examples with EMBED_MODEL (default: the pretrained MiniLM, mean pooling)
#      -> cluster (mini-batch k-means, K clusters, unit-length vectors, seeded)
#   3. for each PCT in PCTS: select PCT % by cluster (CLUSTER_MODE, default round-robin: one example
#      from each cluster in turn), at random, and the most ambiguous (highest variability); retrain on each
#   4. every run is evaluated once on SNLI test and HANS validation (RUN/eval/snli_test.json,
#      RUN/eval/hans_validation.json), then its model folder is removed (KEEP_MODELS=1 keeps it)
# then prints mean ± std over seeds (experiments/summarize.py).
#
# Usage: bash experiments/cluster_selection.sh [OUT_DIR]
# Settings (environment): SEEDS="42 43 44" LIMIT=3000 EPOCHS=3 PCTS="10 33" K=30 CLUSTER_MODE=round-robin
#   EMBED_MODEL=minilm (or "run": the full run's fine-tuned model) EVAL_LIMIT= (empty: whole evaluation sets;
#   N: a seeded random N rows of each, for quick checks) KEEP_MODELS=
# Full run: 7 trainings and 14 evaluations (40,000 examples each pair) per seed; evaluation dominates;
# expect one to two hours on a quiet 2-core CPU.
# A tiny check that every step runs (about 3 minutes on 2 cores, see docs/benchmarks.md):
#   SEEDS=42 LIMIT=200 EPOCHS=1 K=5 EVAL_LIMIT=200 bash experiments/cluster_selection.sh /tmp/cs-tiny
set -euo pipefail
OUT=${1:-runs/cluster-selection}
SEEDS=${SEEDS:-"42 43 44"}
LIMIT=${LIMIT:-3000}
EPOCHS=${EPOCHS:-3}
PCTS=${PCTS:-"10 33"}
K=${K:-30}
CLUSTER_MODE=${CLUSTER_MODE:-round-robin}
EMBED_MODEL=${EMBED_MODEL:-minilm}
EVAL_LIMIT=${EVAL_LIMIT:-}
export DATAMAP_DATA_DIR=${DATAMAP_DATA_DIR:-../shared/data}
export TOKENIZERS_PARALLELISM=false
REPO=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's datamap, installed or not
COMMON=(--dataset snli --split validation --eval-split none --model minilm --epochs "$EPOCHS"
        --batch-size 32 --max-length 128 --lr 5e-5)
dm() { python3 -m datamap "$@"; }
mkdir -p "$OUT"

# evaluation sets: the whole SNLI test and HANS validation, or EVAL_LIMIT random rows of each
if [ -n "$EVAL_LIMIT" ]; then
  mkdir -p "$OUT/evalsets"
  python3 - "$OUT" "$EVAL_LIMIT" <<'PY'
import sys
import pandas as pd
from datamap.io.data import locate
out, n = sys.argv[1], int(sys.argv[2])
for name, split in (("snli", "test"), ("hans", "validation")):
    df = pd.read_parquet(locate(name, split))
    df.sample(n=min(n, len(df)), random_state=0).to_parquet(f"{out}/evalsets/{name}_{split}.parquet", index=False)
PY
  EVAL_SNLI=(--dataset "$OUT/evalsets/snli_test.parquet")
  EVAL_HANS=(--dataset "$OUT/evalsets/hans_validation.parquet")
else
  EVAL_SNLI=(--dataset snli --split test)
  EVAL_HANS=(--dataset hans --split validation)
fi
evaluate() {  # RUN
  dm evaluate "$1" "${EVAL_SNLI[@]}" --name snli_test
  dm evaluate "$1" "${EVAL_HANS[@]}" --name hans_validation
  [ -n "${KEEP_MODELS:-}" ] || rm -rf "$1/model"
}

for SEED in $SEEDS; do
  S="$OUT/seed$SEED"
  dm train "${COMMON[@]}" --limit "$LIMIT" --limit-mode random --limit-seed 0 --seed "$SEED" --out "$S/full"
  dm metrics "$S/full"
  if [ "$EMBED_MODEL" = run ]; then
    dm embed "$S/full" --pooling mean
  else
    dm embed "$S/full" --model "$EMBED_MODEL" --pooling mean
  fi
  evaluate "$S/full"
  dm cluster "$S/full/embeddings.parquet" --k "$K" --normalize --seed "$SEED"
  for PCT in $PCTS; do
    F=$(awk "BEGIN { print $PCT / 100 }")
    dm select "$S/full" --out "cluster$PCT" --clusters "$S/full/clusters.parquet" --cluster-mode "$CLUSTER_MODE" \
      --cluster-budget "$F" --cluster-order random --seed "$SEED"
    dm select "$S/full" --out "random$PCT" --random "$F" --seed "$SEED"
    dm select "$S/full" --out "ambiguous$PCT" --ambiguous "$F"
    for KIND in cluster random ambiguous; do
      dm train "${COMMON[@]}" --seed "$SEED" --subset "$S/full/selections/$KIND$PCT.json" --out "$S/$KIND$PCT"
      evaluate "$S/$KIND$PCT"
    done
  done
done

python3 "$REPO/experiments/summarize.py" "$OUT"/seed* \
  --col snli_test:accuracy:"snli acc" --col snli_test:f1_macro:"snli F1" --col snli_test:ece:"snli ECE" \
  --col hans_validation:accuracy:"hans acc" \
  --col hans_validation:heuristics.lexical_overlap.non-entailment.accuracy:"hans lex non-ent" \
  --col hans_validation:heuristics.subsequence.non-entailment.accuracy:"hans sub non-ent" \
  --col hans_validation:heuristics.constituent.non-entailment.accuracy:"hans con non-ent" \
  | tee "$OUT/summary.md"
