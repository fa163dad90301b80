#!/bin/bash
# The criteria for choosing k on the pretrained DSSEC embedding (50 pretraining
# epochs, the autoencoders of the rho_hat-form screens), seeds 0-2; logs criteria_50_epochs_<dataset>.log.
# Phase 2 (FIT=<criterion>) fits DSSEC at the chosen and at the true k (fits_50_epochs_<dataset>.log).
set -euo pipefail
OUT=${OUT:-$(dirname "$0")}
CACHE=${CACHE:-$HOME/.cache/dssec_jax/ae_cache}
BASE='{"pretrain_epochs": 50, "update_interval": 30, "max_iter": 5000}'
for ds in digits coil20 usps mnist fashion_mnist; do
  sub=""; name=$ds
  if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then sub="--subset=10000"; name=${ds}_10k; fi
  if [ -z "${FIT:-}" ]; then
    python -m studies.choosing_k.criteria --dataset=$ds $sub --seed_list=0,1,2 --cache_dir="$CACHE" \
      --base="$BASE" >> $OUT/criteria_50_epochs_$name.log
  else
    python -m studies.choosing_k.criteria --dataset=$ds $sub --seed_list=0,1,2 --cache_dir="$CACHE" \
      --base="$BASE" --criteria=$FIT --fit=$FIT >> $OUT/fits_50_epochs_$name.log
  fi
done
