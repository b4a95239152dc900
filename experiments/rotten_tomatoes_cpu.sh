#!/usr/bin/env bash
# The CPU-scale experiments behind docs/results.md and the README's worked example:
# MiniLM on 2,000 random rotten_tomatoes training examples (limit seed 0), 3 epochs, one seed.
#   1. baseline (records dynamics) -> metrics -> select 33% ambiguous / 33% random -> retrain -> compare
#   2. mixup: each site with reverse pairing, and td-entropy pairing (pooled) driven by the baseline's dynamics
# Usage: bash experiments/rotten_tomatoes_cpu.sh [OUT_DIR] [SEED]
set -euo pipefail
OUT=${1:-runs/rt-cpu}
SEED=${2:-42}
export DATAMAP_DATA_DIR=${DATAMAP_DATA_DIR:-../shared/data}
export TOKENIZERS_PARALLELISM=false
COMMON=(--dataset rotten_tomatoes --model minilm --epochs 3 --batch-size 32 --max-length 64 --lr 5e-5
        --seed "$SEED" --eval-dataset rotten_tomatoes:test --no-save-model)
SUB=(--limit 2000 --limit-mode random)
dm() { python3 -m datamap "$@"; }

dm train "${COMMON[@]}" "${SUB[@]}" --out "$OUT/baseline"
dm metrics "$OUT/baseline"
dm plot "$OUT/baseline"
dm select "$OUT/baseline" --out amb33 --ambiguous 0.33 --seed "$SEED"
dm select "$OUT/baseline" --out rand33 --random 0.33 --seed "$SEED"
dm train "${COMMON[@]}" --subset "$OUT/baseline/selections/amb33.json" --out "$OUT/amb33"
dm train "${COMMON[@]}" --subset "$OUT/baseline/selections/rand33.json" --out "$OUT/rand33"
for site in embeddings pooled hidden; do
  dm train "${COMMON[@]}" "${SUB[@]}" --mixup "$site" --mixup-pairing reverse --out "$OUT/mixup-$site"
done
dm train "${COMMON[@]}" "${SUB[@]}" --mixup pooled --mixup-pairing td-entropy --dynamics-from "$OUT/baseline" --out "$OUT/mixup-td-entropy"
dm compare "$OUT/baseline" "$OUT/amb33" "$OUT/rand33" --set validation --set rotten_tomatoes_test
dm compare "$OUT/baseline" "$OUT/mixup-embeddings" "$OUT/mixup-pooled" "$OUT/mixup-hidden" "$OUT/mixup-td-entropy" \
  --set validation --set rotten_tomatoes_test
# class-balanced variant: the ambiguous ranking applied within each gold class
dm select "$OUT/baseline" --out amb33s --ambiguous 0.33 --stratify --seed "$SEED"
dm train "${COMMON[@]}" --subset "$OUT/baseline/selections/amb33s.json" --out "$OUT/amb33s"
dm compare "$OUT/baseline" "$OUT/amb33" "$OUT/amb33s" "$OUT/rand33" --set validation --set rotten_tomatoes_test
