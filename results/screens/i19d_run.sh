#!/bin/bash
# Issue 19: Davies-Bouldin and silhouette on the embeddings of the library's default budget
# (200 pretraining epochs; the paper campaign's cached DSSEC autoencoders for COIL-20, USPS,
# MNIST and Fashion-MNIST, a fresh cache for digits); logs i19d_<dataset>.log.
# SEEDS_BIG: the MNIST/Fashion-MNIST seeds whose autoencoders the campaign has made.
# FIT=davies_bouldin: fit DSSEC at the chosen and the true k instead (i19dfit_<dataset>.log;
# DATASETS picks the datasets). CRITERIA and LOG: other criteria into other logs
# (i19e_run.sh: the eigengap into i19e_<dataset>.log).
set -euo pipefail
OUT=${OUT:-results/screens}
C=$HOME/.cache/dssec_jax
for ds in ${DATASETS:-digits coil20 usps mnist fashion_mnist}; do
  seeds=0,1,2; cache=$C/campaign/paper/ae_cache
  [ $ds = digits ] && cache=$C/ae_cache
  if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then seeds=${SEEDS_BIG:-0}; fi
  if [ -z "${FIT:-}" ]; then
    python -m experiments.k_selection --dataset=$ds --seed_list=$seeds --cache_dir=$cache \
      --criteria=${CRITERIA:-davies_bouldin,silhouette} >> $OUT/${LOG:-i19d}_$ds.log
  else
    python -m experiments.k_selection --dataset=$ds --seed_list=$seeds --cache_dir=$cache \
      --criteria=$FIT --fit=$FIT >> $OUT/i19dfit_$ds.log
  fi
done
