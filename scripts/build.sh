#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and builds everything: tools, libraries, tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${KILN_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/setup.sh"
echo "[build] building in $BUILD_DIR"
ninja -C "$BUILD_DIR" -j"${KILN_JOBS:-2}"
