#!/usr/bin/env bash
# The main job, on the embedded default model: builds Kiln, writes the tiny
# LLaMA-shaped model (random weights, Hugging Face layout) if it is not
# there yet, compiles it with kiln-compile into an artifact and generates 32
# tokens from it with kiln-run.
#
#   bash scripts/run.sh [kiln-run flags...]      e.g. --temperature 0.8 --seed 3
#   KILN_MODEL=/path/to/model bash scripts/run.sh   another model directory
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${KILN_BUILD_DIR:-$ROOT/build}"
PYTHON="$(command -v /usr/bin/python3 || command -v python3)"
"$ROOT/scripts/build.sh" >&2
OUT="$BUILD_DIR/out"
mkdir -p "$OUT"
MODEL="${KILN_MODEL:-$OUT/tiny-model}"
if [[ -z "${KILN_MODEL:-}" && ! -f "$MODEL/config.json" ]]; then
  "$PYTHON" "$ROOT/python/make_model_dir.py" --preset tiny --out "$MODEL" >&2
fi
ARTIFACT="$OUT/$(basename "$MODEL").kiln"
"$BUILD_DIR/bin/kiln-compile" "$MODEL" -o "$ARTIFACT"
args=("$@")
if ((${#args[@]} == 0)); then args=(--greedy); fi
exec "$BUILD_DIR/bin/kiln-run" "$ARTIFACT" --weights "$MODEL" \
  --prompt-ids 1,2,3,4,5,6,7,8 --max-new-tokens 32 "${args[@]}"
