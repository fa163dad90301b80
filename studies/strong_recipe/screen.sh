#!/bin/bash
# The strong preset's settings, screened on COIL-20 and USPS (seeds 0-2, paired): DEC-keras's
# pretraining (VarianceScaling(1/3), SGD at learning rate 1, momentum 0.9) for the plain and
# the sparse autoencoder; the sparse one with the KL's floor at beta 1 against beta 0.1
# without it; the embedding's scale 1.5 / the kernel rule / none.
# Logs screen_<dataset>.log beside this file; autoencoders cached under ~/.cache/dssec_jax/lab.
set -euo pipefail
HERE=$(dirname "$0")
CACHE=${CACHE:-$HOME/.cache/dssec_jax/lab/strong_ae}
R='"init": "variance_scaling", "pretrain_optimizer": "sgd", "learning_rate": 1.0'
F='"sparsity_floor": 0.005'
GRID='[{"method": "idec", '$R'}, {"method": "idec", '$R', "embed_std": "kernel"}, {"method": "idec", '$R', "embed_std": null},
 {"method": "dssec", '$R', '$F'}, {"method": "dssec", '$R', '$F', "embed_std": "kernel"}, {"method": "dssec", '$R', '$F', "embed_std": null},
 {"method": "dssec", '$R', "beta": 0.1}, {"method": "dssec", '$R', "beta": 0.1, "embed_std": "kernel"}]'
for seed in ${SEEDS:-0 1 2}; do
  for ds in ${DATASETS:-coil20 usps}; do
    python -m studies.screen --dataset=$ds --seed_list=$seed --grid="$GRID" \
      --cache_dir=$CACHE >> $HERE/screen_$ds.log
  done
done
