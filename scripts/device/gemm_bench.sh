#!/usr/bin/env bash
# Prefill GEMM throughput on the GPU machine (the GEMM issue's benchmark):
# the Llama-3-8B-shaped model's projections at 512 and 2048 prompt tokens
# (prefill launches of at most 1024 tokens), for 1 to 4 software-pipeline
# stages and without the swizzle, next to cuBLAS (PyTorch bf16 matmul).
# Through the device tool, after scripts/device/prepare.sh here:
#
#   run(command="bash scripts/device/gemm_bench.sh", carry=["build/device"])
#
# Reuses /tmp/kiln-8b if scripts/device/bench.sh wrote it (else writes the
# 16 GB of weights first); prints the table of benchmarks/gpu_gemm_bench.py
# and writes it, with the JSON, to $OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEV="$ROOT/build/device"
OUT="${OUT:-/tmp/kiln-device-out}"
mkdir -p "$OUT"
if [[ ! -d "$DEV/artifacts-$(cat "$DEV/ARCH" 2>/dev/null)/gemm" ]]; then
  echo "gemm_bench: no GEMM variants in $DEV: run scripts/device/prepare.sh first and carry build/device" >&2
  exit 2
fi
ARCH="$(cat "$DEV/ARCH")"
export LD_LIBRARY_PATH="$DEV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{
  echo "commit $(cat "$DEV/COMMIT" 2>/dev/null), artifacts for $ARCH"
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
  python3 "$ROOT/benchmarks/gpu_gemm_bench.py" --kiln-run "$DEV/kiln-run" \
    --artifacts "$DEV/artifacts-$ARCH/gemm" \
    --plan "$DEV/artifacts-$ARCH/gemm/llama3-8b.plan" \
    --work /tmp/kiln-8b --shape llama3-8b --tokens 512,2048 \
    --json "$OUT/gemm-8b.json"
} 2>&1 | tee "$OUT/gemm.txt"
# Shared-memory bank conflicts of the prefill GEMM kernels (ncu), swizzled
# (the default) and not: a 512-token prefill, the first 16 kernels whose
# name says prefill.
PROMPT="$(python3 -c 'print(",".join(["1"] * 512))')"
for variant in stages2 stages2-noswizzle; do
  echo "== ncu: $variant" | tee -a "$OUT/gemm-ncu.txt"
  ncu --kernel-name regex:kiln_layer_prefill_kernel --launch-count 16 \
    --metrics l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,gpu__time_duration.sum \
    "$DEV/kiln-run" "$DEV/artifacts-$ARCH/gemm/$variant.kiln" --weights /tmp/kiln-8b \
    --prompt-ids "$PROMPT" --max-new-tokens 1 --max-context 513 --greedy --quiet \
    --no-cuda-graph 2>&1 | grep -E "kiln_layer_prefill_kernel|bank_conflicts|wavefronts|duration" \
    | tee -a "$OUT/gemm-ncu.txt" || true
done
