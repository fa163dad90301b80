#!/bin/bash
# The sparse autoencoder under the strong recipe on MNIST and Fashion-MNIST: finite on
# seeds 3 and 4 too? The strong table (results/strong) holds seeds 0-2 of both, so this
# trains only 3 and 4: SAE+K-means through the strong plan's own settings, exported to
# finite_seeds/ beside this file (each seed's result.json: ACC of K-means on the
# embedding, or the stop reason if the pretraining turned non-finite). Log finite.log
# beside this file; checkpoints under ~/.cache/dssec_jax/finite_check (resumable: run it
# again after an interruption). Run from the repository root.
set -euo pipefail
HERE=$(dirname "$0")
python -m experiments.campaign --plan=strong --datasets=mnist,fashion_mnist \
  --methods=sae_kmeans --seeds=5 --only_seeds=3 --only_seeds=4 \
  --results="$HERE/finite_seeds" --cache_dir="$HOME/.cache/dssec_jax/finite_check" \
  >> "$HERE/finite.log" 2>&1
