#!/bin/bash
# The gap statistic on the same pretrained DSSEC embeddings as studies/choosing_k/criteria_50_epochs.sh (50
# pretraining epochs, the rho_hat-form screens' autoencoders), seeds 0-2; logs gap_statistic_<dataset>.log.
# Run on digits only: it chose k 12, 19 and 14 there (true 10) at 200-320 s per seed, and
# the other datasets were not run (set DATASETS to run them).
set -euo pipefail
OUT=${OUT:-$(dirname "$0")}
CACHE=${CACHE:-$HOME/.cache/dssec_jax/ae_cache}
BASE='{"pretrain_epochs": 50, "update_interval": 30, "max_iter": 5000}'
for ds in ${DATASETS:-digits}; do
  sub=""; name=$ds
  if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then sub="--subset=10000"; name=${ds}_10k; fi
  python -m studies.choosing_k.criteria --dataset=$ds $sub --seed_list=0,1,2 --cache_dir="$CACHE" \
    --base="$BASE" --criteria=gap >> $OUT/gap_statistic_$name.log
done
