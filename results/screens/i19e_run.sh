#!/bin/bash
# Issue 19, session 10: the spectral eigengap (k_criterion="eigengap") on the embeddings of
# i19d_run.sh (same datasets, seeds, caches and SEEDS_BIG); logs i19e_<dataset>.log.
CRITERIA=eigengap LOG=i19e exec bash "$(dirname "$0")/i19d_run.sh"
