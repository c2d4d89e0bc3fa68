#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test
# (the lit/FileCheck suite and the GoogleTest unit tests) through CTest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${KILN_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/build.sh"
cd "$BUILD_DIR"
ctest --output-on-failure -j"${KILN_JOBS:-2}"
