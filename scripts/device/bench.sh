#!/usr/bin/env bash
# Decode throughput on the GPU machine next to the bandwidth limit (the GPU
# issue's acceptance number): a Llama-3-8B-shaped model, random bf16
# weights, one sequence, 448-token prompt and 64 decode steps (context up
# to 512), with and without CUDA-graph replay. Through the device tool,
# after scripts/device/prepare.sh here:
#
#   run(command="bash scripts/device/bench.sh", carry=["build/device"])
#
# Writes the 16 GB of weights to /tmp/kiln-8b there (about a minute),
# prints the table of benchmarks/gpu_decode_bench.py and writes it, with
# the JSON, to $OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEV="$ROOT/build/device"
OUT="${OUT:-/tmp/kiln-device-out}"
mkdir -p "$OUT"
if [[ ! -f "$DEV/ARCH" ]]; then
  echo "bench: no $DEV: run scripts/device/prepare.sh first and carry build/device" >&2
  exit 2
fi
ARCH="$(cat "$DEV/ARCH")"
export LD_LIBRARY_PATH="$DEV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{
  echo "commit $(cat "$DEV/COMMIT" 2>/dev/null), artifacts for $ARCH"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv,noheader
  python3 "$ROOT/benchmarks/gpu_decode_bench.py" --kiln-run "$DEV/kiln-run" \
    --artifact "$DEV/artifacts-$ARCH/llama3-8b.kiln" --work /tmp/kiln-8b \
    --shape llama3-8b --context 512 --decode 64 --json "$OUT/bench-8b.json"
} 2>&1 | tee "$OUT/bench.txt"
# Per-kernel times of the same model (kiln-run --profile-kernels: cuEvents
# around every launch, graphs off): the 448-token prefill (its GEMMs: M =
# 448, TFLOP/s = 2 M N K / time) and 8 decode steps.
PROMPT="$(python3 -c 'print(",".join(["1"] * 448))')"
"$DEV/kiln-run" "$DEV/artifacts-$ARCH/llama3-8b.kiln" --weights /tmp/kiln-8b \
  --prompt-ids "$PROMPT" --max-new-tokens 9 --max-context 512 --greedy \
  --profile-kernels > /dev/null 2> "$OUT/kernels-8b.txt" || true
tail -n +1 "$OUT/kernels-8b.txt" | grep -A 200 "kernel times" | head -80
