#!/bin/bash
# Issue 14, item 6 on MNIST (seed 0). First: why DSSEC's clustering phase added nothing on
# the 300-epoch DEC-keras autoencoder (i14F): the same cached autoencoder with the
# embedding's scale from the kernel rule and with no rescale. Then the recipe at the
# paper's budget (200 epochs) for IDEC and DSSEC, cached with the campaign's autoencoders.
# Session 9 ran the first part only: the second was stopped at DSSEC's pretraining epoch 65
# once the recipe had failed on COIL-20 (i14G); its partial checkpoint stays in the cache.
set -euo pipefail
OUT=${OUT:-results/screens}
C=$HOME/.cache/dssec_jax
R='"init": "variance_scaling", "pretrain_optimizer": "sgd", "learning_rate": 1.0'
python -m experiments.screen --dataset=mnist --seed_list=0 --cache_dir=$C/ae_cache_mnist_recipe \
  --grid='[{"method": "dssec", '"$R"', "pretrain_epochs": 300, "embed_std": "kernel"}, {"method": "dssec", '"$R"', "pretrain_epochs": 300, "embed_std": null}]' \
  >> $OUT/i14H_mnist_scale.log
python -m experiments.screen --dataset=mnist --seed_list=0 --cache_dir=$C/campaign/paper/ae_cache \
  --grid='[{"method": "dssec", '"$R"'}, {"method": "idec", '"$R"'}]' >> $OUT/i14H_mnist_recipe200.log
