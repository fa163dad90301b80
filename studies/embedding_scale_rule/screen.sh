#!/bin/bash
# The kernel-scale screen: embed_std="kernel" on the four datasets (on the autoencoders cached by
# studies/sparsity_penalty_form/screen.sh, so only the clustering phase reruns), and DEC-keras's pretraining recipe on
# MNIST-10k. Run from the repository root with the data in $DSSEC_DATA_DIR; it ran on a
# snapshot of commit f6ca618 (recipe: seeds 0-2; seeds 3-4 were stopped).
set -euo pipefail
F=ratio
BASE='{"pretrain_epochs": 50, "update_interval": 30, "max_iter": 5000}'
OUT=$(dirname "$0")
CACHE=${CACHE:-$HOME/.cache/dssec_jax/ae_cache}
KERNEL="[{\"method\": \"idec\", \"embed_std\": \"kernel\"}, {\"method\": \"dssec\", \"sparsity_form\": \"$F\", \"embed_std\": \"kernel\"}]"
RECIPE="[{\"method\": \"idec\", \"init\": \"variance_scaling\", \"pretrain_optimizer\": \"sgd\", \"learning_rate\": 1.0}, {\"method\": \"dssec\", \"sparsity_form\": \"$F\", \"init\": \"variance_scaling\", \"pretrain_optimizer\": \"sgd\", \"learning_rate\": 1.0}, {\"method\": \"idec\", \"init\": \"variance_scaling\"}]"
for seed in 0 1 2 3 4; do
  for ds in coil20 usps mnist fashion_mnist; do
    sub=""; name=$ds
    if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then sub="--subset=10000"; name=${ds}_10k; fi
    python -m studies.screen --dataset=$ds $sub --seed_list=$seed --cache_dir="$CACHE" \
      --base="$BASE" --grid="$KERNEL" >> $OUT/screen_$name.log
  done
  if [ $seed -le 2 ]; then
    python -m studies.screen --dataset=mnist --subset=10000 --seed_list=$seed --cache_dir="$CACHE" \
      --base="$BASE" --grid="$RECIPE" >> $OUT/../dec_keras_pretraining/subset_mnist_10k.log
  fi
done
