#!/bin/bash
# Does retraining give the committed tables' results? Reruns COIL-20 seed 0 of
# SAE+K-means, IDEC and DSSEC through the strong plan, and of AE+K-means and SAE+K-means
# through the paper plan, with fresh caches (no pretraining reused), and compares labels
# and ACC with the committed ones. Log check.log beside this file (what it found, and on
# which processor: NOTES.md). Run from the repository root.
set -euo pipefail
HERE=$(dirname "$0")
OUT=${OUT:-$HOME/.cache/dssec_jax/strong_reproduces}
rm -rf "$OUT"
python -m experiments.campaign --plan=strong --datasets=coil20 --methods=sae_kmeans,idec,dssec \
  --only_seeds=0 --results="$OUT/results" --cache_dir="$OUT/cache" > "$HERE/check.log" 2>&1
python -m experiments.campaign --plan=paper --datasets=coil20 --methods=ae_kmeans,sae_kmeans \
  --only_seeds=0 --results="$OUT/paper" --cache_dir="$OUT/cache" >> "$HERE/check.log" 2>&1
python -m studies.strong_table_reproduces.compare "$OUT/results" strong >> "$HERE/check.log" 2>&1
python -m studies.strong_table_reproduces.compare "$OUT/paper" paper >> "$HERE/check.log" 2>&1
