#!/usr/bin/env bash
# Prepares everything the GPU machine needs, here (it has no MLIR/LLVM and
# cannot compile): builds Kiln, then fills build/device/ with
#   kiln-run, kiln-tokenize and KilnRuntimeTests, and the shared libraries they need
#   beyond the base system (lib/);
#   artifacts-ARCH/CONFIG.kiln for every end-to-end config, tiny.kiln and
#   llama3-8b.kiln (bench.sh); artifacts-ARCH-bf16/ for the bf16 checks;
#   the python/ helpers the validation runs.
# Then, through the device tool, from the repository root:
#   run(command="bash scripts/device/validate.sh", carry=["build/device"])
#
#   bash scripts/device/prepare.sh [ARCH]      (default sm_90)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARCH="${1:-sm_90}"
BUILD="${KILN_BUILD_DIR:-$ROOT/build}"
PY=/usr/bin/python3
BF16_CONFIGS="gqa mha odd mistral-w3 llama3-rope qwen2 qwen3"
"$ROOT/scripts/build.sh" >&2
DEV="$BUILD/device"
rm -rf "$DEV"
mkdir -p "$DEV/lib" "$DEV/artifacts-$ARCH" "$DEV/models"
cp "$BUILD/bin/kiln-run" "$BUILD/bin/kiln-tokenize" "$BUILD/bin/KilnRuntimeTests" "$DEV/"
# Libraries the runtime links that a bare machine may lack.
for bin in "$DEV/kiln-run" "$DEV/kiln-tokenize" "$DEV/KilnRuntimeTests"; do
  ldd "$bin" | awk '/libpcre2|libutf8proc|libgtest/ {print $3}' |
    xargs -r -I{} cp -L {} "$DEV/lib/"
done
# One artifact per end-to-end config (the artifact depends only on
# config.json; e2e_check.py and hf_check.py regenerate the same weights
# from their seeds on the GPU machine).
CONFIGS=$($PY -c "import sys; sys.path.insert(0, '$ROOT/python'); \
from e2e_check import CONFIG_ORDER; print(' '.join(CONFIG_ORDER))")
for c in $CONFIGS; do
  KILN_ROOT="$ROOT" $PY - "$c" "$DEV/models/$c" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ.get("KILN_ROOT", "."), "python"))
import make_model_dir as m
cfg, wdtype, shards = m.E2E_CONFIGS[sys.argv[1]]
os.makedirs(sys.argv[2], exist_ok=True)
import json
json.dump(m.hf_config(cfg, wdtype), open(os.path.join(sys.argv[2], "config.json"), "w"))
PYEOF
  "$BUILD/bin/kiln-compile" "$DEV/models/$c" --target cuda --arch "$ARCH" \
    -o "$DEV/artifacts-$ARCH/$c.kiln" --quiet >/dev/null
done
"$BUILD/bin/kiln-compile" --builtin tiny --target cuda --arch "$ARCH" \
  -o "$DEV/artifacts-$ARCH/tiny.kiln" --quiet >/dev/null
# bf16 compute (f32 accumulation) for the configs validate.sh checks in bf16.
mkdir -p "$DEV/artifacts-$ARCH-bf16"
for c in $BF16_CONFIGS; do
  "$BUILD/bin/kiln-compile" "$DEV/models/$c" --target cuda --arch "$ARCH" \
    --dtype bf16 -o "$DEV/artifacts-$ARCH-bf16/$c.kiln" --quiet >/dev/null
done
# The Llama-3-8B-shaped model (bf16) for scripts/device/bench.sh; its
# weights are written on the GPU machine.
"$BUILD/bin/kiln-compile" --builtin llama3-8b --target cuda --arch "$ARCH" \
  -o "$DEV/artifacts-$ARCH/llama3-8b.kiln" --quiet >/dev/null
# The prefill GEMM sweep (scripts/device/gemm_bench.sh): software-pipeline
# stages 1, 3, 4 and 2 without the swizzle, next to the default above (2
# stages, swizzled); one launch plan serves them all (same kernels).
mkdir -p "$DEV/artifacts-$ARCH/gemm"
cp "$DEV/artifacts-$ARCH/llama3-8b.kiln" "$DEV/artifacts-$ARCH/gemm/stages2.kiln"
for variant in "stages1 --gpu-pipeline-stages 1" "stages3 --gpu-pipeline-stages 3" \
               "stages4 --gpu-pipeline-stages 4" "stages2-noswizzle --gpu-swizzle=false"; do
  set -- $variant
  name="$1"; shift
  "$BUILD/bin/kiln-compile" --builtin llama3-8b --target cuda --arch "$ARCH" "$@" \
    -o "$DEV/artifacts-$ARCH/gemm/$name.kiln" --quiet >/dev/null
done
"$BUILD/bin/kiln-compile" --builtin llama3-8b --target cuda --arch "$ARCH" \
  --emit plan -o "$DEV/artifacts-$ARCH/gemm/llama3-8b.plan" --quiet >/dev/null
rm -rf "$DEV/models"
echo "$ARCH" > "$DEV/ARCH"
git -C "$ROOT" rev-parse --short HEAD > "$DEV/COMMIT" 2>/dev/null || true
du -sh "$DEV" >&2
echo "prepared $DEV for $ARCH ($(ls "$DEV/artifacts-$ARCH" | wc -l) artifacts)" >&2
