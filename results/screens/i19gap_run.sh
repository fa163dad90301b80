#!/bin/bash
# Issue 19: the gap statistic on the same pretrained DSSEC embeddings as i19_run.sh (50
# pretraining epochs, the issue-14 screens' autoencoders), seeds 0-2; logs i19gap_<dataset>.log.
# Run on digits only: it chose k 12, 19 and 14 there (true 10) at 200-320 s per seed, and
# the other datasets were not run (set DATASETS to run them).
set -euo pipefail
OUT=${OUT:-results/screens}
CACHE=${CACHE:-$HOME/.cache/dssec_jax/ae_cache}
BASE='{"pretrain_epochs": 50, "update_interval": 30, "max_iter": 5000}'
for ds in ${DATASETS:-digits}; do
  sub=""; name=$ds
  if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then sub="--subset=10000"; name=${ds}_10k; fi
  python -m experiments.k_selection --dataset=$ds $sub --seed_list=0,1,2 --cache_dir="$CACHE" \
    --base="$BASE" --criteria=gap >> $OUT/i19gap_$name.log
done
