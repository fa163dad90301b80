#!/bin/bash
# Issue 19, session 10: the spectral eigengap (k_criterion="eigengap") on the same embeddings
# as i19d_run.sh (200 pretraining epochs; the paper campaign's cached DSSEC autoencoders,
# digits from its own cache); logs i19e_<dataset>.log.
# SEEDS_BIG: the MNIST/Fashion-MNIST seeds whose autoencoders the campaign has made.
set -euo pipefail
OUT=${OUT:-results/screens}
C=$HOME/.cache/dssec_jax
for ds in ${DATASETS:-digits coil20 usps mnist fashion_mnist}; do
  seeds=0,1,2; cache=$C/campaign/paper/ae_cache
  [ $ds = digits ] && cache=$C/ae_cache
  if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then seeds=${SEEDS_BIG:-0}; fi
  python -m experiments.k_selection --dataset=$ds --seed_list=$seeds --cache_dir=$cache \
    --criteria=eigengap >> $OUT/i19e_$ds.log
done
