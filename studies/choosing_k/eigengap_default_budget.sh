#!/bin/bash
# The spectral eigengap (k_criterion="eigengap") on the embeddings of
# studies/choosing_k/criteria_default_budget.sh (same datasets, seeds, caches and SEEDS_BIG); logs eigengap_default_budget_<dataset>.log.
CRITERIA=eigengap LOG=eigengap_default_budget exec bash "$(dirname "$0")/criteria_default_budget.sh"
