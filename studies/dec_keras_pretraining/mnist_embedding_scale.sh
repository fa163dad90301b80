#!/bin/bash
# On MNIST (seed 0). First: why DSSEC's clustering phase added nothing on
# the 300-epoch DEC-keras autoencoder (full_mnist_300_epochs.log): the same cached autoencoder with the
# embedding's scale from the kernel rule and with no rescale. Then the recipe at the
# paper's budget (200 epochs) for IDEC and DSSEC, cached with the campaign's autoencoders.
# The first run ran the first part only: the second was stopped at DSSEC's pretraining epoch 65
# once the recipe had failed on COIL-20 (paper_budget.sh); its partial checkpoint stays in the cache.
set -euo pipefail
OUT=${OUT:-$(dirname "$0")}
C=$HOME/.cache/dssec_jax
R='"init": "variance_scaling", "pretrain_optimizer": "sgd", "learning_rate": 1.0'
python -m studies.screen --dataset=mnist --seed_list=0 --cache_dir=$C/ae_cache_mnist_recipe \
  --grid='[{"method": "dssec", '"$R"', "pretrain_epochs": 300, "embed_std": "kernel"}, {"method": "dssec", '"$R"', "pretrain_epochs": 300, "embed_std": null}]' \
  >> $OUT/mnist_embedding_scale.log
python -m studies.screen --dataset=mnist --seed_list=0 --cache_dir=$C/campaign/paper/ae_cache \
  --grid='[{"method": "dssec", '"$R"'}, {"method": "idec", '"$R"'}]' >> $OUT/mnist_paper_budget.log
