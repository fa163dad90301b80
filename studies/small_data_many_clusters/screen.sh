#!/bin/bash
# Small data with many clusters (10 images per class of COIL-20 and USPS).
# Library defaults (paper budget) except the overrides; logs screen_<dataset>_10_per_class.log beside this file.
set -euo pipefail
OUT=${OUT:-$(dirname "$0")}
for ds in coil20 usps; do
  n=$([ $ds = coil20 ] && echo 200 || echo 100)
  GRID='[{"method": "kmeans"}, {"method": "idec", "batch_size": '$n'}, {"method": "dssec", "batch_size": '$n'}, {"method": "idec", "batch_size": 32}, {"method": "dssec", "batch_size": 32}, {"method": "dssec", "batch_size": '$n', "pretrain_epochs": 2000}, {"method": "dssec", "batch_size": 32, "max_iter": 2000}]'
  python -m studies.screen --dataset=$ds --per_class=10 --seed_list=0,1,2 --grid="$GRID" \
    >> $OUT/screen_${ds}_10_per_class.log
done
