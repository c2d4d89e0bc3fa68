#!/usr/bin/env bash
# The GPU validation, in one command on the GPU machine (through the device
# tool, from the repository root, after scripts/device/prepare.sh here):
#
#   run(command="bash scripts/device/validate.sh", carry=["build/device"])
#
# Builds nothing. Runs the runtime's CUDA driver tests, the end-to-end
# configs on the GPU against the float64 numpy reference
# (python/e2e_check.py --prebuilt; also without CUDA graphs, with a long
# prompt, and in bf16) and against transformers
# (python/hf_check.py), the tokenizers against Hugging Face's `tokenizers`
# (python/hf_tokenizer_check.py), and compute-sanitizer memcheck and racecheck on a
# prefill plus 32 decode steps of the tiny model; prints a table and writes
# the logs and the table to $OUT (at most 8 files come back).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEV="$ROOT/build/device"
OUT="${OUT:-/tmp/kiln-device-out}"
mkdir -p "$OUT"
if [[ ! -x "$DEV/kiln-run" ]]; then
  echo "validate: no $DEV/kiln-run: run scripts/device/prepare.sh first and carry build/device" >&2
  exit 2
fi
ARCH="$(cat "$DEV/ARCH")"
export LD_LIBRARY_PATH="$DEV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PY="$(command -v python3)"
declare -A RESULT
step() { # name, log file, command...
  local name="$1" log="$2"
  shift 2
  echo "== $name" | tee -a "$OUT/$log"
  if "$@" >>"$OUT/$log" 2>&1; then RESULT[$name]=PASS; else RESULT[$name]=FAIL; fi
  tail -5 "$OUT/$log"
}

{
  echo "commit $(cat "$DEV/COMMIT" 2>/dev/null), artifacts for $ARCH"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
} | tee "$OUT/device.txt"

step driver-tests runtime.log "$DEV/KilnRuntimeTests" --gtest_filter='CudaDriver*:SizeExpr*'
step e2e-numpy e2e.log "$PY" "$ROOT/python/e2e_check.py" --kiln-run "$DEV/kiln-run" \
  --prebuilt "$DEV/artifacts-$ARCH" --target cuda --tokens 16
# The same without CUDA graphs (every kernel launched), longer sequences
# (several key tiles and splits of the flash-attention kernel), and bf16
# compute (its own error bound; see python/e2e_check.py).
step e2e-no-graph e2e.log "$PY" "$ROOT/python/e2e_check.py" --kiln-run "$DEV/kiln-run" \
  --prebuilt "$DEV/artifacts-$ARCH" --target cuda --tokens 16 \
  --configs gqa,mistral-w3,qwen3 --run-flag=--no-cuda-graph
step e2e-long e2e.log "$PY" "$ROOT/python/e2e_check.py" --kiln-run "$DEV/kiln-run" \
  --prebuilt "$DEV/artifacts-$ARCH" --target cuda --prompt-len 144 --tokens 48 \
  --configs mha,gqa,odd,mistral,mistral-w3,qwen3
step e2e-bf16 e2e.log "$PY" "$ROOT/python/e2e_check.py" --kiln-run "$DEV/kiln-run" \
  --prebuilt "$DEV/artifacts-$ARCH-bf16" --target cuda --tokens 16 \
  --dtype bf16 --rel-rms 0.03 --atol 0.05 --rtol 0 \
  --configs gqa,mha,odd,mistral-w3,llama3-rope,qwen2,qwen3
step e2e-transformers hf.log "$PY" "$ROOT/python/hf_check.py" --kiln-run "$DEV/kiln-run" \
  --prebuilt "$DEV/artifacts-$ARCH" --tokens 16

step tokenizers tokenizers.log "$PY" "$ROOT/python/hf_tokenizer_check.py" \
  --kiln-tokenize "$DEV/kiln-tokenize"

# compute-sanitizer on one run: the tiny built-in model, 8-token prompt,
# 32 decode steps (random weights written here).
TINY="$OUT/tiny-model"
"$PY" "$ROOT/python/make_model_dir.py" --preset tiny --out "$TINY" >/dev/null
SAN="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
for tool in memcheck racecheck; do
  step "sanitizer-$tool" sanitizer.log "$SAN" --tool "$tool" --error-exitcode 1 \
    "$DEV/kiln-run" "$DEV/artifacts-$ARCH/tiny.kiln" --weights "$TINY" \
    --prompt-ids 1,2,3,4,5,6,7,8 --max-new-tokens 33 --greedy --print-ids
done
rm -rf "$TINY"

{
  echo
  printf '%-22s %s\n' step result
  for name in driver-tests e2e-numpy e2e-no-graph e2e-long e2e-bf16 e2e-transformers tokenizers sanitizer-memcheck sanitizer-racecheck; do
    printf '%-22s %s\n' "$name" "${RESULT[$name]:-SKIPPED}"
  done
} | tee "$OUT/summary.txt"
for name in "${!RESULT[@]}"; do [[ "${RESULT[$name]}" == PASS ]] || exit 1; done
