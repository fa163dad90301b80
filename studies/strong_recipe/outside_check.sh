#!/bin/bash
# The strong recipe against the paper protocol on data outside the tables it was chosen on:
# digits, and the 10-images-per-class subsets of COIL-20 and USPS; DEC, IDEC and DSSEC,
# seeds 0-2, paired (AE+K-means and SAE+K-means are the K-means starts, "km", of IDEC's and
# DSSEC's runs: the same pretraining and the same K-means). Logs <dataset>.log beside this
# file. The DEC rows were added after the others (`bash outside_check.sh dec` runs them
# alone); the full script runs every row.
set -euo pipefail
HERE=$(dirname "$0")
R='"init": "variance_scaling", "pretrain_optimizer": "sgd", "learning_rate": 1.0'
GRID='[{"method": "kmeans"}, {"method": "idec"}, {"method": "idec", '$R'},
 {"method": "dssec"}, {"method": "dssec", '$R', "sparsity_floor": 0.005, "embed_std": "kernel"}'
DEC='{"method": "dec"}, {"method": "dec", '$R'}'
if [ "${1:-}" = dec ]; then GRID="[$DEC]"; else GRID="$GRID, $DEC]"; fi
for ds in "digits" "coil20 --per_class=10" "usps --per_class=10"; do
  name=$(echo $ds | tr -d ' -' | sed 's/per_class=/_c/')
  python -m studies.screen --dataset=$ds --seed_list=0,1,2 --grid="$GRID" >> $HERE/$name.log
done
