#!/usr/bin/env bash
# The CPU speed suite, in the order the README's Speed section quotes it. Run it on an
# otherwise idle machine (about 15 minutes on 2 cores); every step records the processor
# and its own float32 and bf16 matmul rates beside its figures:
#   1. throughput against a PyTorch loop, float32 and bf16 (torch.autocast), side by side;
#   2. bf16 training steps with three backward passes (benchmarks.bf16_backward), and where a
#      step's time goes (benchmarks.bottleneck);
#   3. the persistent compilation cache (benchmarks.compile_cache);
#   4. a paper-budget MNIST DSSEC run projected from a slice, float32 and bf16;
#   5. time per epoch and peak memory at 10,000 to 1,000,000 samples (benchmarks.scaling).
# JSON goes to benchmarks/results/, the tables to stdout and benchmarks/results/cpu_check.txt. Needs DSSEC_DATA_DIR (MNIST) and,
# for step 1, PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
R=benchmarks/results
export PYTHONUNBUFFERED=1
if [ ! -d "${DSSEC_DATA_DIR:-}" ]; then
  echo "DSSEC_DATA_DIR must name the folder with MNIST (e.g. ../shared/data)"; exit 1
fi
"$PY" -c "import torch" 2>/dev/null || { echo "step 1 needs PyTorch: pip install torch"; exit 1; }

exec > >(tee $R/cpu_check.txt)  # the tables; JAX's log lines stay on stderr
echo "== 1. throughput against PyTorch, float32 then bf16"
"$PY" -m benchmarks.throughput --compare_torch --out=$R/throughput.json
"$PY" -m benchmarks.throughput --compare_torch --precision=bf16 --out=$R/throughput_bf16.json
echo "== 2. bf16 backward passes"
"$PY" -m benchmarks.bf16_backward --rounds=2
"$PY" -m benchmarks.bottleneck
echo "== 3. compilation cache"
"$PY" -m benchmarks.compile_cache
echo "== 4. paper-budget MNIST run, projected, float32 then bf16"
"$PY" -m benchmarks.paper_run --out=$R/paper_run/float32.json
"$PY" -m benchmarks.paper_run --precision=bf16 --out=$R/paper_run/bf16.json
echo "== 5. scaling to a million samples"
"$PY" -m benchmarks.scaling
echo "== done"
