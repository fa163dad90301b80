#!/bin/bash
# The classic stacked sparse autoencoder given a fair trial: sigmoid units
# in every hidden layer, the KL penalty on all three, greedy layer-wise pretraining (50
# epochs per layer, then 50 of fine-tuning), Adam at 1e-3 and 1e-2, and the classic beta 3.
# Same base as studies/sparsity_penalty_form/screen.sh (50 epochs, interval 30, up to 5,000 iterations), seeds 0-2.
set -euo pipefail
OUT=${OUT:-$(dirname "$0")}
CACHE=${CACHE:-$HOME/.cache/dssec_jax/ae_cache}
C='"pretrain": "stacked", "layerwise_epochs": 50, "activation": "sigmoid", "sparse_activation": "sigmoid", "sparse_layers": [0, 1, 2]'
GRID='[{"method": "dssec"}, {"method": "dssec", '$C'}, {"method": "dssec", '$C', "learning_rate": 0.01}, {"method": "dssec", '$C', "learning_rate": 0.01, "beta": 3.0}]'
BASE='{"pretrain_epochs": 50, "update_interval": 30, "max_iter": 5000}'
for seed in 0 1 2; do
  for ds in coil20 usps; do
    python -m studies.screen --dataset=$ds --seed_list=$seed --cache_dir="$CACHE" \
      --base="$BASE" --grid="$GRID" >> $OUT/screen_$ds.log
  done
done
