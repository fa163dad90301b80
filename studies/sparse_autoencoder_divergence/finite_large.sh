#!/bin/bash
# The sparse autoencoder under the strong recipe on MNIST and Fashion-MNIST, seeds 0-4:
# finite on every seed? (The strong table runs 3 seeds of each; seeds 0-2 come from its
# campaign's cache, same key, and 3-4 are trained here.) SAE+K-means, so each seed also
# reports the K-means ACC of its embedding. Logs finite_<dataset>.log beside this file;
# run directories under ~/.cache/dssec_jax/finite_check (resumable).
set -euo pipefail
HERE=$(dirname "$0")
CACHE=${CACHE:-$HOME/.cache/dssec_jax/campaign/strong/ae_cache}
for ds in mnist fashion_mnist; do
  python -m experiments.run --dataset=$ds --method=sae_kmeans --recipe=strong --seeds=5 \
    --cache_dir="$CACHE" --workdir="$HOME/.cache/dssec_jax/finite_check/$ds" \
    >> $HERE/finite_$ds.log 2>&1
done
