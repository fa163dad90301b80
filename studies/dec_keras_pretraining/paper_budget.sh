#!/bin/bash
# The DEC-keras pretraining recipe (VarianceScaling(1/3, fan_in, uniform),
# SGD lr 1 momentum 0.9) at the paper's budget (200 epochs, library defaults otherwise)
# against the defaults (Glorot-uniform, Adam 1e-3), IDEC and DSSEC, USPS and COIL-20,
# seeds 0-4, seed-major so that every finished seed completes its pairs.
# Logs paper_budget_<dataset>.log beside this file. The default rows reuse the campaign's cache.
set -euo pipefail
OUT=${OUT:-$(dirname "$0")}
CACHE=${CACHE:-$HOME/.cache/dssec_jax/campaign/paper/ae_cache}
R='"init": "variance_scaling", "pretrain_optimizer": "sgd", "learning_rate": 1.0'
GRID='[{"method": "idec"}, {"method": "idec", '$R'}, {"method": "dssec"}, {"method": "dssec", '$R'}]'
for seed in 0 1 2 3 4; do
  for ds in usps coil20; do
    python -m studies.screen --dataset=$ds --seed_list=$seed --grid="$GRID" \
      --cache_dir=$CACHE >> $OUT/paper_budget_${ds}.log
  done
done
