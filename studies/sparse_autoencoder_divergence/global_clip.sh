#!/bin/bash
# DSSEC's pretraining with the DEC-keras recipe (SGD lr 1, momentum 0.9,
# VarianceScaling) turns non-finite on COIL-20 at fine-tuning epoch 2 or 3 (studies/dec_keras_pretraining/paper_budget.sh). The same
# recipe with the gradient clipped to a global norm, for DSSEC and IDEC, COIL-20 seeds 0-1.
set -euo pipefail
OUT=${OUT:-$(dirname "$0")}
CACHE=${CACHE:-$HOME/.cache/dssec_jax/campaign/paper/ae_cache}
R='"init": "variance_scaling", "pretrain_optimizer": "sgd", "learning_rate": 1.0'
for seed in ${SEEDS:-0 1}; do
  python -m studies.screen --dataset=coil20 --seed_list=$seed --cache_dir=$CACHE \
    --grid='[{"method": "dssec", '"$R"', "pretrain_clip_norm": 1.0}, {"method": "idec", '"$R"', "pretrain_clip_norm": 1.0}]' \
    >> $OUT/coil20_recipe_global_clip.log
done
