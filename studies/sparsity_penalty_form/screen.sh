#!/bin/bash
# The paired screen of the rho_hat forms (logs screen_<dataset>.log beside this file).
# Seed-major, so every finished seed completes the pairs. Run from the repository root with
# the data in $DSSEC_DATA_DIR; it ran on a snapshot of commit 66be627.
set -euo pipefail
GRID='[{"method": "idec"}, {"method": "dssec", "sparsity_form": "clip"}, {"method": "dssec", "sparsity_form": "ratio"}, {"method": "dssec", "sparsity_form": "exp"}]'
BASE='{"pretrain_epochs": 50, "update_interval": 30, "max_iter": 5000}'
OUT=$(dirname "$0")
CACHE=${CACHE:-$HOME/.cache/dssec_jax/ae_cache}
for seed in 0 1 2 3 4; do
  for ds in coil20 usps mnist fashion_mnist; do
    sub=""; name=$ds
    if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then sub="--subset=10000"; name=${ds}_10k; fi
    python -m studies.screen --dataset=$ds $sub --seed_list=$seed --cache_dir="$CACHE" \
      --base="$BASE" --grid="$GRID" >> $OUT/screen_$name.log
  done
done
# digits (3 seeds, the estimator test's budget)
python -m studies.screen --dataset=digits --seed_list=0,1,2 --cache_dir="$CACHE" \
  --base='{"pretrain_epochs": 50, "update_interval": 30, "max_iter": 2000}' \
  --grid='[{"method": "idec"}, {"method": "dssec", "sparsity_form": "clip"}, {"method": "dssec", "sparsity_form": "ratio"}, {"method": "dssec", "sparsity_form": "exp"}, {"method": "idec", "embed_std": "kernel"}, {"method": "dssec", "sparsity_form": "clip", "embed_std": "kernel"}, {"method": "dssec", "sparsity_form": "ratio", "embed_std": "kernel"}, {"method": "dssec", "sparsity_form": "exp", "embed_std": "kernel"}]' \
  > $OUT/screen_digits.log
