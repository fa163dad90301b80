#!/bin/bash
# Davies-Bouldin and silhouette on the embeddings of the library's default budget
# (200 pretraining epochs; the paper campaign's cached DSSEC autoencoders for COIL-20, USPS,
# MNIST and Fashion-MNIST, a fresh cache for digits); logs criteria_default_budget_<dataset>.log.
# SEEDS_BIG: the MNIST/Fashion-MNIST seeds whose autoencoders the campaign has made.
# FIT=davies_bouldin: fit DSSEC at the chosen and the true k instead (fits_default_budget_<dataset>.log;
# DATASETS picks the datasets). CRITERIA and LOG: other criteria into other logs
# (studies/choosing_k/eigengap_default_budget.sh: the eigengap into eigengap_default_budget_<dataset>.log).
set -euo pipefail
OUT=${OUT:-$(dirname "$0")}
C=$HOME/.cache/dssec_jax
for ds in ${DATASETS:-digits coil20 usps mnist fashion_mnist}; do
  seeds=0,1,2; cache=$C/campaign/paper/ae_cache
  [ $ds = digits ] && cache=$C/ae_cache
  if [ $ds = mnist ] || [ $ds = fashion_mnist ]; then seeds=${SEEDS_BIG:-0}; fi
  if [ -z "${FIT:-}" ]; then
    python -m studies.choosing_k.criteria --dataset=$ds --seed_list=$seeds --cache_dir=$cache \
      --criteria=${CRITERIA:-davies_bouldin,silhouette} >> $OUT/${LOG:-criteria_default_budget}_$ds.log
  else
    python -m studies.choosing_k.criteria --dataset=$ds --seed_list=$seeds --cache_dir=$cache \
      --criteria=$FIT --fit=$FIT >> $OUT/fits_default_budget_$ds.log
  fi
done
