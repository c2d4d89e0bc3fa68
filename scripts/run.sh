#!/usr/bin/env bash
# The main job, on the embedded default model: builds Kiln, then compiles the
# built-in tiny decoder (prefill and decode step) through the whole CPU
# pipeline to LLVM IR and prints a summary. Extra arguments go to
# kiln-compile (e.g. --builtin llama3-8b, --dtype bf16, --emit llm).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${KILN_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/build.sh" >&2
mkdir -p "$BUILD_DIR/out"
exec "$BUILD_DIR/bin/kiln-compile" -o "$BUILD_DIR/out/model.ll" "$@"
