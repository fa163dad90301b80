#!/bin/bash
# Does DEC-keras's gentler clustering phase keep the strong recipe's K-means start on
# Fashion-MNIST? At the strong recipe our clustering phase (Adam 1e-3, target refresh every
# 30 iterations, tol 0.1 %) lowers the start on every seed for DEC and IDEC. DEC-keras's own
# phase: SGD at learning rate 0.01 with momentum 0.9, refresh every 140 iterations on MNIST
# and Fashion-MNIST, tol 0.1 %. Same pretrained autoencoders as the strong table (its cache),
# so each run pairs with the committed result of its seed in results/strong.
# Log screen_<dataset>.log beside this file. Run from the repository root.
set -euo pipefail
HERE=$(dirname "$0")
CACHE=${CACHE:-$HOME/.cache/dssec_jax/campaign/strong/ae_cache}
R='"init": "variance_scaling", "pretrain_optimizer": "sgd", "learning_rate": 1.0'
S='"sparsity_floor": 0.005, "embed_std": "kernel"'
C='"cluster_optimizer": "sgd", "cluster_learning_rate": 0.01, "momentum": 0.9, "update_interval": 140'
GRID=${GRID:-'[{"method": "dec", '$R', '$C'}, {"method": "idec", '$R', '$C'}, {"method": "dssec", '$R', '$S', '$C'}]'}
for seed in ${SEEDS:-2}; do
  for ds in ${DATASETS:-fashion_mnist}; do
    python -m studies.screen --dataset=$ds --seed_list=$seed --grid="$GRID" \
      --cache_dir=$CACHE >> $HERE/screen_$ds.log
  done
done
