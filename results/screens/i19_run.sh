#!/bin/bash
# Issue 19: the criteria for choosing k on the pretrained DSSEC embedding (50 pretraining
# epochs, the autoencoders of the issue-14 screens), seeds 0-2; logs i19_<dataset>.log.
# Phase 2 (FIT=<criterion>) fits DSSEC at the chosen and at the true k (i19fit_<dataset>.log).
set -euo pipefail
OUT=${OUT:-results/screens}
CACHE=${CACHE:-$HOME/.cache/dssec_jax/ae_cache}
BASE='{"pretrain_epochs": 50, "update_interval": 30, "max_iter": 5000}'
for ds in digits coil20 usps mnist fashion_mnist; do
  sub=""; name=$ds
  if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then sub="--subset=10000"; name=${ds}_10k; fi
  if [ -z "${FIT:-}" ]; then
    python -m experiments.k_selection --dataset=$ds $sub --seed_list=0,1,2 --cache_dir="$CACHE" \
      --base="$BASE" >> $OUT/i19_$name.log
  else
    python -m experiments.k_selection --dataset=$ds $sub --seed_list=0,1,2 --cache_dir="$CACHE" \
      --base="$BASE" --criteria=$FIT --fit=$FIT >> $OUT/i19fit_$name.log
  fi
done
