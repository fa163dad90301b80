#!/usr/bin/env bash
# The prepared GPU check. One script, under 8 minutes
# on a GPU, that prints:
#   1. the device JAX sees;
#   2. the throughput table in float32 and bf16 (benchmarks.throughput);
#   3. a batched sweep of 8 runs (USPS, DSSEC, seeds 0-7, one vmapped program) against the same
#      8 runs one after another, wall time of each;
#   4. a paper-budget MNIST DSSEC fit (200 epochs, 20,000 iterations, tol 0) through
#      experiments.run: wall time and ACC.
# Everything goes to stdout and to $GPU_CHECK_OUT (default benchmarks/results/gpu_check).
# GPU_CHECK_TINY=1 shrinks every budget (digits, a small network, 2 seeds, a few epochs) so
# the script can be tested on a CPU; the figures it then prints mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${GPU_CHECK_OUT:-benchmarks/results/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

if [ -n "${GPU_CHECK_TINY:-}" ]; then
  export DSSEC_BENCH_TINY=1  # the matmul bound in 2 calls (benchmarks/machine.py)
  THROUGHPUT="--n=1024 --dim=32 --hidden=32,32,64 --steps=2 --repeats=1 --update_interval=30"
  echo '{"hidden_dims": [32, 32, 64]}' > "$OUT/tiny_net.json"  # a network of seconds
  NET=("--config=$OUT/tiny_net.json")
  SWEEP_DATA="digits"; SWEEP_BUDGET="--pretrain_epochs=1 --max_iter=30"; SWEEP_SEEDS=2
  FIT_DATA="digits"; FIT_BUDGET="--pretrain_epochs=2 --max_iter=60"
else
  THROUGHPUT="--update_interval=30"
  NET=()
  SWEEP_SEEDS=8
  SWEEP_DATA="usps"; SWEEP_BUDGET="--pretrain_epochs=50 --max_iter=2000"
  FIT_DATA="mnist"; FIT_BUDGET="--pretrain_epochs=200 --max_iter=20000"
fi

secs() { date +%s.%N; }
# run a step with its output in a log; on failure show the log's end and stop
logged() { local log=$1; shift; "$@" > "$log" 2>&1 || { echo "failed: $*"; tail -n 30 "$log"; exit 1; }; }
if [ -z "${GPU_CHECK_TINY:-}" ] && [ ! -d "${DSSEC_DATA_DIR:-}" ]; then
  echo "DSSEC_DATA_DIR must name the folder with USPS and MNIST (e.g. ../shared/data)"; exit 1
fi
elapsed() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

echo "== device"
"$PY" -c "import jax; print(jax.__version__, jax.devices())"

echo "== throughput, float32 and bf16"
"$PY" -m benchmarks.throughput $THROUGHPUT --out="$OUT/throughput_float32.json"
"$PY" -m benchmarks.throughput $THROUGHPUT --precision=bf16 --out="$OUT/throughput_bf16.json"

echo "== $SWEEP_SEEDS runs: one batched program against $SWEEP_SEEDS sequential runs ($SWEEP_DATA, dssec)"
rm -rf "$OUT/sweep_batched" "$OUT/sweep_sequential"
t0=$(secs)
logged "$OUT/sweep_batched.log" "$PY" -m experiments.sweep --datasets="$SWEEP_DATA" \
  --methods=dssec --seeds=$SWEEP_SEEDS $SWEEP_BUDGET "${NET[@]}" --batched --tsne=false --workdir="$OUT/sweep_batched"
t1=$(secs)
logged "$OUT/sweep_sequential.log" "$PY" -m experiments.sweep --datasets="$SWEEP_DATA" \
  --methods=dssec --seeds=$SWEEP_SEEDS $SWEEP_BUDGET "${NET[@]}" --tsne=false --workdir="$OUT/sweep_sequential"
t2=$(secs)
echo "batched $SWEEP_SEEDS runs: $(elapsed "$t0" "$t1") s; sequential $SWEEP_SEEDS runs: $(elapsed "$t1" "$t2") s"

echo "== paper-budget fit ($FIT_DATA, dssec, tol 0)"
rm -rf "$OUT/fit"
t0=$(secs)
logged "$OUT/fit.log" "$PY" -m experiments.run --dataset="$FIT_DATA" --method=dssec \
  $FIT_BUDGET "${NET[@]}" --tol=0 --workdir="$OUT/fit/run" --cache_dir="$OUT/fit/cache"
t1=$(secs)
"$PY" - "$OUT/fit/run/results.json" "$(elapsed "$t0" "$t1")" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["per_seed"][0]
print(f"fit wall {sys.argv[2]} s, ACC {s.get('acc', float('nan')):.4f}, NMI {s.get('nmi', float('nan')):.4f}, "
      f"iterations {s['n_iter']} ({s['stop_reason']}), phases {s['seconds']}")
EOF
echo "== done; logs and JSON in $OUT"
