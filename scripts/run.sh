#!/usr/bin/env bash
# The main job, on the embedded default model: builds Kiln, compiles the
# trained demo model (models/kiln-demo: a 3.7M-parameter Llama trained on the
# King James Bible by python/train_demo_model.py) into an artifact with
# kiln-compile, and lets kiln-run write a passage from a text prompt.
#
#   bash scripts/run.sh [kiln-run flags...]    e.g. --temperature 0.8 --seed 3
#   KILN_PROMPT="And Jesus said" bash scripts/run.sh
#   KILN_MODEL=/path/to/model bash scripts/run.sh   another model directory
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${KILN_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/build.sh" >&2
OUT="$BUILD_DIR/out"
mkdir -p "$OUT"
MODEL="${KILN_MODEL:-$ROOT/models/kiln-demo}"
PROMPT="${KILN_PROMPT:-The LORD is my shepherd}"
ARTIFACT="$OUT/$(basename "$MODEL").kiln"
"$BUILD_DIR/bin/kiln-compile" "$MODEL" -o "$ARTIFACT"
args=("$@")
if ((${#args[@]} == 0)); then args=(--greedy); fi
exec "$BUILD_DIR/bin/kiln-run" "$ARTIFACT" --weights "$MODEL" \
  --prompt "$PROMPT" --max-new-tokens 96 "${args[@]}"
