#!/bin/bash
# Does the harsh verdict's DSSEC-IDEC gap come from the sparse autoencoder or from the
# embedding-scale rule? Under the strong recipe the two differ in both: DSSEC's embedding
# is scaled by the kernel rule, IDEC's to std 1.5. Each is rerun with the other's rule,
# on the autoencoders the harsh campaign cached (only the clustering phase runs), at the
# clean data and each kind's strongest level, seeds 0..SEEDS-1 of DATASETS. Run from the
# repository root with the data in $DSSEC_DATA_DIR, after `dssec-campaign --plan=harsh`
# has pretrained those seeds (a rerun resumes, skipping finished seeds); then
# `python -m studies.harsh_scale_rule_control.summarize`. Ran as SEEDS=3 (both
# datasets), then SEEDS=5 DATASETS=coil20, then SEEDS=5 DATASETS=usps.
set -euo pipefail
OUT=$(dirname "$0")
CAMPAIGN=${CAMPAIGN:-$HOME/.cache/dssec_jax/campaign}
WORK=${WORK:-$HOME/.cache/dssec_jax/studies/harsh_scale_rule_control}
for ds in ${DATASETS:-usps coil20}; do
  for cond in clean gaussian:0.3 noise_features:1 occlusion:0.4 salt_pepper:0.3; do
    corrupt=(); name=$ds
    if [ $cond != clean ]; then corrupt=(--corrupt=$cond); name=${ds}_${cond/:/}; fi
    for run in "idec kernel" "dssec 1.5"; do
      set -- $run
      python -m experiments.run --dataset=$ds "${corrupt[@]}" --recipe=strong --method=$1 \
        --embed_std=$2 --seeds=${SEEDS:-5} --cache_dir="$CAMPAIGN/harsh/ae_cache" \
        --workdir="$WORK/${name}_$1_embed_std$2" >> "$OUT/screen.log" 2>&1
    done
  done
done
