#!/usr/bin/env bash
# Train a set of small CPU runs (MiniLM, rotten_tomatoes, 256 examples) covering every training option
# and print the sha256 of each run's dynamics.parquet, and of the plain run's metrics.parquet and
# selections (JSON and Parquet). Run it on two commits and diff the output to
# check that a change left the recorded dynamics byte-identical:
#   bash scripts/dynamics_fingerprint.sh /tmp/fp-before > before.txt   (on the old commit)
#   bash scripts/dynamics_fingerprint.sh /tmp/fp-after  > after.txt    (on the new commit)
#   diff before.txt after.txt
set -euo pipefail
OUT=${1:-runs/fingerprint}
export DATAMAP_DATA_DIR=${DATAMAP_DATA_DIR:-../shared/data} TOKENIZERS_PARALLELISM=false
COMMON="--dataset rotten_tomatoes --model minilm --epochs 2 --batch-size 16 --max-length 32 --lr 5e-5
        --limit 256 --limit-mode random --eval-split none --no-save-model --overwrite --seed 3"
dm() { python3 -m datamap "$@" >/dev/null 2>&1 || { echo "failed: datamap $*" >&2; exit 1; }; }
dm train $COMMON --out "$OUT/plain"
dm metrics "$OUT/plain"
dm select "$OUT/plain" --out amb --ambiguous 0.5
dm select "$OUT/plain" --out mix --easy 0.2 --hard 0.1 --random 0.2 --stratify --seed 4
dm select "$OUT/plain" --out top_aum --by aum --bottom 0.29
dm train $COMMON --out "$OUT/epoch_end" --record epoch_end
dm train $COMMON --out "$OUT/focal" --loss focal:2,0.25
dm train $COMMON --out "$OUT/freeze" --freeze-base
dm train $COMMON --out "$OUT/subset" --subset "$OUT/plain/selections/amb.json"
dm train $COMMON --out "$OUT/drop_hard" --drop-hard --dynamics-from "$OUT/plain"
dm train $COMMON --out "$OUT/mix_emb" --mixup embeddings
dm train $COMMON --out "$OUT/mix_pooled_random" --mixup pooled --mixup-pairing random --mixup-lambda beta-folded:1
dm train $COMMON --out "$OUT/mix_hidden_only" --mixup hidden --mixup-mode mixed-only --mixup-lambda-per batch
dm train $COMMON --out "$OUT/mix_td" --mixup pooled --mixup-pairing td-entropy --dynamics-from "$OUT/plain" --mixup-ratio 0.5
dm train $COMMON --out "$OUT/mix_ea" --mixup embeddings --mixup-pairing easy-ambiguous --dynamics-from "$OUT/plain" --drop-hard --mixup-start-epoch 1
for run in plain epoch_end focal freeze subset drop_hard mix_emb mix_pooled_random mix_hidden_only mix_td mix_ea; do
  echo "$run $(sha256sum < "$OUT/$run/dynamics.parquet" | cut -c1-16)"
done
for f in metrics.parquet selections/amb.json selections/amb.parquet selections/mix.json selections/top_aum.json; do
  echo "plain/$f $(sha256sum < "$OUT/plain/$f" | cut -c1-16)"
done
